package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/internal/stackfile"
)

// PruneGrace is how old an unreachable image must be before prune deletes it. A multi-arch push
// uploads the per-platform manifests before the index that names them, so a young untagged
// manifest may belong to a push still going.
const PruneGrace = 24 * time.Hour

// ECR's BatchGetImage and BatchDeleteImage take at most 100 image ids a call (ECR API reference).
const ecrBatch = 100

// manifestRefs is the part of a manifest prune reads: an index's or manifest list's children, and
// an OCI referrer's subject (a signature or SBOM attached to an image).
type manifestRefs struct {
	Manifests []struct {
		Digest string `json:"digest"`
	} `json:"manifests"`
	Subject *struct {
		Digest string `json:"digest"`
	} `json:"subject"`
}

// prune deletes the untagged images nothing tagged leads to: the per-platform manifests of an index
// the lifecycle policy expired, and referrers whose subject is gone. ECR's lifecycle rules cannot do
// this safely: they do not follow an index to its children (aws/containers-roadmap#1466), so a rule
// on untagged images could expire the children of an index a stack runs. Reachability is read from
// the manifests themselves: every tagged image is kept, with every manifest its index names and
// every referrer of a kept image, and every digest a stack file pins. Without del it only prints what it would delete.
func prune(ctx context.Context, p *stackfile.Project, stack string, del bool, stdout io.Writer,
	registry func(context.Context, string) (Registry, error), now func() time.Time) error {
	_, repo, ok, err := ecrImage(p, stack)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintf(stdout, "%s's image is not pinned in ECR: no repository to prune\n", stack)
		return nil
	}
	client, err := registry(ctx, repo.Region)
	if err != nil {
		return fmt.Errorf("ECR in %s: %w", repo.Region, err)
	}
	images := map[string]types.ImageDetail{}
	pages := ecr.NewDescribeImagesPaginator(client, &ecr.DescribeImagesInput{RegistryId: &repo.Account, RepositoryName: &repo.Name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing %s: %w", repo.Arn(), err)
		}
		for _, d := range page.ImageDetails {
			images[aws.ToString(d.ImageDigest)] = d
		}
	}
	digests := make([]string, 0, len(images))
	for d := range images {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	refs, gone, err := readManifests(ctx, client, repo, digests)
	if err != nil {
		return err
	}
	digests = slices.DeleteFunc(digests, func(d string) bool { return gone[d] })

	// Reachable: the tagged images, then what their indexes name and what refers to a reachable
	// image, until nothing changes.
	reachable := map[string]bool{}
	for d, img := range images {
		if len(img.ImageTags) > 0 {
			reachable[d] = true
		}
	}
	// A digest a stack file pins is kept though untagged: a stack deploying it has not recorded it yet.
	for _, s := range p.Stacks() {
		ref, other, inECR, err := ecrImage(p, s)
		if err != nil {
			return fmt.Errorf("%s's image, which prune must keep: %w", s, err)
		}
		if inECR && other.Arn() == repo.Arn() {
			reachable[ref.Digest] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, d := range digests {
			if reachable[d] {
				for _, child := range refs[d].Manifests {
					if !reachable[child.Digest] {
						reachable[child.Digest], changed = true, true
					}
				}
			} else if s := refs[d].Subject; s != nil && reachable[s.Digest] {
				reachable[d], changed = true, true
			}
		}
	}

	doomed := map[string]bool{}
	for _, d := range digests {
		img := images[d]
		if reachable[d] {
			continue
		}
		if pushed := aws.ToTime(img.ImagePushedAt); now().Sub(pushed) < PruneGrace {
			fmt.Fprintf(stdout, "%s@%s: unreachable but pushed %s, within %s: kept\n", repo.Name, d, pushed.UTC().Format(time.RFC3339), PruneGrace)
			continue
		}
		doomed[d] = true
		fmt.Fprintf(stdout, "%s@%s: untagged and unreachable (%s bytes)\n", repo.Name, d, sizeOf(img))
	}
	if len(doomed) == 0 {
		fmt.Fprintf(stdout, "%s: nothing to prune\n", repo.Name)
		return nil
	}
	if !del {
		fmt.Fprintf(stdout, "%d images would be deleted; run with --delete to delete them\n", len(doomed))
		return nil
	}
	deleted, failed := 0, 0
	// ECR refuses to delete a manifest an index in the repository still names
	// (ImageReferencedByManifestList, "ImageFailure" in the ECR API reference): indexes go first,
	// then what they named, a level at a time.
	for len(doomed) > 0 {
		named := map[string]bool{}
		for d := range doomed {
			for _, child := range refs[d].Manifests {
				named[child.Digest] = true
			}
		}
		var level []string
		for _, d := range digests {
			if doomed[d] && !named[d] {
				level = append(level, d)
			}
		}
		if len(level) == 0 {
			return fmt.Errorf("the unreachable images of %s name each other: nothing deleted of %d", repo.Arn(), len(doomed))
		}
		for _, d := range level {
			delete(doomed, d)
		}
		for start := 0; start < len(level); start += ecrBatch {
			var ids []types.ImageIdentifier
			for _, d := range level[start:min(start+ecrBatch, len(level))] {
				ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(d)})
			}
			out, err := client.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RegistryId: &repo.Account, RepositoryName: &repo.Name, ImageIds: ids})
			if err != nil {
				return fmt.Errorf("deleting unreachable images of %s: %w", repo.Arn(), err)
			}
			// Every id without a failure is deleted (BatchDeleteImage reports failures per id).
			deleted += len(ids) - len(out.Failures)
			for _, f := range out.Failures {
				// Gone already (the lifecycle policy, or ECR's own clean-up of referrers whose subject
				// went), or still named by an index pushed since the listing: the next run decides.
				if f.FailureCode == types.ImageFailureCodeImageNotFound || f.FailureCode == types.ImageFailureCodeImageReferencedByManifestList {
					fmt.Fprintf(stdout, "%s@%s: left for the next run (%s)\n", repo.Name, aws.ToString(f.ImageId.ImageDigest), f.FailureCode)
					continue
				}
				failed++
				fmt.Fprintf(stdout, "%s@%s: not deleted: %s %s\n", repo.Name, aws.ToString(f.ImageId.ImageDigest), f.FailureCode, aws.ToString(f.FailureReason))
			}
		}
	}
	fmt.Fprintf(stdout, "%s: deleted %d unreachable images\n", repo.Name, deleted)
	if failed > 0 {
		return fmt.Errorf("%s: %d unreachable images could not be deleted", repo.Name, failed)
	}
	return nil
}

