package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/acme/ecs-api/internal/motoserver"
)

// manifest is a small image manifest; the registry's digest is that of these bytes.
const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",` +
	`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},` +
	`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":"sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"}]}`

// registry is moto's ECR with a repository like the stack's: immutable tags, one image pushed as 1.0.0.
func registry(t *testing.T) (Registry, string, string) {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL", motoserver.Endpoint(t))
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	ctx := context.Background()
	client, err := newRegistry(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	// Unique per run: a moto server that CI shares between runs keeps earlier repositories.
	name := fmt.Sprintf("api-%s-%d", strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), time.Now().UnixNano())
	api := client.(*ecr.Client)
	created, err := api.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: &name, ImageTagMutability: types.ImageTagMutabilityImmutable})
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := api.PutImage(ctx, &ecr.PutImageInput{RepositoryName: &name, ImageManifest: aws.String(manifest), ImageTag: aws.String("1.0.0")})
	if err != nil {
		t.Fatal(err)
	}
	return client, strings.TrimPrefix(*created.Repository.RepositoryUri, "http://"), *pushed.Image.ImageId.ImageDigest
}

// stacks writes Pulumi.yaml and a stack file per image into a temporary project.
func stacks(t *testing.T, images map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile("../../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for stack, image := range images {
		content := "config:\n  aws:region: us-east-1\n  ecs-api:image: " + image + "\n"
		if err := os.WriteFile(filepath.Join(dir, "Pulumi."+stack+".yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func release(t *testing.T, reg Registry, at time.Time, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(context.Background(), args, &out, &out,
		func(context.Context, string) (Registry, error) { return reg, nil }, func() time.Time { return at })
	return code, out.String()
}

func tags(t *testing.T, reg Registry, repo, digest string) []string {
	t.Helper()
	name := repo[strings.Index(repo, "/")+1:]
	out, err := reg.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: &name, ImageIds: []types.ImageIdentifier{{ImageDigest: &digest}}})
	if err != nil || len(out.ImageDetails) != 1 {
		t.Fatalf("describe %s: %v", digest, err)
	}
	return out.ImageDetails[0].ImageTags
}

// TestMarkThenCheck: dev's verified image gets its deployed-dev tag in the (immutable) repository;
// prod may then deploy that digest, and only that one.
func TestMarkThenCheck(t *testing.T) {
	reg, repo, digest := registry(t)
	at := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	dir := stacks(t, map[string]string{"dev": repo + "@" + digest, "prod": repo + "@" + digest})

	if code, out := release(t, reg, at, "check", "--dir", dir, "--stack", "prod", "--verified-in", "dev"); code != 1 || !strings.Contains(out, "never verified in dev") {
		t.Errorf("check before dev verified: exit %d: %s", code, out)
	}
	if code, out := release(t, reg, at, "mark", "--dir", dir, "--stack", "dev"); code != 0 {
		t.Fatalf("mark: exit %d: %s", code, out)
	}
	if got := tags(t, reg, repo, digest); !contains(got, "deployed-dev-20261127T063000Z") || !contains(got, "1.0.0") {
		t.Errorf("tags after mark %v, want 1.0.0 and deployed-dev-20261127T063000Z", got)
	}
	// Marking again at the same time is not an error: a re-run of the same deploy.
	if code, out := release(t, reg, at, "mark", "--dir", dir, "--stack", "dev"); code != 0 {
		t.Errorf("second mark: exit %d: %s", code, out)
	}
	if code, out := release(t, reg, at, "check", "--dir", dir, "--stack", "prod", "--verified-in", "dev"); code != 0 || !strings.Contains(out, "verified in dev") {
		t.Errorf("check after dev verified: exit %d: %s", code, out)
	}
	// A prod verification does not stand in for dev's.
	if code, out := release(t, reg, at, "check", "--dir", dir, "--stack", "dev", "--verified-in", "prod"); code != 1 {
		t.Errorf("dev checked against prod: exit %d: %s", code, out)
	}
}

// TestCheckRefusesAnotherDigest: an image dev never ran is refused, and one that is not in the
// repository is an error, not a pass.
func TestCheckRefusesAnotherDigest(t *testing.T) {
	reg, repo, digest := registry(t)
	other := "sha256:" + strings.Repeat("e", 64)
	dir := stacks(t, map[string]string{"dev": repo + "@" + digest, "prod": repo + "@" + other})
	if code, _ := release(t, reg, time.Now(), "mark", "--dir", dir, "--stack", "dev"); code != 0 {
		t.Fatal("mark failed")
	}
	if code, out := release(t, reg, time.Now(), "check", "--dir", dir, "--stack", "prod", "--verified-in", "dev"); code != 1 {
		t.Errorf("check of a digest dev never ran: exit %d: %s", code, out)
	}
}

// TestImagesOutsideECR: nothing can be tagged, so prod may only run what dev runs in this commit.
func TestImagesOutsideECR(t *testing.T) {
	same := stacks(t, map[string]string{"dev": "docker.io/nginxinc/nginx-unprivileged:1.27-alpine", "prod": "docker.io/nginxinc/nginx-unprivileged:1.27-alpine"})
	if code, out := release(t, nil, time.Now(), "mark", "--dir", same, "--stack", "dev"); code != 0 || !strings.Contains(out, "nothing to mark") {
		t.Errorf("mark outside ECR: exit %d: %s", code, out)
	}
	if code, out := release(t, nil, time.Now(), "check", "--dir", same, "--stack", "prod", "--verified-in", "dev"); code != 0 {
		t.Errorf("same image outside ECR: exit %d: %s", code, out)
	}
	differ := stacks(t, map[string]string{"dev": "docker.io/nginxinc/nginx-unprivileged:1.27-alpine", "prod": "docker.io/nginxinc/nginx-unprivileged:1.28-alpine"})
	if code, out := release(t, nil, time.Now(), "check", "--dir", differ, "--stack", "prod", "--verified-in", "dev"); code != 1 || !strings.Contains(out, "deploy it to dev first") {
		t.Errorf("another image outside ECR: exit %d: %s", code, out)
	}
}

func TestUsage(t *testing.T) {
	dir := stacks(t, map[string]string{"dev": "docker.io/nginx:1.27"})
	for _, args := range [][]string{
		nil, {"promote"}, {"mark"}, {"check", "--dir", dir, "--stack", "prod"}, {"mark", "--dir", dir, "--stack", "dev", "--verified-in", "prod"},
	} {
		if code, _ := release(t, nil, time.Now(), args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out := release(t, nil, time.Now(), "mark", "--dir", dir, "--stack", "qa"); code != 1 || !strings.Contains(out, `unknown stack "qa"`) {
		t.Errorf("unknown stack: exit %d: %s", code, out)
	}
}

func TestDeployedTagsFitECRAndTheLifecyclePattern(t *testing.T) {
	tag := DeployedTag("prod-eu.west", time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)))
	if tag != "deployed-prod-eu.west-20260102T020405Z" || len(tag) > 128 || !strings.HasPrefix(tag, "deployed-") {
		t.Errorf("tag %q", tag)
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
