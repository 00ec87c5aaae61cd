package infra_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

func buildRepository(t *testing.T, repository string) *pulumitest.Mocks {
	t.Helper()
	return build(t, map[string]string{"repository": repository}, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewRepository(ctx, "images", &infra.RepositoryArgs{Config: cfg.Repository})
		return err
	})
}

// TestRepositoryKeepsReleasesImmutableScannedAndEncrypted: a tag always names the same image
// (IMMUTABLE), every push is scanned, images are KMS-encrypted, the repository is protected and
// cannot be deleted with images in it.
func TestRepositoryKeepsReleasesImmutableScannedAndEncrypted(t *testing.T) {
	m := buildRepository(t, `{"enabled":true}`)
	repo := one(t, m, "aws:ecr/repository:Repository")
	if repo.Str("name") != project || repo.Str("imageTagMutability") != "IMMUTABLE" || !repo.Bool("imageScanningConfiguration.scanOnPush") ||
		repo.Str("encryptionConfigurations.0.encryptionType") != "KMS" || repo.Bool("forceDelete") || !repo.Protect {
		t.Errorf("repository %v (protect %v)", repo.Inputs, repo.Protect)
	}
	if n := len(m.OfType("aws:ecr/repositoryPolicy:RepositoryPolicy")); n != 0 {
		t.Errorf("%d repository policies without push roles", n)
	}
	if m := buildRepository(t, `{"enabled":true,"name":"team/api","protect":false}`); one(t, m, "aws:ecr/repository:Repository").Protect ||
		one(t, m, "aws:ecr/repository:Repository").Str("name") != "team/api" {
		t.Error("name and protect do not come from the config")
	}
}

// TestLifecyclePolicyNeverReachesDeployedImagesFirst follows ECR's rules ("Lifecycle policy
// properties in Amazon ECR"): unique priorities; a tagged selection names a tag pattern of at most
// four wildcards; a rule with tagStatus any would have to come last, and none is used, so the
// untagged manifests of multi-arch images are never expired; the deployed images' rule comes first,
// so no later rule can expire them.
func TestLifecyclePolicyNeverReachesDeployedImagesFirst(t *testing.T) {
	m := buildRepository(t, `{"enabled":true,"keepImages":30,"keepDeployed":80}`)
	policy := one(t, m, "aws:ecr/lifecyclePolicy:LifecyclePolicy")
	if policy.Str("repository") != one(t, m, "aws:ecr/repository:Repository").Out("name") {
		t.Errorf("lifecycle policy on %q", policy.Str("repository"))
	}
	var doc struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus      string
				TagPatternList []string
				TagPrefixList  []string
				CountType      string
				CountNumber    int
			}
			Action struct{ Type string }
		}
	}
	if err := json.Unmarshal([]byte(policy.Str("policy")), &doc); err != nil {
		t.Fatal(err)
	}
	type kept struct {
		pattern string
		count   int
	}
	var got []kept
	priorities := map[int]bool{}
	for i, r := range doc.Rules {
		s := r.Selection
		if priorities[r.RulePriority] || (i > 0 && r.RulePriority <= doc.Rules[i-1].RulePriority) {
			t.Errorf("rule priorities out of order or repeated: %d", r.RulePriority)
		}
		priorities[r.RulePriority] = true
		if s.TagStatus != "tagged" || len(s.TagPatternList) != 1 || len(s.TagPrefixList) != 0 || strings.Count(s.TagPatternList[0], "*") > 4 ||
			s.CountType != "imageCountMoreThan" || s.CountNumber < 1 || r.Action.Type != "expire" {
			t.Errorf("rule %d: %+v", r.RulePriority, r)
		}
		got = append(got, kept{strings.Join(s.TagPatternList, ","), s.CountNumber})
	}
	want := []kept{{config.RunningTagPattern, infra.KeepRunning}, {config.DeployedTagPattern, 80}, {"*", 30}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("lifecycle keeps %v, want %v", got, want)
	}
}

