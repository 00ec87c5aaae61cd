package config_test

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	project         = "ecs-api"
	testImage       = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2"
	dbOn            = `{"enabled":true}`
	cacheOn         = `{"enabled":true}`
	ssmSecret       = "arn:aws:ssm:us-east-1:123456789012:parameter/api/jwt-signing-key"
	managedSecret   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbC123:password::"
	partialSecret   = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/stripe"
	testCertificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
)

// withOverrides returns Pulumi.yaml's defaults, a region and an image, with project keys replaced.
func withOverrides(t *testing.T, overrides map[string]string) map[string]string {
	t.Helper()
	return pulumitest.MustConfigWith(t, "..", project, testImage, overrides)
}

// loadConfig runs LoadConfig under Pulumi's mocks for a stack with the given overrides, so a test
// also sees whether anything was registered.
func loadConfig(t *testing.T, stack string, overrides map[string]string) (*config.Config, *pulumitest.Mocks, error) {
	t.Helper()
	var cfg *config.Config
	m, err := pulumitest.Run(project, stack, withOverrides(t, overrides), func(ctx *pulumi.Context) error {
		var err error
		cfg, err = config.LoadConfig(ctx)
		return err
	})
	return cfg, m, err
}
