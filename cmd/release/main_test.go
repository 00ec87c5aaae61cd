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

	"github.com/acme/ecs-api/config"
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
	if got := tags(t, reg, repo, digest); !contains(got, "deployed-dev-20261127T063000Z") || !contains(got, "running-dev-20261127T063000Z") || !contains(got, "1.0.0") {
		t.Errorf("tags after mark %v, want 1.0.0, deployed-dev-20261127T063000Z and running-dev-20261127T063000Z", got)
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
		{"mark", "--dir", dir, "--stack", "dev", "--delete"}, {"hold", "--dir", dir, "--stack", "dev", "--delete"}, {"prune", "--dir", dir, "--stack", "dev", "--verified-in", "prod"},
	} {
		if code, _ := release(t, nil, time.Now(), args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out := release(t, nil, time.Now(), "mark", "--dir", dir, "--stack", "qa"); code != 1 || !strings.Contains(out, `unknown stack "qa"`) {
		t.Errorf("unknown stack: exit %d: %s", code, out)
	}
}

// TestRecordTagsFitECRAndNameExactlyOneStack: record tags are valid ECR tags (at most 128 of
// [A-Za-z0-9_.-], "Tag" in the ECR API reference), match the lifecycle policy's patterns, and one
// stack's record is never mistaken for another's whose name it begins (dev and dev-eu).
func TestRecordTagsFitECRAndNameExactlyOneStack(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	tag := config.DeployedRecord.Tag("prod-eu.west", at)
	if tag != "deployed-prod-eu.west-20260102T020405Z" || len(tag) > 128 || !strings.HasPrefix(tag, strings.TrimSuffix(config.DeployedTagPattern, "*")) {
		t.Errorf("tag %q", tag)
	}
	if tag := config.RunningRecord.Tag("dev", at); tag != "running-dev-20260102T020405Z" || !strings.HasPrefix(tag, strings.TrimSuffix(config.RunningTagPattern, "*")) {
		t.Errorf("tag %q", tag)
	}
	devEU := config.DeployedRecord.Tag("dev-eu", at)
	if config.DeployedRecord.Of(devEU, "dev") || !config.DeployedRecord.Of(devEU, "dev-eu") || config.RunningRecord.Of(devEU, "dev-eu") {
		t.Errorf("%q is read as the wrong stack's or record's", devEU)
	}
}

// TestMarkIsIdempotentPerStack (review C3): every push to main runs mark, mostly on an image that
// did not change. ECR refuses a tag beyond its per-image limit ("exceeds the maximum allowed number
// of tags per image which is '1000'"), which would fail every later deploy, so a second mark of the
// same image at a later time adds nothing.
func TestMarkIsIdempotentPerStack(t *testing.T) {
	reg, repo, digest := registry(t)
	dir := stacks(t, map[string]string{"dev": repo + "@" + digest})
	first := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	for i := range 3 {
		if code, out := release(t, reg, first.Add(time.Duration(i)*time.Hour), "mark", "--dir", dir, "--stack", "dev"); code != 0 {
			t.Fatalf("mark %d: exit %d: %s", i, code, out)
		}
	}
	got := tags(t, reg, repo, digest)
	if len(got) != 3 || !contains(got, "1.0.0") || !contains(got, "deployed-dev-20261127T063000Z") || !contains(got, "running-dev-20261127T063000Z") {
		t.Errorf("tags after three marks %v, want 1.0.0 and one record of each kind from the first", got)
	}
}

// TestMarkMovesTheRunningRecordToWhatTheStackRuns (review C2): ECR ranks images by push time, and a
// tag added later does not change it (aws/containers-roadmap#2746), so the count rules alone could
// expire an old image a stack rolled back to. The running-<stack> record follows the stack's image:
// on the new image first, then off the old one, which keeps its deployed record; another stack's
// record on the old image stays.
func TestMarkMovesTheRunningRecordToWhatTheStackRuns(t *testing.T) {
	reg, repo, older := registry(t)
	newer := push(t, reg, repo, "1.1.0", "f")
	at := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	mark := func(stack, digest string, at time.Time) { record(t, reg, repo, "mark", stack, digest, at) }
	mark("dev", older, at)
	mark("prod", older, at)
	mark("dev", newer, at.Add(time.Hour))
	if got := tags(t, reg, repo, older); contains(got, "running-dev-20261127T063000Z") || !contains(got, "deployed-dev-20261127T063000Z") ||
		!contains(got, "running-prod-20261127T063000Z") {
		t.Errorf("tags of the image dev left %v: want its deployed-dev record and prod's running record, no running-dev", got)
	}
	if got := tags(t, reg, repo, newer); !contains(got, "running-dev-20261127T073000Z") || !contains(got, "deployed-dev-20261127T073000Z") {
		t.Errorf("tags of dev's new image %v", got)
	}
	// Dev rolls back to the older image: it runs it again, so it carries dev's running record again
	// (its deployed record is already there), and the newer image loses it.
	mark("dev", older, at.Add(2*time.Hour))
	if got := tags(t, reg, repo, older); !contains(got, "running-dev-20261127T083000Z") || !contains(got, "deployed-dev-20261127T063000Z") || contains(got, "deployed-dev-20261127T083000Z") {
		t.Errorf("tags of the image dev rolled back to %v", got)
	}
	if got := tags(t, reg, repo, newer); contains(got, "running-dev-20261127T073000Z") {
		t.Errorf("the image dev left still says dev runs it: %v", got)
	}
}

// TestHoldProtectsTheImageADeployMovesTo (review D5): between `pulumi up` and mark (verify takes up
// to 20 minutes, and may time out while ECS completes the rollout anyway), the image a stack is
// moving to must already be out of the lifecycle policy's reach. hold, run before the deploy, adds
// its running record and removes none; only mark, after verification, moves the record off the
// image the stack ran before.
func TestHoldProtectsTheImageADeployMovesTo(t *testing.T) {
	reg, repo, older := registry(t)
	newer := push(t, reg, repo, "1.1.0", "b")
	at := time.Date(2026, 11, 27, 6, 30, 0, 0, time.UTC)
	run := func(verb, digest string, at time.Time) { record(t, reg, repo, verb, "prod", digest, at) }
	run("mark", older, at)
	run("hold", newer, at.Add(time.Hour))
	if got := tags(t, reg, repo, newer); !contains(got, "running-prod-20261127T073000Z") || contains(got, "deployed-prod-20261127T073000Z") {
		t.Errorf("tags of the image prod is moving to, after hold: %v; want its running record and no deployed record yet", got)
	}
	if got := tags(t, reg, repo, older); !contains(got, "running-prod-20261127T063000Z") {
		t.Errorf("hold took the running record off the image prod still runs: %v", got)
	}
	run("mark", newer, at.Add(2*time.Hour))
	if got := tags(t, reg, repo, newer); !contains(got, "running-prod-20261127T073000Z") || !contains(got, "deployed-prod-20261127T083000Z") {
		t.Errorf("tags of prod's new image after mark: %v", got)
	}
	if got := tags(t, reg, repo, older); contains(got, "running-prod-20261127T063000Z") {
		t.Errorf("mark left the running record on the image prod left: %v", got)
	}
}

// TestMarkNeverDeletesAnImage: BatchDeleteImage deletes an image whose last tag it removes ("When
// you remove the last tag from an image, the image is deleted", ECR API reference), so a running
// record that is an image's only tag stays.
func TestMarkNeverDeletesAnImage(t *testing.T) {
	reg, repo, digest := registry(t)
	lone := push(t, reg, repo, "running-dev-20261101T000000Z", "a")
	dir := stacks(t, map[string]string{"dev": repo + "@" + digest})
	if code, out := release(t, reg, time.Now(), "mark", "--dir", dir, "--stack", "dev"); code != 0 || !strings.Contains(out, "its only tag") {
		t.Fatalf("mark: exit %d: %s", code, out)
	}
	if got := tags(t, reg, repo, lone); len(got) != 1 {
		t.Errorf("the image whose only tag was dev's running record has tags %v", got)
	}
}

// record runs `release <verb>` for a stack whose file pins repo@digest, at a time, and must succeed.
func record(t *testing.T, reg Registry, repo, verb, stack, digest string, at time.Time) {
	t.Helper()
	dir := stacks(t, map[string]string{stack: repo + "@" + digest})
	if code, out := release(t, reg, at, verb, "--dir", dir, "--stack", stack); code != 0 {
		t.Fatalf("%s %s %s: exit %d: %s", verb, stack, digest, code, out)
	}
}

// push puts one more single-platform image in the repository under tag; variant makes its digest
// differ from the others'.
func push(t *testing.T, reg Registry, repo, tag, variant string) string {
	t.Helper()
	name := repo[strings.Index(repo, "/")+1:]
	body := strings.Replace(manifest, "e692418e", strings.Repeat(variant, 8), 1)
	out, err := reg.PutImage(context.Background(), &ecr.PutImageInput{RepositoryName: &name, ImageManifest: &body, ImageTag: &tag})
	if err != nil {
		t.Fatal(err)
	}
	return *out.Image.ImageId.ImageDigest
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
