package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/ecs-api/internal/motoserver"
	// Registers -update, so that `go test ./... -update` is accepted by this package too.
	_ "github.com/acme/ecs-api/internal/snapshot"
)

func TestUsageErrorsExitTwo(t *testing.T) {
	for name, tc := range map[string]struct {
		args  []string
		stdin string
		want  string
	}{
		"not json":        {stdin: "Current stack outputs (2):", want: "pulumi stack output --json"},
		"missing outputs": {stdin: `{"url":"http://x"}`, want: "stack outputs lack clusterName"},
		"no such file":    {args: []string{"--outputs", filepath.Join(t.TempDir(), "none.json")}, want: "no such file"},
		"bad flag":        {args: []string{"--timeout", "soon"}, want: "invalid value"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr); code != 2 {
			t.Errorf("%s: exit %d, want 2", name, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: stderr %q lacks %q", name, stderr.String(), tc.want)
		}
	}
}

// TestRunTalksToTheConfiguredEndpoint runs the command as CI would, with AWS_ENDPOINT_URL pointing at
// the emulator, against a service that does not exist: every check fails and the exit code is 1.
func TestRunTalksToTheConfiguredEndpoint(t *testing.T) {
	endpoint := motoserver.Endpoint(t)
	t.Setenv("AWS_ENDPOINT_URL", endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(outputs, []byte(`{"region":"us-east-1","clusterName":"absent","serviceName":"absent",
	  "taskDefinitionArn":"arn:aws:ecs:us-east-1:123456789012:task-definition/absent:1",
	  "targetGroupArn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/absent/0123456789abcdef",
	  "url":"http://127.0.0.1:1","healthCheckPath":"/health",
	  "dashboardUrl":"https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/ecs-api-dev-monitoring"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"--outputs", outputs, "--timeout", "1s", "--interval", "200ms", "--http-timeout", "500ms"}, nil, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"verifying absent/absent in us-east-1",
		"dashboard: https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/ecs-api-dev-monitoring", "ClusterNotFoundException", "TargetGroupNotFound", "FAIL  http", "deploy FAILED"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
}
