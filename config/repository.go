package config

import "regexp"

// RepositoryConfig is an ECR repository the stack owns for the app's images (key `repository`):
// immutable tags, scan on push, encrypted, a lifecycle policy, and push rights for the app's CI.
// One long-lived stack (prod) owns it; every stack's image may point at it.
type RepositoryConfig struct {
	Enabled bool `json:"enabled"`
	// Name defaults to the project's name.
	Name string `json:"name"`
	// KeepImages is how many tagged images the lifecycle policy keeps, newest first.
	KeepImages int `json:"keepImages"`
	// KeepDeployed is how many images tagged deployed-* (by the deploy workflow, once a stack runs
	// them) are kept whatever KeepImages says: the lifecycle policy never reaches an image a stack
	// runs while fewer than this many images were deployed after it.
	KeepDeployed int `json:"keepDeployed"`
	// PushRoleArns are the IAM roles (the app repository's CI) that may push images.
	PushRoleArns []string `json:"pushRoleArns"`
	// Protect sets Pulumi's protect option: `pulumi destroy` refuses until it is lifted.
	Protect bool `json:"protect"`
}

func defaultRepository() RepositoryConfig {
	return RepositoryConfig{KeepImages: 50, KeepDeployed: 100, Protect: true}
}

var (
	// repositoryName is ECR's CreateRepository pattern, 2-256 characters.
	repositoryName = regexp.MustCompile(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)
	iamRoleArn     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
)

// MaxLifecycleCount bounds imageCountMoreThan in ECR lifecycle rules.
const MaxLifecycleCount = 10000

func validateRepository(c *Config, fail func(string, string, ...any)) {
	r := &c.Repository
	if !r.Enabled {
		return
	}
	const key = "repository"
	if r.Name == "" {
		r.Name = c.Project
	}
	if !repositoryName.MatchString(r.Name) || len(r.Name) < 2 || len(r.Name) > 256 {
		fail(key+".name", "must be an ECR repository name: 2-256 lowercase letters, digits, and . _ - / between them (got %q)", r.Name)
	}
	if r.KeepImages < 1 || r.KeepImages > MaxLifecycleCount {
		fail(key+".keepImages", "must be between 1 and %d (got %d)", MaxLifecycleCount, r.KeepImages)
	}
	if r.KeepDeployed < 1 || r.KeepDeployed > MaxLifecycleCount {
		fail(key+".keepDeployed", "must be between 1 and %d (got %d)", MaxLifecycleCount, r.KeepDeployed)
	}
	seen := map[string]bool{}
	for _, arn := range r.PushRoleArns {
		if !iamRoleArn.MatchString(arn) {
			fail(key+".pushRoleArns", "%q is not an IAM role ARN like arn:aws:iam::<account>:role/<name>", arn)
		}
		if seen[arn] {
			fail(key+".pushRoleArns", "%q is listed twice", arn)
		}
		seen[arn] = true
	}
}
