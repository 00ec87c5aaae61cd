// Command verify checks that the last `pulumi up` actually rolled out: the ECS service's primary
// deployment runs the task definition the stack registered and completed (a rollback is a failure),
// every task runs, every target is healthy, and the app answers through the load balancer.
//
//	pulumi stack output --json --stack dev | go run ./cmd/verify --timeout 10m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/acme/ecs-api/internal/verify"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run returns 0 when the deploy is verified, 1 when it is not, 2 on bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("verify", flag.ContinueOnError)
	flags.SetOutput(stderr)
	outputsFile := flags.String("outputs", "-", "file with `pulumi stack output --json`; - reads standard input")
	timeout := flags.Duration("timeout", 10*time.Minute, "how long to wait for the deploy to converge")
	interval := flags.Duration("interval", 15*time.Second, "time between rounds of checks while waiting")
	httpTimeout := flags.Duration("http-timeout", 10*time.Second, "timeout of one request to the app")
	if err := flags.Parse(args); err != nil {
		return 2
	}

	in := stdin
	if *outputsFile != "-" {
		f, err := os.Open(*outputsFile)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		defer f.Close()
		in = f
	}
	outputs, err := verify.ParseOutputs(in)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}

	ctx := context.Background()
	// AWS_ENDPOINT_URL, profiles and the usual credential chain apply, as for the AWS CLI.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(outputs.Region))
	if err != nil {
		fmt.Fprintln(stderr, "AWS configuration:", err)
		return 2
	}
	v := &verify.Verifier{
		ECS:      ecs.NewFromConfig(cfg),
		ELB:      elb.NewFromConfig(cfg),
		ACM:      acm.NewFromConfig(cfg),
		HTTP:     &http.Client{Timeout: *httpTimeout},
		Out:      stdout,
		Interval: *interval,
	}
	fmt.Fprintf(stdout, "verifying %s/%s in %s (up to %s)\n", outputs.ClusterName, outputs.ServiceName, outputs.Region, *timeout)
	if outputs.DashboardURL != "" {
		fmt.Fprintf(stdout, "dashboard: %s\n", outputs.DashboardURL)
	}
	if err := v.Run(ctx, outputs, *timeout); err != nil {
		if !errors.Is(err, verify.ErrFailed) {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	return 0
}
