package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// pushManifest puts a manifest of a media type, tagged or not, and returns its digest.
func pushManifest(t *testing.T, reg Registry, repo, body, mediaType, tag string) string {
	t.Helper()
	name := repo[strings.Index(repo, "/")+1:]
	in := &ecr.PutImageInput{RepositoryName: &name, ImageManifest: &body, ImageManifestMediaType: &mediaType}
	if tag != "" {
		in.ImageTag = &tag
	}
	out, err := reg.PutImage(context.Background(), in)
	if err != nil {
		t.Fatalf("push %s: %v", tag, err)
	}
	return *out.Image.ImageId.ImageDigest
}

// multiArch pushes two untagged per-platform manifests and the index that names them, tagged.
func multiArch(t *testing.T, reg Registry, repo, tag, variant string) (index string, children []string) {
	t.Helper()
	for _, arch := range []string{"a", "b"} {
		body := strings.Replace(manifest, "e692418e", strings.Repeat(variant+arch, 4), 1)
		children = append(children, pushManifest(t, reg, repo, body, "application/vnd.docker.distribution.manifest.v2+json", ""))
	}
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":%q,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		children[0], children[1])
	return pushManifest(t, reg, repo, body, "application/vnd.oci.image.index.v1+json", tag), children
}

func digests(t *testing.T, reg Registry, repo string) map[string]bool {
	t.Helper()
	name := repo[strings.Index(repo, "/")+1:]
	out, err := reg.DescribeImages(context.Background(), &ecr.DescribeImagesInput{RepositoryName: &name})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, d := range out.ImageDetails {
		found[aws.ToString(d.ImageDigest)] = true
	}
	return found
}

