package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PolicyDocument is an IAM policy, built from Go values so it is always valid JSON.
type PolicyDocument struct {
	Version   string            `json:"Version"`
	Statement []PolicyStatement `json:"Statement"`
}

// PolicyStatement is one statement of a PolicyDocument.
type PolicyStatement struct {
	Sid       string            `json:"Sid,omitempty"`
	Effect    string            `json:"Effect"`
	Principal map[string]string `json:"Principal,omitempty"`
	Action    []string          `json:"Action"`
	Resource  []string          `json:"Resource,omitempty"`
	// Condition maps an operator (StringEquals, ArnEquals...) to condition keys and values.
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

// JSON renders the document.
func (d PolicyDocument) JSON() string {
	d.Version = "2012-10-17"
	b, err := json.Marshal(d)
	if err != nil {
		// Only strings and slices of strings: marshalling cannot fail.
		panic(fmt.Sprintf("policy document: %v", err))
	}
	return string(b)
}

// assumeRolePolicy lets exactly one AWS service principal assume a role.
func assumeRolePolicy(service string) string {
	return PolicyDocument{Statement: []PolicyStatement{{
		Effect:    "Allow",
		Principal: map[string]string{"Service": service},
		Action:    []string{"sts:AssumeRole"},
	}}}.JSON()
}

// newServiceRole is a role exactly one AWS service may assume. Its permissions are separate policy
// resources, which whatever acts with the role must wait for.
func newServiceRole(ctx *pulumi.Context, name, service string, description pulumi.StringInput, parent pulumi.ResourceOption) (*iam.Role, error) {
	return iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      description,
		AssumeRolePolicy: pulumi.String(assumeRolePolicy(service)),
	}, parent)
}

// managedPolicyArn is the ARN of an AWS-managed policy in the stack's partition.
func managedPolicyArn(partition, path string) string {
	return fmt.Sprintf("arn:%s:iam::aws:policy/%s", partition, path)
}
