// Package verify checks that a deploy actually worked: `pulumi up` returns once the ECS service has
// accepted the new task definition, but the deployment circuit breaker may roll it back minutes
// later, and then the stack reports success while the old version keeps serving.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Outputs are the stack outputs the checks need, as `pulumi stack output --json` prints them.
type Outputs struct {
	Region            string `json:"region"`
	ClusterName       string `json:"clusterName"`
	ServiceName       string `json:"serviceName"`
	TaskDefinitionArn string `json:"taskDefinitionArn"`
	TargetGroupArn    string `json:"targetGroupArn"`
	URL               string `json:"url"`
	HealthCheckPath   string `json:"healthCheckPath"`
}

// ParseOutputs reads the outputs JSON and says which required ones are missing.
func ParseOutputs(r io.Reader) (Outputs, error) {
	var o Outputs
	if err := json.NewDecoder(r).Decode(&o); err != nil {
		return o, fmt.Errorf("stack outputs are not JSON (pipe `pulumi stack output --json`): %w", err)
	}
	var missing []string
	for name, v := range map[string]string{
		"region": o.Region, "clusterName": o.ClusterName, "serviceName": o.ServiceName,
		"taskDefinitionArn": o.TaskDefinitionArn, "targetGroupArn": o.TargetGroupArn, "url": o.URL,
	} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return o, fmt.Errorf("stack outputs lack %s", strings.Join(missing, ", "))
	}
	if o.HealthCheckPath == "" {
		o.HealthCheckPath = "/"
	}
	return o, nil
}

// ECSAPI and ELBAPI are the calls the checks make, so tests can point them anywhere.
type ECSAPI interface {
	DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

type ELBAPI interface {
	DescribeTargetHealth(context.Context, *elb.DescribeTargetHealthInput, ...func(*elb.Options)) (*elb.DescribeTargetHealthOutput, error)
}

// Result is one check's verdict. Final failures (a rollback) will not fix themselves by waiting.
type Result struct {
	Name   string
	OK     bool
	Final  bool
	Detail string
}

// Verifier runs the checks until they all pass, one fails for good, or time runs out.
type Verifier struct {
	ECS      ECSAPI
	ELB      ELBAPI
	HTTP     *http.Client
	Out      io.Writer
	Interval time.Duration
}

// ErrFailed is returned when the deploy did not work; the printed results say why.
var ErrFailed = errors.New("deploy verification failed")

// Run checks the deploy described by o, waiting up to timeout for it to converge.
func (v *Verifier) Run(ctx context.Context, o Outputs, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for round := 1; ; round++ {
		results := v.check(ctx, o)
		passed, final := 0, false
		for _, r := range results {
			if r.OK {
				passed++
			}
			final = final || r.Final
		}
		if passed == len(results) || final || !time.Now().Add(v.Interval).Before(deadline) {
			v.report(results)
			if passed == len(results) {
				fmt.Fprintf(v.Out, "deploy verified: %d/%d checks pass\n", passed, len(results))
				return nil
			}
			if final {
				fmt.Fprintln(v.Out, "deploy FAILED: waiting will not fix it")
			} else {
				fmt.Fprintf(v.Out, "deploy FAILED: %d/%d checks pass after %s\n", passed, len(results), timeout)
			}
			return ErrFailed
		}
		var pending []string
		for _, r := range results {
			if !r.OK {
				pending = append(pending, r.Name+" ("+r.Detail+")")
			}
		}
		fmt.Fprintf(v.Out, "waiting (round %d, %s left): %d/%d checks pass; pending: %s\n",
			round, time.Until(deadline).Round(time.Second), passed, len(results), strings.Join(pending, "; "))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(v.Interval):
		}
	}
}

func (v *Verifier) report(results []Result) {
	for _, r := range results {
		mark := "PASS"
		if !r.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(v.Out, "%s  %-12s %s\n", mark, r.Name, r.Detail)
	}
}

func (v *Verifier) check(ctx context.Context, o Outputs) []Result {
	deployment, running := v.checkService(ctx, o)
	return []Result{deployment, running, v.checkTargets(ctx, o), v.checkHTTP(ctx, o)}
}

