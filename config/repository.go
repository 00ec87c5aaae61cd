package config

import (
	"regexp"
	"strings"
	"time"
)

// RepositoryConfig is an ECR repository the stack owns for the app's images (key `repository`):
// immutable tags, scan on push, encrypted, a lifecycle policy, and push rights for the app's CI.
// One long-lived stack (prod) owns it; every stack's image may point at it.
type RepositoryConfig struct {
	Enabled bool `json:"enabled"`
	// Name defaults to the project's name.
	Name string `json:"name"`
	// KeepImages is how many tagged images the lifecycle policy keeps, newest pushed first, the
	// verified and running ones included in the count (they are kept whatever it says).
	KeepImages int `json:"keepImages"`
	// KeepDeployed is how many images tagged deployed-* (by the deploy workflow, once a stack
	// verified them) are kept whatever KeepImages says, newest pushed first: rollback candidates.
	// The image a stack runs now is kept whatever either says (its running-* record).
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

// The deploy workflow's records in the repository, as tags `go run ./cmd/release mark` adds after a
// stack verified its image. ECR tags are at most 128 characters of [A-Za-z0-9_.-].
const (
	// DeployedTagPattern selects every image a stack verified: deployed-<stack>-<time>, one per
	// stack and image, kept as rollback candidates and as the proof `release check` looks for.
	DeployedTagPattern = "deployed-*"
	// RunningTagPattern selects the image each stack runs now: running-<stack>-<time>, on exactly
	// one image per stack, moved when the stack's image changes.
	RunningTagPattern = "running-*"
	// recordTimeLayout is the time in a record's tag, UTC.
	recordTimeLayout = "20060102T150405Z"
)

var (
	tagUnsafe    = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	recordSuffix = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)
)

// ReleaseRecord is one kind of record tag: "deployed" or "running".
type ReleaseRecord string

// The two records a stack's verified image carries.
const (
	DeployedRecord ReleaseRecord = "deployed"
	RunningRecord  ReleaseRecord = "running"
)

// Tag is the record's tag for stack at a time: <record>-<stack>-<yyyymmddThhmmssZ>.
func (r ReleaseRecord) Tag(stack string, at time.Time) string {
	return r.prefix(stack) + at.UTC().Format(recordTimeLayout)
}

// Of reports whether tag is this record of exactly this stack: deployed-dev-<time> is dev's, not
// a record of a stack named dev-eu (deployed-dev-eu-<time>) or the other way round.
func (r ReleaseRecord) Of(tag, stack string) bool {
	rest, ok := strings.CutPrefix(tag, r.prefix(stack))
	return ok && recordSuffix.MatchString(rest)
}

// Shape is how the record's tags look for a stack, for messages: deployed-dev-<time>.
func (r ReleaseRecord) Shape(stack string) string {
	return r.prefix(stack) + "<time>"
}

func (r ReleaseRecord) prefix(stack string) string {
	return string(r) + "-" + tagUnsafe.ReplaceAllString(stack, "-") + "-"
}
