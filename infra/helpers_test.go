package infra_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/pulumitest"
	// Registers -update, so that `go test ./... -update` is accepted by this package too.
	_ "github.com/acme/ecs-api/internal/snapshot"
)

const (
	project   = "ecs-api"
	testImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2"
)

// baseConfig is Pulumi.yaml's defaults plus the two values every stack must set.
func baseConfig(t *testing.T) map[string]string {
	return withOverrides(t, nil)
}

// withOverrides returns the base config with project keys replaced ("" deletes a key).
func withOverrides(t *testing.T, overrides map[string]string) map[string]string {
	t.Helper()
	return pulumitest.MustConfigWith(t, "..", project, testImage, overrides)
}

// build runs a program that loads config (with overrides) and builds components with it.
func build(t *testing.T, overrides map[string]string, program func(ctx *pulumi.Context, cfg *config.Config) error) *pulumitest.Mocks {
	t.Helper()
	m, err := pulumitest.Run(project, "test", withOverrides(t, overrides), func(ctx *pulumi.Context) error {
		cfg, err := config.LoadConfig(ctx)
		if err != nil {
			return err
		}
		return program(ctx, cfg)
	})
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	// The engine rejects two resources with one URN; the mock monitor does not, so check here.
	seen := map[string]bool{}
	for _, r := range m.Resources() {
		if seen[r.URN] {
			t.Errorf("duplicate URN %s: child names must include the component's name", r.URN)
		}
		seen[r.URN] = true
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }

func one(t *testing.T, m *pulumitest.Mocks, typ string) *pulumitest.Resource {
	t.Helper()
	rs := m.OfType(typ)
	if len(rs) != 1 {
		t.Fatalf("want exactly one %s, got %d", typ, len(rs))
	}
	return rs[0]
}

func named(t *testing.T, m *pulumitest.Mocks, typ, name string) *pulumitest.Resource {
	t.Helper()
	r := m.Named(typ, name)
	if r == nil {
		t.Fatalf("no %s named %s", typ, name)
	}
	return r
}

// parentType is the type token of a resource's parent, from its parent URN.
func parentType(r *pulumitest.Resource) string {
	i := strings.LastIndex(r.Parent, "::")
	j := strings.LastIndex(r.Parent[:max(i, 0)], "::")
	if i < 0 || j < 0 {
		return ""
	}
	qualified := r.Parent[j+2 : i]
	return qualified[strings.LastIndex(qualified, "$")+1:]
}

const (
	sgType          = "aws:ec2/securityGroup:SecurityGroup"
	ingressRuleType = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	egressRuleType  = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	listenerType    = "aws:lb/listener:Listener"
)

func sorted(values []string) []string {
	out := append([]string(nil), values...)
	sort.Strings(out)
	return out
}
