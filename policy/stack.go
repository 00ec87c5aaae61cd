package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Stack is a stack's resource graph and what the controls need to know about the stack.
type Stack struct {
	Name       string
	Production bool
	Resources  []*Resource
}

// OfType returns the resources of one type token.
func (s *Stack) OfType(typ string) []*Resource {
	var out []*Resource
	for _, r := range s.Resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// WithOutput returns the resource of a type whose output key equals value (a lookup by id or ARN).
func (s *Stack) WithOutput(typ, key, value string) *Resource {
	if value == "" {
		return nil
	}
	for _, r := range s.OfType(typ) {
		if r.Out(key) == value || (key == "id" && r.ID == value) {
			return r
		}
	}
	return nil
}

// AZCount is the number of availability zones of the stack's VPC (0 without one).
func (s *Stack) AZCount() int {
	for _, vpc := range s.OfType(typeVpc) {
		return int(vpc.Num("numberOfAvailabilityZones"))
	}
	return 0
}

// natInstanceTag marks NAT instances' launch templates and groups (infra.NatInstanceTag): they sit
// in public subnets with a public address on purpose, and have controls of their own.
const natInstanceTag = "nat-instance"

// IsNatInstance reports whether a launch template or Auto Scaling group is a NAT instance's.
func IsNatInstance(r *Resource) bool {
	if r.Type == typeLaunchTemplate {
		return r.Str("tags."+natInstanceTag) != ""
	}
	for i := 0; i < r.Len("tags"); i++ {
		if r.Str(fmt.Sprintf("tags.%d.key", i)) == natInstanceTag {
			return true
		}
	}
	return false
}

// natSecurityGroups are the groups of the NAT instances' launch templates.
func natSecurityGroups(s *Stack) map[string]bool {
	out := map[string]bool{}
	for _, lt := range s.OfType(typeLaunchTemplate) {
		if IsNatInstance(lt) {
			for i := 0; i < lt.Len("networkInterfaces"); i++ {
				for _, sg := range lt.Strs(fmt.Sprintf("networkInterfaces.%d.securityGroups", i)) {
					out[sg] = true
				}
			}
		}
	}
	return out
}

// Resource types the controls look at.
const (
	typeVpc               = "awsx:ec2:Vpc"
	typeDefaultSG         = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
	typeFlowLog           = "aws:ec2/flowLog:FlowLog"
	typeSecurityGroup     = "aws:ec2/securityGroup:SecurityGroup"
	typeIngressRule       = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	typeLoadBalancer      = "aws:lb/loadBalancer:LoadBalancer"
	typeListener          = "aws:lb/listener:Listener"
	typeWebACLAssociation = "aws:wafv2/webAclAssociation:WebAclAssociation"
	typeBucket            = "aws:s3/bucketV2:BucketV2"
	typeBucketPolicy      = "aws:s3/bucketPolicy:BucketPolicy"
	typeLaunchTemplate    = "aws:ec2/launchTemplate:LaunchTemplate"
	typeASG               = "aws:autoscaling/group:Group"
	typeCluster           = "aws:ecs/cluster:Cluster"
	typeCapacityProv      = "aws:ecs/capacityProvider:CapacityProvider"
	typeTaskDefinition    = "aws:ecs/taskDefinition:TaskDefinition"
	typeService           = "aws:ecs/service:Service"
	typeLogGroup          = "aws:cloudwatch/logGroup:LogGroup"
	typeRole              = "aws:iam/role:Role"
	typeRolePolicy        = "aws:iam/rolePolicy:RolePolicy"
	typeAttachment        = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
	typeInstanceProfile   = "aws:iam/instanceProfile:InstanceProfile"
	typeSchedule          = "aws:scheduler/schedule:Schedule"
	typeStateMachine      = "aws:sfn/stateMachine:StateMachine"
	typeEventTarget       = "aws:cloudwatch/eventTarget:EventTarget"
	typeDBInstance        = "aws:rds/instance:Instance"
	typeCacheGroup        = "aws:elasticache/replicationGroup:ReplicationGroup"
	typeMetricAlarm       = "aws:cloudwatch/metricAlarm:MetricAlarm"
	typeTopic             = "aws:sns/topic:Topic"
	typeTopicPolicy       = "aws:sns/topicPolicy:TopicPolicy"
	typeKMSKey            = "aws:kms/key:Key"
	typeRepository        = "aws:ecr/repository:Repository"
	typeLifecyclePolicy   = "aws:ecr/lifecyclePolicy:LifecyclePolicy"
	typeQueue             = "aws:sqs/queue:Queue"
)

// container is the part of an ECS container definition the controls read.
type container struct {
	Name                   string `json:"name"`
	Privileged             *bool  `json:"privileged"`
	ReadonlyRootFilesystem *bool  `json:"readonlyRootFilesystem"`
	User                   string `json:"user"`
	Environment            []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"environment"`
	LogConfiguration *struct {
		LogDriver string            `json:"logDriver"`
		Options   map[string]string `json:"options"`
	} `json:"logConfiguration"`
}

// containers parses a task definition's containerDefinitions JSON.
func containers(td *Resource) ([]container, error) {
	var out []container
	err := json.Unmarshal([]byte(td.Str("containerDefinitions")), &out)
	return out, err
}

// statement is an IAM policy statement with the string-or-list fields normalised.
type statement struct {
	Effect    string
	Actions   []string
	Resources []string
	// Principals maps a principal type (Service, AWS) to its values; "*" alone is {"*": ["*"]}.
	Principals map[string][]string
	Condition  map[string]map[string]any
}

// statements parses an IAM policy document held in a string input.
func statements(r *Resource, path string) ([]statement, error) {
	var doc struct {
		Statement []struct {
			Effect    string                    `json:"Effect"`
			Action    json.RawMessage           `json:"Action"`
			Resource  json.RawMessage           `json:"Resource"`
			Principal json.RawMessage           `json:"Principal"`
			Condition map[string]map[string]any `json:"Condition"`
		} `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(r.Str(path)), &doc); err != nil {
		return nil, err
	}
	var out []statement
	for _, st := range doc.Statement {
		s := statement{Effect: st.Effect, Actions: stringOrList(st.Action), Resources: stringOrList(st.Resource), Condition: st.Condition}
		if len(st.Principal) > 0 {
			s.Principals = map[string][]string{}
			var star string
			if json.Unmarshal(st.Principal, &star) == nil {
				s.Principals[star] = []string{star}
			} else {
				var byType map[string]json.RawMessage
				_ = json.Unmarshal(st.Principal, &byType)
				for k, v := range byType {
					s.Principals[k] = stringOrList(v)
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func stringOrList(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(raw, &many)
	return many
}

// contains reports whether list holds v.
func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// wildcardResource reports an IAM resource that names everything of its kind.
func wildcardResource(r string) bool {
	return r == "*" || strings.HasSuffix(r, ":*") || strings.HasSuffix(r, "secret:*") ||
		strings.HasSuffix(r, "parameter/*") || strings.HasSuffix(r, "key/*")
}
