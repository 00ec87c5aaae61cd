package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// KeepRunning bounds the images the lifecycle policy's first rule keeps: those a stack runs now
// (tagged config.RunningTagPattern, one per stack). It is far above any project's number of stacks,
// so the rule never expires one; its only effect is that no later rule can.
const KeepRunning = 1000

// Repository is the ECR repository of the app's images: tags cannot move (a digest in a stack file
// always means the same image), every push is scanned, images are encrypted with KMS, a lifecycle
// policy keeps the registry small without expiring what runs, and the app's CI may push.
type Repository struct {
	pulumi.ResourceState

	RepositoryURL pulumi.StringOutput `pulumi:"repositoryUrl"`
	RepositoryArn pulumi.StringOutput `pulumi:"repositoryArn"`
}

// RepositoryArgs are plain values from config.
type RepositoryArgs struct {
	Config config.RepositoryConfig
}

// NewRepository creates the repository, its lifecycle policy and, with push roles, its policy.
func NewRepository(ctx *pulumi.Context, name string, args *RepositoryArgs, opts ...pulumi.ResourceOption) (*Repository, error) {
	if args == nil || !args.Config.Enabled || args.Config.Name == "" {
		return nil, fmt.Errorf("repository %s: the repository is not enabled and named in the config", name)
	}
	r := &Repository{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Repository"), name, r, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(r)
	cfg := args.Config

	repo, err := ecr.NewRepository(ctx, name, &ecr.RepositoryArgs{
		Name:               pulumi.String(cfg.Name),
		ImageTagMutability: pulumi.String("IMMUTABLE"),
		ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{
			ScanOnPush: pulumi.Bool(true),
		},
		// KMS with the AWS managed aws/ecr key: encrypted at rest with keys audited in CloudTrail.
		EncryptionConfigurations: ecr.RepositoryEncryptionConfigurationArray{
			&ecr.RepositoryEncryptionConfigurationArgs{EncryptionType: pulumi.String("KMS")},
		},
		// Images are releases: deleting the repository with images in it must be a deliberate act.
		ForceDelete: pulumi.Bool(false),
	}, parent, pulumi.Protect(cfg.Protect))
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", name, err)
	}
	lifecycle, err := LifecyclePolicy(cfg)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", name, err)
	}
	if _, err := ecr.NewLifecyclePolicy(ctx, name+"-lifecycle", &ecr.LifecyclePolicyArgs{
		Repository: repo.Name,
		Policy:     pulumi.String(lifecycle),
	}, parent); err != nil {
		return nil, fmt.Errorf("repository %s: lifecycle policy: %w", name, err)
	}
	if len(cfg.PushRoleArns) > 0 {
		if _, err := ecr.NewRepositoryPolicy(ctx, name+"-policy", &ecr.RepositoryPolicyArgs{
			Repository: repo.Name,
			Policy:     pulumi.String(PushPolicy(cfg.PushRoleArns)),
		}, parent); err != nil {
			return nil, fmt.Errorf("repository %s: policy: %w", name, err)
		}
	}

	r.RepositoryURL = repo.RepositoryUrl
	r.RepositoryArn = repo.Arn
	return r, ctx.RegisterResourceOutputs(r, pulumi.Map{"repositoryUrl": r.RepositoryURL, "repositoryArn": r.RepositoryArn})
}

// lifecycleRule is one rule of an ECR lifecycle policy ("Lifecycle policy properties in Amazon ECR").
type lifecycleRule struct {
	RulePriority int    `json:"rulePriority"`
	Description  string `json:"description"`
	Selection    struct {
		TagStatus      string   `json:"tagStatus"`
		TagPatternList []string `json:"tagPatternList,omitempty"`
		CountType      string   `json:"countType"`
		CountNumber    int      `json:"countNumber"`
	} `json:"selection"`
	Action struct {
		Type string `json:"type"`
	} `json:"action"`
}

// LifecyclePolicy keeps, in this order: every image a stack runs now, the newest KeepDeployed
// images a stack verified, and the newest KeepImages tagged images of any kind: the images the first
// two rules select count toward that last number ("Rules can never mark images that are marked by
// higher priority rules, but can still identify them as if they haven't been expired"), though it
// never expires them; so an image no stack verified is kept until KeepImages newer images were
// pushed. ECR ranks images by push time
// only (a tag added later does not make an image younger), so protection by count alone could
// expire an old image a stack rolled back to; the running-<stack>-* record, which `release mark`
// moves to the image a stack runs, is what keeps that one. An image a rule's tags select cannot be
// expired by a rule of lower priority ("Lifecycle policy evaluation rules" in the ECR guide).
// Untagged images (the per-platform manifests of a multi-arch image) are left alone: ECR's rules do
// not follow an index to its children (aws/containers-roadmap#1466), so expiring untagged images
// could break an index a stack runs.
func LifecyclePolicy(cfg config.RepositoryConfig) (string, error) {
	rule := func(priority int, description, pattern string, count int) lifecycleRule {
		var r lifecycleRule
		r.RulePriority, r.Description = priority, description
		r.Selection.TagStatus, r.Selection.TagPatternList = "tagged", []string{pattern}
		r.Selection.CountType, r.Selection.CountNumber = "imageCountMoreThan", count
		r.Action.Type = "expire"
		return r
	}
	b, err := json.Marshal(map[string]any{"rules": []lifecycleRule{
		rule(1, fmt.Sprintf("Keep every image a stack runs now (tagged %s by the deploy workflow)", config.RunningTagPattern), config.RunningTagPattern, KeepRunning),
		rule(2, fmt.Sprintf("Keep the last %d pushed images a stack verified (tagged %s by the deploy workflow)", cfg.KeepDeployed, config.DeployedTagPattern), config.DeployedTagPattern, cfg.KeepDeployed),
		rule(3, fmt.Sprintf("Keep the last %d pushed tagged images (the images above count, and stay)", cfg.KeepImages), "*", cfg.KeepImages),
	}})
	if err != nil {
		return "", fmt.Errorf("lifecycle policy: %w", err)
	}
	return string(b), nil
}

// PushPolicy lets each CI role push images and tag them, and read what it pushed (a multi-arch push
// checks the layers and manifests already there). Signing in (GetAuthorizationToken) is granted by
// the role's own IAM policy: it names no repository.
func PushPolicy(roleArns []string) string {
	var statements []PolicyStatement
	for i, arn := range roleArns {
		statements = append(statements, PolicyStatement{
			Sid: fmt.Sprintf("PushFromCI%d", i), Effect: "Allow", Principal: map[string]string{"AWS": arn},
			Action: []string{
				"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:GetDownloadUrlForLayer",
				"ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
			},
		})
	}
	return PolicyDocument{Statement: statements}.JSON()
}
