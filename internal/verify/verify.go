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
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
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
	// CertificateArn and DomainNames are set when the stack serves HTTPS (on its own domain).
	CertificateArn string   `json:"certificateArn"`
	DomainNames    []string `json:"domainNames"`
	// DashboardURL is the stack's CloudWatch dashboard, printed so whoever deploys can watch it.
	DashboardURL string `json:"dashboardUrl"`
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

// ACMAPI is the call the certificate check makes.
type ACMAPI interface {
	DescribeCertificate(context.Context, *acm.DescribeCertificateInput, ...func(*acm.Options)) (*acm.DescribeCertificateOutput, error)
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
	ECS ECSAPI
	ELB ELBAPI
	// ACM is needed only for stacks with a certificate.
	ACM      ACMAPI
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
	results := []Result{deployment, running, v.checkTargets(ctx, o)}
	if o.CertificateArn != "" {
		results = append(results, v.checkCertificate(ctx, o))
	}
	return append(results, v.checkHTTP(ctx, o))
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

// checkCertificate requires the HTTPS listener's certificate to be issued and to cover every name
// the stack serves; a certificate that failed, expired or was revoked will not fix itself.
func (v *Verifier) checkCertificate(ctx context.Context, o Outputs) Result {
	r := Result{Name: "certificate"}
	if v.ACM == nil {
		r.Detail = "no ACM client to check " + o.CertificateArn
		return r
	}
	out, err := v.ACM.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String(o.CertificateArn)})
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	cert := out.Certificate
	if cert == nil {
		r.Detail = "ACM describes no certificate " + o.CertificateArn
		return r
	}
	var missing []string
	for _, name := range o.DomainNames {
		if !covers(cert, name) {
			missing = append(missing, name)
		}
	}
	switch status := cert.Status; {
	case status == acmtypes.CertificateStatusFailed || status == acmtypes.CertificateStatusExpired ||
		status == acmtypes.CertificateStatusRevoked || status == acmtypes.CertificateStatusValidationTimedOut:
		r.Final = true
		r.Detail = fmt.Sprintf("certificate %s is %s", aws.ToString(cert.DomainName), status)
	case status != acmtypes.CertificateStatusIssued:
		r.Detail = fmt.Sprintf("certificate %s is %s", aws.ToString(cert.DomainName), status)
	case len(missing) > 0:
		r.Final = true
		r.Detail = fmt.Sprintf("certificate %s does not cover %s", aws.ToString(cert.DomainName), strings.Join(missing, ", "))
	default:
		r.OK = true
		r.Detail = fmt.Sprintf("issued for %s", strings.Join(append([]string{aws.ToString(cert.DomainName)}, otherNames(cert)...), ", "))
	}
	return r
}

// covers reports whether the certificate names host, directly or by a one-label wildcard.
func covers(cert *acmtypes.CertificateDetail, host string) bool {
	for _, n := range append([]string{aws.ToString(cert.DomainName)}, cert.SubjectAlternativeNames...) {
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.Index(host, "."); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

// otherNames are the certificate's names besides its domain name.
func otherNames(cert *acmtypes.CertificateDetail) []string {
	var out []string
	for _, n := range cert.SubjectAlternativeNames {
		if n != aws.ToString(cert.DomainName) {
			out = append(out, n)
		}
	}
	return out
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
