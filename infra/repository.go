package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// DeployedTagPattern selects the images the deploy workflow tagged once a stack ran them; the
// lifecycle policy keeps them ahead of every other image.
const DeployedTagPattern = "deployed-*"

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

// LifecyclePolicy keeps the newest KeepDeployed images a stack ran, then the newest KeepImages
// tagged images. An image a rule selects cannot be expired by a rule of lower priority, so the
// deployed images are out of the second rule's reach. Untagged images (the per-platform manifests
// of a multi-arch image) are left alone: expiring them would break the index that names them.
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
		rule(1, fmt.Sprintf("Keep the last %d images a stack ran (tagged %s by the deploy workflow)", cfg.KeepDeployed, DeployedTagPattern), DeployedTagPattern, cfg.KeepDeployed),
		rule(2, fmt.Sprintf("Keep the last %d other tagged images", cfg.KeepImages), "*", cfg.KeepImages),
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
