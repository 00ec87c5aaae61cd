// Package controlid names the controls of the policy suite, so that stack config (waivers) can be
// checked against them without compiling the suite and the Pulumi SDK it reads graphs with. A test
// of the policy package keeps this list equal to its catalog.
package controlid

import "slices"

// All is every control id of the policy suite, sorted.
var All = []string{
	"APP.DATA.1", "APP.EC2.1", "APP.ECS.1", "APP.ELB.1", "APP.IAM.1", "APP.IAM.2", "APP.IAM.3",
	"APP.IAM.4", "APP.NET.1", "APP.NET.2", "APP.OPS.1", "APP.RDS.1", "APP.RDS.2", "APP.REL.1",
	"APP.REL.2", "APP.REL.3", "APP.REL.4", "APP.REL.5", "APP.REL.6", "APP.REL.7", "AutoScaling.2",
	"AutoScaling.4", "AutoScaling.5", "AutoScaling.9", "CloudWatch.15", "CloudWatch.16", "EC2.15",
	"EC2.18", "EC2.19", "EC2.2", "EC2.3", "EC2.6", "EC2.8", "ECR.1", "ECR.2", "ECR.3", "ECS.12",
	"ECS.3", "ECS.4", "ECS.5", "ECS.8", "ECS.9", "ELB.1", "ELB.12", "ELB.13", "ELB.16", "ELB.17",
	"ELB.18", "ELB.4", "ELB.5", "ELB.6", "ElastiCache.1", "ElastiCache.2", "ElastiCache.3",
	"ElastiCache.4", "ElastiCache.5", "ElastiCache.6", "ElastiCache.7", "IAM.1", "IAM.21", "KMS.4",
	"RDS.11", "RDS.13", "RDS.2", "RDS.3", "RDS.5", "RDS.8", "RDS.9", "SQS.1", "StepFunctions.1",
}

// Known reports whether id is a control of the suite.
func Known(id string) bool { return slices.Contains(All, id) }