// ecrImage is an image as ECR's lifecycle evaluation sees it: when it was pushed and its tags.
type ecrImage struct {
	pushed int
	tags   []string
}

// expireByLifecycle applies a lifecycle policy the way the ECR guide's "Lifecycle policy evaluation
// rules" describe it, for the tagged, imageCountMoreThan rules this policy uses: rules in priority
// order; a rule selects the images with a tag matching its pattern; "expiration is always ordered by
// pushed_at_time, and always expires older images before newer ones" (a tag added later does not
// count, aws/containers-roadmap#2746); "an image that matches the tagging requirements of a rule
// cannot be expired by a rule with a lower priority". It returns the images left.
func expireByLifecycle(t *testing.T, policy string, images []ecrImage) []ecrImage {
	t.Helper()
	var doc struct {
		Rules []struct {
			RulePriority int
			Selection    struct {
				TagStatus      string
				TagPatternList []string
				CountType      string
				CountNumber    int
			}
		}
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatal(err)
	}
	sort.Slice(doc.Rules, func(i, j int) bool { return doc.Rules[i].RulePriority < doc.Rules[j].RulePriority })
	matches := func(img ecrImage, pattern string) bool {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$")
		return slices.ContainsFunc(img.tags, re.MatchString)
	}
	claimed := make([]bool, len(images))
	expired := make([]bool, len(images))
	for _, rule := range doc.Rules {
		if rule.Selection.TagStatus != "tagged" || rule.Selection.CountType != "imageCountMoreThan" || len(rule.Selection.TagPatternList) != 1 {
			t.Fatalf("the simulator does not know rule %+v", rule)
		}
		var selected []int
		for i, img := range images {
			if matches(img, rule.Selection.TagPatternList[0]) {
				selected = append(selected, i)
			}
		}
		sort.Slice(selected, func(a, b int) bool { return images[selected[a]].pushed > images[selected[b]].pushed })
		for rank, i := range selected {
			if rank >= rule.Selection.CountNumber && !claimed[i] {
				expired[i] = true
			}
		}
		for _, i := range selected {
			claimed[i] = true
		}
	}
	var kept []ecrImage
	for i, img := range images {
		if !expired[i] {
			kept = append(kept, img)
		}
	}
	return kept
}

// TestLifecycleKeepsWhatEachStackRunsHoweverOld (review C2): prod rolls back to an image pushed long
// ago, after keepDeployed newer images were verified in dev. Ranked by push time, the old image is
// beyond keepDeployed; its running-prod record (cmd/release mark) keeps it, and the count rules
// still trim the rest.
func TestLifecycleKeepsWhatEachStackRunsHoweverOld(t *testing.T) {
	m := buildRepository(t, `{"enabled":true,"keepImages":5,"keepDeployed":100}`)
	policy := one(t, m, "aws:ecr/lifecyclePolicy:LifecyclePolicy").Str("policy")
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var images []ecrImage
	for i := range 102 {
		images = append(images, ecrImage{pushed: i, tags: []string{fmt.Sprintf("1.%d.0", i), config.DeployedRecord.Tag("dev", at.Add(time.Duration(i)*time.Hour))}})
	}
	images[101].tags = append(images[101].tags, config.RunningRecord.Tag("dev", at))
	// Prod rolls back to the oldest image: verified in dev long ago, now running in prod.
	images[0].tags = append(images[0].tags, config.DeployedRecord.Tag("prod", at), config.RunningRecord.Tag("prod", at))
	for i := range 10 {
		images = append(images, ecrImage{pushed: 200 + i, tags: []string{fmt.Sprintf("pr-%d", i)}})
	}

	kept := expireByLifecycle(t, policy, images)
	has := func(tag string) bool {
		return slices.ContainsFunc(kept, func(img ecrImage) bool { return slices.Contains(img.tags, tag) })
	}
	if !has("1.0.0") || !has("1.101.0") {
		t.Errorf("an image a stack runs was expired: prod's 1.0.0 kept %v, dev's 1.101.0 kept %v", has("1.0.0"), has("1.101.0"))
	}
	// 100 newest verified images, prod's old one, and the 5 newest others.
	if len(kept) != 106 || has("1.1.0") || !has("1.2.0") || has("pr-4") || !has("pr-5") {
		t.Errorf("kept %d images (1.1.0 %v, 1.2.0 %v, pr-4 %v, pr-5 %v), want 106: the counts still trim", len(kept), has("1.1.0"), has("1.2.0"), has("pr-4"), has("pr-5"))
	}
}

