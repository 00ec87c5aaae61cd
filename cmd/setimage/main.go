// Command setimage pins a stack to an immutable image: it sets `image` in Pulumi.<stack>.yaml to
// repo@sha256:<digest>, keeps the human tag in a comment on the same line, and leaves every other
// line of the file as it was. It edits text only; resolving a tag to a digest happens where the
// registry is reachable (the release workflow).
//
//	go run ./cmd/setimage --stack dev --image 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2@sha256:<digest>
//	go run ./cmd/setimage --stack prod --from dev    # promotion: prod gets exactly dev's image
//	go run ./cmd/setimage --stack prod --arch        # the CPU architecture the stack's instances need
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/acme/ecs-api/internal/stackfile"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run returns 0 on success, 1 when the edit is refused, 2 on bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("setimage", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", ".", "the project directory, with Pulumi.yaml and the stack files")
	stack := flags.String("stack", "", "the stack whose Pulumi.<stack>.yaml to edit")
	image := flags.String("image", "", "the image to pin: repo[:tag]@sha256:<digest>")
	from := flags.String("from", "", "copy this stack's image (promotion) instead of --image")
	arch := flags.Bool("arch", false, "print the CPU architecture (amd64 or arm64) the stack's instance type needs, and change nothing")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if *stack == "" || flags.NArg() > 0 || boolCount(*image != "", *from != "", *arch) != 1 {
		fmt.Fprintln(stderr, "usage: setimage --stack <stack> (--image repo[:tag]@sha256:<digest> | --from <stack> | --arch)")
		return 2
	}
	p, err := stackfile.Load(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if *arch {
		a, err := p.Architecture(*stack)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, a)
		return 0
	}
	ref := *image
	if *from != "" {
		source, err := p.PinnedImage(*from)
		if err != nil {
			fmt.Fprintf(stderr, "cannot promote from %s: %v\n", *from, err)
			return 1
		}
		ref = source.WithTag()
	}
	if err := p.SetImage(*stack, ref); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: image %s\n", p.StackFile(*stack), ref)
	return 0
}

func boolCount(values ...bool) int {
	n := 0
	for _, v := range values {
		if v {
			n++
		}
	}
	return n
}
