// Command release keeps the record of which image verified where, in the images' ECR repository,
// and refuses a deploy whose image has no such record:
//
//	go run ./cmd/release mark --stack dev                  # after dev verifies: tag its image deployed-dev-<time>
//	go run ./cmd/release check --stack prod --verified-in dev   # before prod deploys: refuse an image dev did not verify
//
// For an image in ECR the record is the deployed-<stack>-* tag, which an immutable repository keeps
// and the lifecycle policy protects. An image outside ECR cannot be tagged: it may go to prod only as
// the image dev runs in the same commit, which the same workflow run deployed and verified first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/stackfile"
)

// Registry is the part of the ECR API this command uses.
type Registry interface {
	BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, opts ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error)
	PutImage(ctx context.Context, in *ecr.PutImageInput, opts ...func(*ecr.Options)) (*ecr.PutImageOutput, error)
	DescribeImages(ctx context.Context, in *ecr.DescribeImagesInput, opts ...func(*ecr.Options)) (*ecr.DescribeImagesOutput, error)
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, newRegistry, time.Now))
}

// newRegistry is an ECR client in the repository's region; AWS_ENDPOINT_URL and the usual
// credential chain apply, as for the AWS CLI.
func newRegistry(ctx context.Context, region string) (Registry, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return ecr.NewFromConfig(cfg), nil
}

// run returns 0 on success, 1 when the image has no record (or the registry refuses), 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer,
	registry func(context.Context, string) (Registry, error), now func() time.Time) int {
	if len(args) == 0 || (args[0] != "mark" && args[0] != "check") {
		fmt.Fprintln(stderr, "usage: release mark --stack <stack> | release check --stack <stack> --verified-in <stack>")
		return 2
	}
	flags := flag.NewFlagSet("release "+args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", ".", "the project directory, with Pulumi.yaml and the stack files")
	stack := flags.String("stack", "", "the stack whose image to mark or check")
	verifiedIn := flags.String("verified-in", "", "check: the stack the image must have verified in")
	if err := flags.Parse(args[1:]); err != nil {
		return 2
	}
	if *stack == "" || flags.NArg() > 0 || (args[0] == "check") != (*verifiedIn != "") {
		fmt.Fprintln(stderr, "usage: release mark --stack <stack> | release check --stack <stack> --verified-in <stack>")
		return 2
	}
	p, err := stackfile.Load(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if args[0] == "mark" {
		err = mark(ctx, p, *stack, stdout, registry, now)
	} else {
		err = check(ctx, p, *stack, *verifiedIn, stdout, registry)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// DeployedTag is the tag that records that stack ran and verified an image at a time.
func DeployedTag(stack string, at time.Time) string {
	return DeployedTagPrefix(stack) + at.UTC().Format("20060102T150405Z")
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// DeployedTagPrefix starts every record of one stack: deployed-<stack>- (infra.DeployedTagPattern
// keeps them all).
func DeployedTagPrefix(stack string) string {
	return "deployed-" + tagUnsafe.ReplaceAllString(stack, "-") + "-"
}

// ecrImage is a stack's image when it is pinned and in ECR; ok is false otherwise.
func ecrImage(p *stackfile.Project, stack string) (stackfile.Reference, config.ECRRepository, bool, error) {
	image, err := p.Image(stack)
	if err != nil {
		return stackfile.Reference{}, config.ECRRepository{}, false, err
	}
	ref, err := stackfile.ParseReference(image)
	if err != nil {
		return stackfile.Reference{}, config.ECRRepository{}, false, nil
	}
	repo, inECR := config.ParseECR(image)
	return ref, repo, inECR, nil
}

// mark tags the stack's image with DeployedTag, re-putting its manifest under the new tag.
func mark(ctx context.Context, p *stackfile.Project, stack string, stdout io.Writer,
	registry func(context.Context, string) (Registry, error), now func() time.Time) error {
	ref, repo, ok, err := ecrImage(p, stack)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "%s's image is not pinned in ECR: nothing to mark\n", stack)
		return nil
	}
	client, err := registry(ctx, repo.Region)
	if err != nil {
		return fmt.Errorf("ECR in %s: %w", repo.Region, err)
	}
	got, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name,
		ImageIds: []types.ImageIdentifier{{ImageDigest: &ref.Digest}},
		// Keep the manifest's own media type: an index stays an index.
		AcceptedMediaTypes: []string{
			"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
			"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
		},
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	if len(got.Images) != 1 || got.Images[0].ImageManifest == nil {
		return fmt.Errorf("%s is not in %s", ref.Digest, repo.Arn())
	}
	tag := DeployedTag(stack, now())
	_, err = client.PutImage(ctx, &ecr.PutImageInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name, ImageTag: &tag, ImageDigest: &ref.Digest,
		ImageManifest: got.Images[0].ImageManifest, ImageManifestMediaType: got.Images[0].ImageManifestMediaType,
	})
	var exists *types.ImageAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("tagging %s %s: %w", ref, tag, err)
	}
	fmt.Fprintf(stdout, "%s: tagged %s\n", ref, tag)
	return nil
}

// check refuses the stack's image unless it verified in another stack: an ECR image carries that
// stack's deployed tag; any other image must be exactly the one that stack runs in this commit.
func check(ctx context.Context, p *stackfile.Project, stack, verifiedIn string, stdout io.Writer,
	registry func(context.Context, string) (Registry, error)) error {
	image, err := p.Image(stack)
	if err != nil {
		return err
	}
	ref, repo, inECR, err := ecrImage(p, stack)
	if err != nil {
		return err
	}
	if !inECR {
		other, err := p.Image(verifiedIn)
		if err != nil {
			return err
		}
		if other != image {
			return fmt.Errorf("%s's image %s is not in ECR, where a verification is recorded, and is not the image %s runs in this commit (%s): deploy it to %s first", stack, image, verifiedIn, other, verifiedIn)
		}
		fmt.Fprintf(stdout, "%s runs %s, as %s does in this commit\n", stack, image, verifiedIn)
		return nil
	}
	client, err := registry(ctx, repo.Region)
	if err != nil {
		return fmt.Errorf("ECR in %s: %w", repo.Region, err)
	}
	out, err := client.DescribeImages(ctx, &ecr.DescribeImagesInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name,
		ImageIds: []types.ImageIdentifier{{ImageDigest: &ref.Digest}},
	})
	if err != nil {
		return fmt.Errorf("looking up %s: %w", ref, err)
	}
	prefix := DeployedTagPrefix(verifiedIn)
	for _, d := range out.ImageDetails {
		for _, tag := range d.ImageTags {
			if strings.HasPrefix(tag, prefix) {
				fmt.Fprintf(stdout, "%s verified in %s (%s)\n", ref, verifiedIn, tag)
				return nil
			}
		}
	}
	return fmt.Errorf("%s has no %s* tag: it never verified in %s; release it there first", ref, prefix, verifiedIn)
}
