package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

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
	want := []kept{{infra.DeployedTagPattern, 80}, {"*", 30}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("lifecycle keeps %v, want %v", got, want)
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