// checkService judges the primary deployment and the running count.
func (v *Verifier) checkService(ctx context.Context, o Outputs) (Result, Result) {
	deployment, running := Result{Name: "deployment"}, Result{Name: "running"}
	out, err := v.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(o.ClusterName), Services: []string{o.ServiceName},
	})
	if err == nil && len(out.Services) == 0 {
		err = fmt.Errorf("service %s not found in cluster %s", o.ServiceName, o.ClusterName)
	}
	if err != nil {
		deployment.Detail, running.Detail = err.Error(), "unknown: "+err.Error()
		return deployment, running
	}
	svc := out.Services[0]
	running.OK = svc.DesiredCount > 0 && svc.RunningCount == svc.DesiredCount
	running.Detail = fmt.Sprintf("%d of %d tasks running", svc.RunningCount, svc.DesiredCount)

	for _, d := range svc.Deployments {
		if aws.ToString(d.Status) != "PRIMARY" {
			continue
		}
		td, state := aws.ToString(d.TaskDefinition), string(d.RolloutState)
		switch {
		case td != o.TaskDefinitionArn:
			deployment.Final = true
			deployment.Detail = fmt.Sprintf("ROLLED BACK: the service runs %s, not %s, the task definition this deploy registered (the circuit breaker or an alarm rolled the deploy back; see `aws ecs describe-services` events)", taskDefName(td), taskDefName(o.TaskDefinitionArn))
		case state == "FAILED":
			deployment.Final = true
			deployment.Detail = fmt.Sprintf("rollout of %s FAILED: %s", taskDefName(td), aws.ToString(d.RolloutStateReason))
		case state == "COMPLETED":
			deployment.OK = true
			deployment.Detail = fmt.Sprintf("%s rolled out (COMPLETED)", taskDefName(td))
		default:
			deployment.Detail = fmt.Sprintf("%s rollout %s", taskDefName(td), state)
		}
		return deployment, running
	}
	deployment.Detail = "the service has no primary deployment"
	return deployment, running
}

// checkTargets requires at least one registered target and every one of them healthy.
func (v *Verifier) checkTargets(ctx context.Context, o Outputs) Result {
	r := Result{Name: "targets"}
	out, err := v.ELB.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(o.TargetGroupArn)})
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	healthy := 0
	var problems []string
	for _, t := range out.TargetHealthDescriptions {
		state := elbtypes.TargetHealthStateEnumUnavailable
		if t.TargetHealth != nil {
			state = t.TargetHealth.State
		}
		if state == elbtypes.TargetHealthStateEnumHealthy {
			healthy++
			continue
		}
		id := ""
		if t.Target != nil {
			id = fmt.Sprintf("%s:%d", aws.ToString(t.Target.Id), aws.ToInt32(t.Target.Port))
		}
		problems = append(problems, fmt.Sprintf("%s is %s", id, state))
	}
	switch {
	case len(out.TargetHealthDescriptions) == 0:
		r.Detail = "no targets registered in the target group"
	case len(problems) > 0:
		r.Detail = fmt.Sprintf("%d of %d healthy; %s", healthy, len(out.TargetHealthDescriptions), strings.Join(problems, ", "))
	default:
		r.OK = true
		r.Detail = fmt.Sprintf("%d of %d healthy", healthy, healthy)
	}
	return r
}

// checkHTTP asks the load balancer for the health check path, as a user would.
func (v *Verifier) checkHTTP(ctx context.Context, o Outputs) Result {
	url := strings.TrimSuffix(o.URL, "/") + o.HealthCheckPath
	r := Result{Name: "http"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	resp, err := v.HTTP.Do(req)
	if err != nil {
		r.Detail = fmt.Sprintf("GET %s: %v", url, err)
		return r
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	r.OK = resp.StatusCode >= 200 && resp.StatusCode < 300
	r.Detail = fmt.Sprintf("GET %s: %d", url, resp.StatusCode)
	return r
}

// taskDefName shortens a task definition ARN to family:revision.
func taskDefName(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}