// TestRepositoryPolicyLetsExactlyTheCIRolesPush: one statement per role, push actions only, no
// wildcard principal, nothing that deletes images or changes the repository.
func TestRepositoryPolicyLetsExactlyTheCIRolesPush(t *testing.T) {
	roles := []string{"arn:aws:iam::123456789012:role/api-ci", "arn:aws:iam::210987654321:role/release"}
	raw, _ := json.Marshal(map[string]any{"enabled": true, "pushRoleArns": roles})
	m := buildRepository(t, string(raw))
	policy := one(t, m, "aws:ecr/repositoryPolicy:RepositoryPolicy")
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil || policy.Str("repository") != one(t, m, "aws:ecr/repository:Repository").Out("name") {
		t.Fatalf("policy on %q: %v", policy.Str("repository"), err)
	}
	var principals []string
	for _, st := range doc.Statement {
		principals = append(principals, st.Principal["AWS"])
		if st.Effect != "Allow" || len(st.Resource) != 0 {
			t.Errorf("statement %+v", st)
		}
		for _, a := range st.Action {
			if !strings.HasPrefix(a, "ecr:") || strings.Contains(a, "Delete") || strings.Contains(a, "Set") || strings.Contains(a, "*") {
				t.Errorf("a CI role may %s", a)
			}
		}
		if !strings.Contains(strings.Join(st.Action, ","), "ecr:PutImage") {
			t.Errorf("statement %s cannot push", st.Sid)
		}
	}
	if strings.Join(principals, ",") != strings.Join(roles, ",") {
		t.Errorf("push principals %v, want %v", principals, roles)
	}
}

// TestLifecycleKeepsAnUnverifiedImageUntilKeepImagesNewerPushes (review D4): the last rule counts
// every tagged image, those the first two rules keep included ("Rules can never mark images that are
// marked by higher priority rules, but can still identify them as if they haven't been expired",
// ECR's lifecycle evaluation rules), so an image no stack verified yet (a release pull request's)
// survives exactly keepImages-1 newer pushes of any kind, as docs/delivery.md says.
func TestLifecycleKeepsAnUnverifiedImageUntilKeepImagesNewerPushes(t *testing.T) {
	m := buildRepository(t, `{"enabled":true,"keepImages":5,"keepDeployed":100}`)
	policy := one(t, m, "aws:ecr/lifecyclePolicy:LifecyclePolicy").Str("policy")
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for newer, kept := range map[int]bool{4: true, 5: false} {
		images := []ecrImage{{pushed: 0, tags: []string{"2.0.0-rc1"}}}
		for i := 1; i <= newer; i++ {
			images = append(images, ecrImage{pushed: i, tags: []string{fmt.Sprintf("1.%d.0", i), config.DeployedRecord.Tag("dev", at.Add(time.Duration(i)*time.Hour))}})
		}
		left := expireByLifecycle(t, policy, images)
		if got := slices.ContainsFunc(left, func(img ecrImage) bool { return img.tags[0] == "2.0.0-rc1" }); got != kept || len(left) != newer+btoi(kept) {
			t.Errorf("with %d newer verified images the unverified one is kept: %v (want %v); %d images left", newer, got, kept, len(left))
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