// TestPruneDeletesOnlyWhatNothingTaggedLeadsTo (review C7): when the lifecycle policy expires a
// multi-arch index, its untagged per-platform manifests stay forever, since ECR's lifecycle rules
// do not follow an index to its children (aws/containers-roadmap#1466) and so cannot tell a live
// index's children from an expired one's. Prune follows the manifests: it deletes the expired
// index's children, keeps the live index's children, a referrer (an OCI manifest whose subject is
// a live image, such as a signature), every tagged image, a digest a stack file pins, and anything
// younger than PruneGrace (a push still going).
func TestPruneDeletesOnlyWhatNothingTaggedLeadsTo(t *testing.T) {
	reg, repo, single := registry(t)
	live, liveChildren := multiArch(t, reg, repo, "2.0.0", "c")
	expired, expiredChildren := multiArch(t, reg, repo, "1.9.0", "d")
	referrer := pushManifest(t, reg, repo, fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},`+
		`"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":10,"digest":"sha256:%s"}],"subject":{"mediaType":"application/vnd.oci.image.index.v1+json","size":600,"digest":%q}}`,
		strings.Repeat("1", 64), live), "application/vnd.oci.image.manifest.v1+json", "")
	// The lifecycle policy expires 1.9.0: the index goes, its children stay.
	name := repo[strings.Index(repo, "/")+1:]
	if _, err := reg.BatchDeleteImage(context.Background(), &ecr.BatchDeleteImageInput{RepositoryName: &name, ImageIds: []types.ImageIdentifier{{ImageDigest: &expired}}}); err != nil {
		t.Fatal(err)
	}
	// Dev pins the expired index's arm64 manifest by digest, not yet deployed: it stays.
	pinned := expiredChildren[1]
	dir := stacks(t, map[string]string{"prod": repo + "@" + live, "dev": repo + "@" + pinned})

	// Within the grace period nothing goes: the children may belong to a push still going.
	if code, out := release(t, reg, time.Now(), "prune", "--dir", dir, "--stack", "prod", "--delete"); code != 0 || !strings.Contains(out, "nothing to prune") {
		t.Fatalf("prune within the grace period: exit %d: %s", code, out)
	}
	later := time.Now().Add(PruneGrace + time.Hour)
	// Without --delete it only lists.
	if code, out := release(t, reg, later, "prune", "--dir", dir, "--stack", "prod"); code != 0 || !strings.Contains(out, "1 images would be deleted") {
		t.Fatalf("prune without --delete: exit %d: %s", code, out)
	}
	if got := digests(t, reg, repo); !got[expiredChildren[0]] || !got[expiredChildren[1]] {
		t.Fatal("prune without --delete deleted something")
	}
	if code, out := release(t, reg, later, "prune", "--dir", dir, "--stack", "prod", "--delete"); code != 0 || !strings.Contains(out, "deleted 1 unreachable images") {
		t.Fatalf("prune: exit %d: %s", code, out)
	}
	got := digests(t, reg, repo)
	for what, d := range map[string]string{"the live index": live, "its amd64 manifest": liveChildren[0], "its arm64 manifest": liveChildren[1],
		"its signature": referrer, "a tagged single-platform image": single, "the manifest dev pins": pinned} {
		if !got[d] {
			t.Errorf("prune deleted %s (%s)", what, d)
		}
	}
	if got[expiredChildren[0]] {
		t.Errorf("the expired index's amd64 manifest %s is still there", expiredChildren[0])
	}
}

// strictRegistry is moto's ECR with two refusals real ECR makes that moto does not: it will not
// delete a manifest an index in the repository still names (failure code
// ImageReferencedByManifestList, "ImageFailure" in the ECR API reference; judged on the repository
// as it was when the call began, since ECR does not document an order within one call), and it
// reports images in gone as ImageNotFound (the lifecycle policy or ECR's referrer clean-up deleted
// them since they were listed).
type strictRegistry struct {
	Registry
	children map[string][]string // index digest -> the digests it names
	gone     map[string]bool
}

func (r *strictRegistry) BatchGetImage(ctx context.Context, in *ecr.BatchGetImageInput, opts ...func(*ecr.Options)) (*ecr.BatchGetImageOutput, error) {
	var ids []types.ImageIdentifier
	var failures []types.ImageFailure
	for _, id := range in.ImageIds {
		if r.gone[aws.ToString(id.ImageDigest)] {
			failures = append(failures, types.ImageFailure{ImageId: &id, FailureCode: types.ImageFailureCodeImageNotFound})
			continue
		}
		ids = append(ids, id)
	}
	copied := *in
	copied.ImageIds = ids
	out, err := r.Registry.BatchGetImage(ctx, &copied, opts...)
	if err != nil {
		return nil, err
	}
	out.Failures = append(out.Failures, failures...)
	return out, nil
}

func (r *strictRegistry) BatchDeleteImage(ctx context.Context, in *ecr.BatchDeleteImageInput, opts ...func(*ecr.Options)) (*ecr.BatchDeleteImageOutput, error) {
	present := map[string]bool{}
	out, err := r.Registry.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: in.RepositoryName})
	if err != nil {
		return nil, err
	}
	for _, d := range out.ImageDetails {
		present[aws.ToString(d.ImageDigest)] = true
	}
	named := map[string]bool{}
	for index, children := range r.children {
		if present[index] {
			for _, c := range children {
				named[c] = true
			}
		}
	}
	result := &ecr.BatchDeleteImageOutput{}
	for _, id := range in.ImageIds {
		if named[aws.ToString(id.ImageDigest)] {
			result.Failures = append(result.Failures, types.ImageFailure{ImageId: &id, FailureCode: types.ImageFailureCodeImageReferencedByManifestList})
			continue
		}
		one := *in
		one.ImageIds = []types.ImageIdentifier{id}
		got, err := r.Registry.BatchDeleteImage(ctx, &one, opts...)
		if err != nil {
			return nil, err
		}
		result.ImageIds = append(result.ImageIds, got.ImageIds...)
		result.Failures = append(result.Failures, got.Failures...)
	}
	return result, nil
}

// TestPruneDeletesIndexesBeforeWhatTheyNameAndToleratesRaces (review D1): an untagged index that
// nothing leads to (a per-platform index a multi-runner push left, whose merged index expired)
// names manifests ECR will not delete while it exists, so prune deletes the index first, whatever
// the digests' order; and an image gone since the listing is no failure.
func TestPruneDeletesIndexesBeforeWhatTheyNameAndToleratesRaces(t *testing.T) {
	reg, repo, tagged := registry(t)
	var children []string
	for _, arch := range []string{"a", "b"} {
		body := strings.Replace(manifest, "e692418e", strings.Repeat("7"+arch, 4), 1)
		children = append(children, pushManifest(t, reg, repo, body, "application/vnd.docker.distribution.manifest.v2+json", ""))
	}
	index := pushManifest(t, reg, repo, fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}},`+
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,"digest":%q,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		children[0], children[1]), "application/vnd.oci.image.index.v1+json", "")
	vanished := pushManifest(t, reg, repo, strings.Replace(manifest, "e692418e", strings.Repeat("9", 8), 1), "application/vnd.docker.distribution.manifest.v2+json", "")
	strict := &strictRegistry{Registry: reg, children: map[string][]string{index: children}, gone: map[string]bool{vanished: true}}
	dir := stacks(t, map[string]string{"prod": repo + "@" + tagged})

	code, out := release(t, strict, time.Now().Add(PruneGrace+time.Hour), "prune", "--dir", dir, "--stack", "prod", "--delete")
	if code != 0 || !strings.Contains(out, "deleted 3 unreachable images") {
		t.Fatalf("prune: exit %d: %s", code, out)
	}
	got := digests(t, reg, repo)
	for _, d := range append([]string{index}, children...) {
		if got[d] {
			t.Errorf("%s is still there", d)
		}
	}
	if !got[tagged] {
		t.Error("prune deleted the tagged image")
	}
}
