package config

import (
	"fmt"
	"regexp"
	"strings"
)

// ECRRepository is where an image in a private ECR registry lives.
type ECRRepository struct {
	Account, Region, Partition, Name string
}

// Arn is the repository's ARN.
func (r ECRRepository) Arn() string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", r.Partition, r.Region, r.Account, r.Name)
}

// ecrImage matches an image in a private ECR registry: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>
// followed by a tag or digest ("Private registry concepts", ECR User Guide).
var ecrImage = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([a-z0-9][a-z0-9._/-]*?)(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$`)

// ParseECR finds the repository of an image in a private ECR registry; ok is false for images
// elsewhere (Docker Hub, ECR Public, GHCR), which ECS pulls without IAM.
func ParseECR(image string) (ECRRepository, bool) {
	m := ecrImage.FindStringSubmatch(image)
	if m == nil {
		return ECRRepository{}, false
	}
	r := ECRRepository{Account: m[1], Region: m[2], Partition: "aws", Name: m[4]}
	switch {
	case m[3] != "":
		r.Partition = "aws-cn"
	case strings.HasPrefix(r.Region, "us-gov-"):
		r.Partition = "aws-us-gov"
	}
	return r, true
}
