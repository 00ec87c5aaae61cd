package infra

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
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

// servicePrincipal is an AWS service that assumes one of the stack's roles, and whether it says on
// whose behalf: a service that sends aws:SourceAccount when it assumes a role is trusted only for
// this account, against the cross-service confused deputy ("The confused deputy problem", IAM User
// Guide). A condition the service does not send would refuse it every time, so it is added exactly
// where the service's own guide documents it.
type servicePrincipal struct {
	Service       string
	SourceAccount bool
}

var (
	// EC2 assumes an instance profile's role with no source context (prowler-cloud/prowler#2810).
	ec2Instances = servicePrincipal{"ec2.amazonaws.com", false}
	// The ECS agent assumes a task execution role; the ECS guide documents the condition for task
	// roles only ("Amazon ECS task execution IAM role" shows the bare trust policy), and a refused
	// execution role stops every task from starting, so it stays as AWS shows it.
	ecsTaskAgent = servicePrincipal{"ecs-tasks.amazonaws.com", false}
	// "Amazon ECS task IAM role": "we recommend that you use the aws:SourceAccount or aws:SourceArn
	// condition keys ... in the trust relationship".
	ecsTasks = servicePrincipal{"ecs-tasks.amazonaws.com", true}
	// Step Functions, EventBridge Scheduler, EventBridge and VPC flow logs each document
	// aws:SourceAccount in their execution roles' trust policies.
	stepFunctions = servicePrincipal{"states.amazonaws.com", true}
	schedules     = servicePrincipal{"scheduler.amazonaws.com", true}
	eventBridge   = servicePrincipal{"events.amazonaws.com", true}
	vpcFlowLogs   = servicePrincipal{"vpc-flow-logs.amazonaws.com", true}
)

// assumeRolePolicy lets exactly one AWS service principal assume a role, for account when the
// service says on whose behalf it acts.
func assumeRolePolicy(p servicePrincipal, account string) string {
	st := PolicyStatement{
		Effect:    "Allow",
		Principal: map[string]string{"Service": p.Service},
		Action:    []string{"sts:AssumeRole"},
	}
	if p.SourceAccount {
		st.Condition = map[string]map[string]string{"StringEquals": {"aws:SourceAccount": account}}
	}
	return PolicyDocument{Statement: []PolicyStatement{st}}.JSON()
}

// newServiceRole is a role exactly one AWS service may assume, on this account's behalf where the
// service says so. Its permissions are separate policy resources, which whatever acts with the role
// must wait for.
func newServiceRole(ctx *pulumi.Context, name string, p servicePrincipal, description pulumi.StringInput, parent pulumi.ResourceOrInvokeOption) (*iam.Role, error) {
	account := ""
	if p.SourceAccount {
		caller, err := aws.GetCallerIdentity(ctx, nil, parent)
		if err != nil {
			return nil, fmt.Errorf("role %s: account: %w", name, err)
		}
		account = caller.AccountId
	}
	return iam.NewRole(ctx, name, &iam.RoleArgs{
		Description:      description,
		AssumeRolePolicy: pulumi.String(assumeRolePolicy(p, account)),
	}, parent)
}

// managedPolicyArn is the ARN of an AWS-managed policy in the stack's partition.
func managedPolicyArn(partition, path string) string {
	return fmt.Sprintf("arn:%s:iam::aws:policy/%s", partition, path)
}