// readManifests reads every image's manifest, as stored, in batches ECR accepts, and tells which
// images are gone since they were listed.
func readManifests(ctx context.Context, client Registry, repo config.ECRRepository, digests []string) (map[string]manifestRefs, map[string]bool, error) {
	refs, gone := map[string]manifestRefs{}, map[string]bool{}
	for start := 0; start < len(digests); start += ecrBatch {
		var ids []types.ImageIdentifier
		for _, d := range digests[start:min(start+ecrBatch, len(digests))] {
			ids = append(ids, types.ImageIdentifier{ImageDigest: aws.String(d)})
		}
		out, err := client.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RegistryId: &repo.Account, RepositoryName: &repo.Name, ImageIds: ids, AcceptedMediaTypes: manifestMediaTypes,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("reading the manifests of %s: %w", repo.Arn(), err)
		}
		// An image whose manifest cannot be read cannot be shown to be unreachable: refuse rather
		// than guess. One that is gone since the listing (ImageNotFound) names nothing any more.
		for _, f := range out.Failures {
			if f.FailureCode == types.ImageFailureCodeImageNotFound {
				gone[aws.ToString(f.ImageId.ImageDigest)] = true
				continue
			}
			return nil, nil, fmt.Errorf("reading %s: %s %s", aws.ToString(f.ImageId.ImageDigest), f.FailureCode, aws.ToString(f.FailureReason))
		}
		for _, img := range out.Images {
			var r manifestRefs
			if err := json.Unmarshal([]byte(aws.ToString(img.ImageManifest)), &r); err != nil {
				return nil, nil, fmt.Errorf("reading %s: %w", aws.ToString(img.ImageId.ImageDigest), err)
			}
			refs[aws.ToString(img.ImageId.ImageDigest)] = r
		}
	}
	return refs, gone, nil
}

func sizeOf(img types.ImageDetail) string {
	if img.ImageSizeInBytes == nil {
		return "?"
	}
	return fmt.Sprint(*img.ImageSizeInBytes)
}
