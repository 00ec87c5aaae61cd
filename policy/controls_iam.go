package policy

import "strings"

// policyDocuments yields every IAM document in the stack: inline role policies and trust policies.
func policyDocuments(s *Stack, report Reporter, f func(r *Resource, path string, sts []statement)) {
	for _, p := range s.OfType(typeRolePolicy) {
		if sts, err := statements(p, "policy"); err != nil {
			report(p, "policy", "is not a valid policy document: %v", err)
		} else {
			f(p, "policy", sts)
		}
	}
}

// secretReads are actions that reveal secret material and must name what they read.
var secretReads = []string{"secretsmanager:GetSecretValue", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt"}

// expectedTrust maps a role to the one service that should assume it, from how the stack uses it.
func expectedTrust(s *Stack) map[string]string {
	want := map[string]string{}
	for _, td := range s.OfType(typeTaskDefinition) {
		want[td.Str("taskRoleArn")] = "ecs-tasks.amazonaws.com"
		want[td.Str("executionRoleArn")] = "ecs-tasks.amazonaws.com"
	}
	for _, p := range s.OfType(typeInstanceProfile) {
		if role := s.WithOutput(typeRole, "name", p.Str("role")); role != nil {
			want[role.Out("arn")] = "ec2.amazonaws.com"
		}
	}
	for _, sc := range s.OfType(typeSchedule) {
		want[sc.Str("target.roleArn")] = "scheduler.amazonaws.com"
	}
	for _, m := range s.OfType(typeStateMachine) {
		want[m.Str("roleArn")] = "states.amazonaws.com"
	}
	for _, et := range s.OfType(typeEventTarget) {
		want[et.Str("roleArn")] = "events.amazonaws.com"
	}
	for _, f := range s.OfType(typeFlowLog) {
		want[f.Str("iamRoleArn")] = "vpc-flow-logs.amazonaws.com"
	}
	return want
}

var iamControls = []Control{
	{
		ID: "IAM.1", Title: "No policy grants every action on every resource", Severity: High,
		Satisfied: "policies are built from explicit actions",
		Check: func(s *Stack, report Reporter) {
			policyDocuments(s, report, func(r *Resource, path string, sts []statement) {
				for _, st := range sts {
					if st.Effect == "Allow" && (contains(st.Actions, "*") || contains(st.Actions, "*:*")) {
						report(r, path, "allows every action")
					}
				}
			})
		},
	},
	{
		ID: "IAM.21", Title: "No policy grants a whole service's actions on every resource", Severity: Low,
		Satisfied: "actions are listed one by one",
		Check: func(s *Stack, report Reporter) {
			policyDocuments(s, report, func(r *Resource, path string, sts []statement) {
				for _, st := range sts {
					for _, a := range st.Actions {
						if st.Effect == "Allow" && strings.HasSuffix(a, ":*") && contains(st.Resources, "*") {
							report(r, path, "allows %s on every resource", a)
						}
					}
				}
			})
		},
	},
	{
		ID: "APP.IAM.1", Title: "Secret and key reads name the secrets and keys they read", Severity: High,
		Satisfied: "the execution role reads exactly the configured secrets",
		Check: func(s *Stack, report Reporter) {
			policyDocuments(s, report, func(r *Resource, path string, sts []statement) {
				for _, st := range sts {
					for _, a := range st.Actions {
						if st.Effect != "Allow" || !(contains(secretReads, a) || a == "secretsmanager:*" || a == "ssm:*" || a == "kms:*") {
							continue
						}
						for _, res := range st.Resources {
							if wildcardResource(res) {
								report(r, path, "%s on %q reads more than the app's secrets", a, res)
							}
						}
					}
				}
			})
		},
	},
	{
		ID: "APP.IAM.2", Title: "Each role trusts exactly the service that uses it", Severity: High,
		Satisfied: "task, execution, instance, scheduler, state machine, event target and flow log roles each trust one service principal",
		Check: func(s *Stack, report Reporter) {
			want := expectedTrust(s)
			for _, role := range s.OfType(typeRole) {
				sts, err := statements(role, "assumeRolePolicy")
				if err != nil {
					report(role, "assumeRolePolicy", "is not a valid policy document: %v", err)
					continue
				}
				var services []string
				for _, st := range sts {
					if st.Effect != "Allow" {
						continue
					}
					for kind, values := range st.Principals {
						if kind != "Service" {
							report(role, "assumeRolePolicy", "trusts %s %v, not a service", kind, values)
						}
					}
					services = append(services, st.Principals["Service"]...)
				}
				if len(services) != 1 {
					report(role, "assumeRolePolicy", "trusts %v, want exactly one service", services)
					continue
				}
				if expected, used := want[role.Out("arn")]; used && services[0] != expected {
					report(role, "assumeRolePolicy", "trusts %s but is used by %s", services[0], expected)
				}
			}
		},
	},
	{
		ID: "APP.IAM.3", Title: "The task execution role is not the task role", Severity: Medium,
		Satisfied: "AppService creates two roles",
		Check: func(s *Stack, report Reporter) {
			for _, td := range s.OfType(typeTaskDefinition) {
				if td.Str("taskRoleArn") != "" && td.Str("taskRoleArn") == td.Str("executionRoleArn") {
					report(td, "taskRoleArn", "is the execution role: the app could read every secret and pull every image")
				}
			}
		},
	},
	{
		ID: "APP.IAM.4", Title: "Task execution roles pull images only from named repositories", Severity: Medium,
		Satisfied: "the execution role's own policy names the image's ECR repository; no AmazonECSTaskExecutionRolePolicy",
		Check: func(s *Stack, report Reporter) {
			executionRoles := map[string]bool{}
			for _, td := range s.OfType(typeTaskDefinition) {
				if role := s.WithOutput(typeRole, "arn", td.Str("executionRoleArn")); role != nil {
					executionRoles[role.Out("name")] = true
				}
			}
			for _, a := range s.OfType(typeAttachment) {
				if executionRoles[a.Str("role")] && strings.HasSuffix(a.Str("policyArn"), "/AmazonECSTaskExecutionRolePolicy") {
					report(a, "policyArn", "lets the agent pull from every repository of the account")
				}
			}
			policyDocuments(s, report, func(r *Resource, path string, sts []statement) {
				for _, st := range sts {
					for _, action := range st.Actions {
						if !strings.HasPrefix(action, "ecr:") || action == "ecr:GetAuthorizationToken" || st.Effect != "Allow" {
							continue
						}
						for _, res := range st.Resources {
							if res == "*" || strings.HasSuffix(res, ":repository/*") {
								report(r, path, "allows %s on %s", action, res)
							}
						}
					}
				}
			})
		},
	},
}
