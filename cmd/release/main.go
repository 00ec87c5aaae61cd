// Command release keeps the record of which image verified where, in the images' ECR repository,
// and refuses a deploy whose image has no such record:
//
//	go run ./cmd/release hold --stack dev                  # before dev deploys: running-dev-<time> on the image it is moving to
//	go run ./cmd/release mark --stack dev                  # after dev verifies: record it on its image (deployed-dev-<time>, running-dev-<time>)
//	go run ./cmd/release check --stack prod --verified-in dev   # before prod deploys: refuse an image dev did not verify
//	go run ./cmd/release prune --stack prod [--delete]     # delete untagged images nothing tagged leads to
//
// For an image in ECR the records are tags: deployed-<stack>-<time> (the stack verified the image)
// and running-<stack>-<time> (the stack runs it now), which the lifecycle policy protects. An image outside ECR cannot be tagged: it may go to prod only as
// the image dev runs in the same commit, which the same workflow run deployed and verified first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, opts ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error)
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

const usage = "usage: release hold --stack <stack> | release mark --stack <stack> | release check --stack <stack> --verified-in <stack> | release prune --stack <stack> [--delete]"

// run returns 0 on success, 1 when the image has no record (or the registry refuses), 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer,
	registry func(context.Context, string) (Registry, error), now func() time.Time) int {
	if len(args) == 0 || !slices.Contains([]string{"hold", "mark", "check", "prune"}, args[0]) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	flags := flag.NewFlagSet("release "+args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", ".", "the project directory, with Pulumi.yaml and the stack files")
	stack := flags.String("stack", "", "the stack whose image to mark or check")
	verifiedIn := flags.String("verified-in", "", "check: the stack the image must have verified in")
	del := flags.Bool("delete", false, "prune: delete the unreachable images instead of listing them")
	if err := flags.Parse(args[1:]); err != nil {
		return 2
	}
	if *stack == "" || flags.NArg() > 0 || (args[0] == "check") != (*verifiedIn != "") || (args[0] != "prune" && *del) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	p, err := stackfile.Load(*dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	switch args[0] {
	case "hold", "mark":
		err = mark(ctx, p, *stack, args[0] == "hold", stdout, registry, now)
	case "check":
		err = check(ctx, p, *stack, *verifiedIn, stdout, registry)
	default:
		err = prune(ctx, p, *stack, *del, stdout, registry, now)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
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

// mark records that the stack verified its image and runs it now, and is idempotent: the image gets
// a deployed-<stack>-<time> tag unless it has one (a deploy that did not change the image adds no
// tag, so ECR's limit on tags per image is never approached), and the running-<stack>-<time> record
// moves to it: added here first, then removed from every other image, so at every moment the image
// the stack runs is protected from the lifecycle policy. With hold (before a deploy), only the
// running record is added and none removed: from the moment the deploy starts both the image the
// stack ran and the one it is moving to are protected, and if the deploy never verifies (a rollback,
// a verify that timed out while ECS went on), both stay protected until a later mark.
func mark(ctx context.Context, p *stackfile.Project, stack string, hold bool, stdout io.Writer,
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
	images, err := taggedImages(ctx, client, repo)
	if err != nil {
		return fmt.Errorf("listing %s: %w", repo.Arn(), err)
	}
	current := images[ref.Digest]
	records := []config.ReleaseRecord{config.DeployedRecord, config.RunningRecord}
	if hold {
		records = records[1:]
	}
	for _, record := range records {
		if tag, ok := recordOf(current, record, stack); ok {
			fmt.Fprintf(stdout, "%s: already tagged %s\n", ref, tag)
			continue
		}
		tag := record.Tag(stack, now())
		if err := addTag(ctx, client, repo, ref, tag); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: tagged %s\n", ref, tag)
	}
	if hold {
		return nil
	}
	// The stack no longer runs the other images: their running-<stack> records go, and the count
	// rules decide what becomes of them. A record that is an image's only tag stays: removing an
	// image's last tag deletes the image (BatchDeleteImage), and mark never deletes an image.
	var stale []types.ImageIdentifier
	for digest, tags := range images {
		if digest == ref.Digest {
			continue
		}
		for _, tag := range tags {
			if !config.RunningRecord.Of(tag, stack) {
				continue
			}
			if len(tags) == 1 {
				fmt.Fprintf(stdout, "%s@%s: kept %s, its only tag\n", repo.Name, digest, tag)
				continue
			}
			stale = append(stale, types.ImageIdentifier{ImageTag: aws.String(tag)})
		}
	}
	if len(stale) == 0 {
		return nil
	}
	out, err := client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RegistryId: &repo.Account, RepositoryName: &repo.Name, ImageIds: stale})
	if err != nil {
		return fmt.Errorf("removing %s's earlier running records: %w", stack, err)
	}
	var failed []string
	for _, f := range out.Failures {
		failed = append(failed, fmt.Sprintf("%s: %s", aws.ToString(f.ImageId.ImageTag), aws.ToString(f.FailureReason)))
	}
	if len(failed) > 0 {
		return fmt.Errorf("removing %s's earlier running records: %s", stack, strings.Join(failed, "; "))
	}
	for _, id := range out.ImageIds {
		fmt.Fprintf(stdout, "%s@%s: removed %s\n", repo.Name, aws.ToString(id.ImageDigest), aws.ToString(id.ImageTag))
	}
	return nil
}

// taggedImages is every tagged image of the repository: digest to tags.
func taggedImages(ctx context.Context, client Registry, repo config.ECRRepository) (map[string][]string, error) {
	images := map[string][]string{}
	pages := ecr.NewDescribeImagesPaginator(client, &ecr.DescribeImagesInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name,
		Filter: &types.DescribeImagesFilter{TagStatus: types.TagStatusTagged},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.ImageDetails {
			images[aws.ToString(d.ImageDigest)] = d.ImageTags
		}
	}
	return images, nil
}

// recordOf is the stack's record among an image's tags.
func recordOf(tags []string, record config.ReleaseRecord, stack string) (string, bool) {
	for _, tag := range tags {
		if record.Of(tag, stack) {
			return tag, true
		}
	}
	return "", false
}

// manifestMediaTypes are every manifest type BatchGetImage may return as stored, so an index stays
// an index.
var manifestMediaTypes = []string{
	"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
}

// addTag puts the image's manifest, as stored, under one more tag.
func addTag(ctx context.Context, client Registry, repo config.ECRRepository, ref stackfile.Reference, tag string) error {
	got, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name,
		ImageIds:           []types.ImageIdentifier{{ImageDigest: &ref.Digest}},
		AcceptedMediaTypes: manifestMediaTypes,
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", ref, err)
	}
	if len(got.Images) != 1 || got.Images[0].ImageManifest == nil {
		return fmt.Errorf("%s is not in %s", ref.Digest, repo.Arn())
	}
	_, err = client.PutImage(ctx, &ecr.PutImageInput{
		RegistryId: &repo.Account, RepositoryName: &repo.Name, ImageTag: &tag, ImageDigest: &ref.Digest,
		ImageManifest: got.Images[0].ImageManifest, ImageManifestMediaType: got.Images[0].ImageManifestMediaType,
	})
	var exists *types.ImageAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("tagging %s %s: %w", ref, tag, err)
	}
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
	for _, d := range out.ImageDetails {
		if tag, ok := recordOf(d.ImageTags, config.DeployedRecord, verifiedIn); ok {
			fmt.Fprintf(stdout, "%s verified in %s (%s)\n", ref, verifiedIn, tag)
			return nil
		}
	}
	return fmt.Errorf("%s has no %s tag: it never verified in %s; release it there first", ref, config.DeployedRecord.Shape(verifiedIn), verifiedIn)
}
