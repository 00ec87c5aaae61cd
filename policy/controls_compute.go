package policy

import (
	"encoding/base64"
	"fmt"
	"regexp"
)

// userDataSecret matches credentials that must never sit in user data, which any process on the
// instance (and anyone with ec2:DescribeInstanceAttribute) can read.
var userDataSecret = regexp.MustCompile(`(?i)(AKIA[0-9A-Z]{16}|aws_secret_access_key|password\s*=|secret\s*=|token\s*=|-----BEGIN [A-Z ]*PRIVATE KEY-----)`)

var (
	secretEnvName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL)`)
	rootUser      = regexp.MustCompile(`^(0|root)(:.*)?$`)
)

var computeControls = []Control{
	{
		ID: "StepFunctions.1", Title: "State machines log their runs", Severity: Medium,
		Satisfied: "job and rotation state machines log ALL events to a log group of this stack",
		Check: func(s *Stack, report Reporter) {
			for _, m := range s.OfType(typeStateMachine) {
				level := m.Str("loggingConfiguration.level")
				if level == "" || level == "OFF" || m.Str("loggingConfiguration.logDestination") == "" {
					report(m, "loggingConfiguration", "runs are not logged (level %q)", level)
				}
			}
		},
	},
	{
		ID: "EC2.8", Title: "Instances require IMDSv2", Severity: High,
		Satisfied: "launch template httpTokens: required",
		Check: func(s *Stack, report Reporter) {
			for _, lt := range s.OfType(typeLaunchTemplate) {
				if lt.Str("metadataOptions.httpTokens") != "required" {
					report(lt, "metadataOptions.httpTokens", "is %q, not required", lt.Str("metadataOptions.httpTokens"))
				}
			}
		},
	},
	{
		ID: "AutoScaling.4", Title: "The metadata hop limit is 1, so containers cannot reach the instance role", Severity: High,
		Satisfied: "launch template httpPutResponseHopLimit: 1",
		Check: func(s *Stack, report Reporter) {
			for _, lt := range s.OfType(typeLaunchTemplate) {
				if lt.Num("metadataOptions.httpPutResponseHopLimit") != 1 {
					report(lt, "metadataOptions.httpPutResponseHopLimit", "is %v, not 1", lt.Num("metadataOptions.httpPutResponseHopLimit"))
				}
			}
		},
	},
	launchTemplateListControl("AutoScaling.5", "Instances get no public IP address", High,
		"launch template network interface associatePublicIpAddress: \"false\"",
		"networkInterfaces", "associatePublicIpAddress", "false",
		"declares no interface, so the subnet's public IP setting applies"),
	launchTemplateListControl("EC2.3", "EBS volumes are encrypted", Medium,
		"launch template root volume encrypted: \"true\"",
		"blockDeviceMappings", "ebs.encrypted", "true",
		"declares no volume, so encryption depends on account defaults"),
	{
		ID: "AutoScaling.2", Title: "Auto Scaling groups span at least two availability zones", Severity: Medium,
		Satisfied: "vpcZoneIdentifiers: one private subnet per AZ",
		Check: func(s *Stack, report Reporter) {
			for _, asg := range s.OfType(typeASG) {
				// A NAT instance serves its AZ (or all of them) from one subnet; its group replaces it.
				if n := len(asg.Strs("vpcZoneIdentifiers")); n < 2 && !IsNatInstance(asg) {
					report(asg, "vpcZoneIdentifiers", "spans %d subnet(s)", n)
				}
			}
		},
	},
	{
		ID: "AutoScaling.9", Title: "Auto Scaling groups launch from launch templates", Severity: Medium,
		Satisfied: "launchTemplate (or a mixed instances policy over it), never a launch configuration",
		Check: func(s *Stack, report Reporter) {
			for _, asg := range s.OfType(typeASG) {
				if asg.Has("launchConfiguration") || (!asg.Has("launchTemplate") && !asg.Has("mixedInstancesPolicy.launchTemplate")) {
					report(asg, "launchTemplate", "does not launch from a launch template")
				}
			}
		},
	},
	{
		ID: "APP.EC2.1", Title: "User data holds no secrets", Severity: High,
		Satisfied: "user data only joins the cluster",
		Check: func(s *Stack, report Reporter) {
			for _, lt := range s.OfType(typeLaunchTemplate) {
				script, err := base64.StdEncoding.DecodeString(lt.Str("userData"))
				if err != nil {
					script = []byte(lt.Str("userData"))
				}
				if m := userDataSecret.Find(script); m != nil {
					report(lt, "userData", "contains %q", m)
				}
			}
		},
	},
	{
		ID: "ECS.12", Title: "Clusters have Container Insights", Severity: Medium,
		Satisfied: "cluster setting containerInsights: enabled",
		Check: func(s *Stack, report Reporter) {
			for _, c := range s.OfType(typeCluster) {
				on := false
				for i := 0; i < c.Len("settings"); i++ {
					p := fmt.Sprintf("settings.%d", i)
					v := c.Str(p + ".value")
					on = on || (c.Str(p+".name") == "containerInsights" && (v == "enabled" || v == "enhanced"))
				}
				if !on {
					report(c, "settings", "Container Insights is off")
				}
			}
		},
	},
	{
		ID: "ECS.3", Title: "Tasks share neither the host's process namespace nor its network", Severity: High,
		Satisfied: "networkMode bridge, no pidMode",
		Check: func(s *Stack, report Reporter) {
			for _, td := range s.OfType(typeTaskDefinition) {
				if td.Str("pidMode") == "host" {
					report(td, "pidMode", "is host")
				}
				if td.Str("networkMode") == "host" {
					report(td, "networkMode", "is host")
				}
			}
		},
	},
	containerControl("ECS.4", "Containers are not privileged", High, "privileged: false",
		func(c container) string {
			if c.Privileged != nil && *c.Privileged {
				return "privileged: true"
			}
			return ""
		}),
	containerControl("ECS.5", "Containers have a read-only root file system", High,
		"readonlyRootFilesystem (default true) with a tmpfs /tmp",
		func(c container) string {
			if c.ReadonlyRootFilesystem == nil || !*c.ReadonlyRootFilesystem {
				return "the root file system is writable"
			}
			return ""
		}),
	containerControl("APP.ECS.1", "Containers run as a non-root user", Medium, "containerUser, e.g. 101 for nginx-unprivileged",
		func(c container) string {
			if c.User == "" || rootUser.MatchString(c.User) {
				return fmt.Sprintf("user %q is root or the image's default", c.User)
			}
			return ""
		}),
	containerControl("ECS.8", "No secret-looking names in plain environment variables", High,
		"config validation moves them to secrets",
		func(c container) string {
			for _, e := range c.Environment {
				if secretEnvName.MatchString(e.Name) {
					return fmt.Sprintf("environment %s looks like a secret", e.Name)
				}
			}
			return ""
		}),
	{
		ID: "ECS.9", Title: "Containers log with awslogs to a log group of this stack", Severity: High,
		Satisfied: "logConfiguration awslogs into the stack's log group",
		Check: func(s *Stack, report Reporter) {
			groups := map[string]bool{}
			for _, g := range s.OfType(typeLogGroup) {
				groups[g.Out("name")] = true
			}
			forEachContainer(s, report, func(td *Resource, c container) {
				if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != "awslogs" {
					report(td, "containerDefinitions."+c.Name+".logConfiguration", "does not use awslogs")
				} else if g := c.LogConfiguration.Options["awslogs-group"]; !groups[g] {
					report(td, "containerDefinitions."+c.Name+".logConfiguration", "logs to %q, not a log group of this stack", g)
				}
			})
		},
	},
	{
		ID: "CloudWatch.16", Title: "Log groups keep logs for a set retention", Severity: Medium,
		Satisfied: "logRetentionDays on every log group",
		Check: func(s *Stack, report Reporter) {
			for _, g := range s.OfType(typeLogGroup) {
				if g.Num("retentionInDays") <= 0 {
					report(g, "retentionInDays", "is not set: logs are kept (and paid for) forever")
				}
			}
		},
	},
}

// launchTemplateListControl requires every element of a launch template list (network interfaces,
// block devices) to set field to want, which pulumi-aws v6 takes as a string; an empty list fails too,
// since AWS then applies a default the stack does not control.
func launchTemplateListControl(id, title string, severity Severity, satisfied, list, field, want, emptyProblem string) Control {
	return Control{
		ID: id, Title: title, Severity: severity, Satisfied: satisfied,
		Check: func(s *Stack, report Reporter) {
			for _, lt := range s.OfType(typeLaunchTemplate) {
				// A NAT instance needs its public address; APP.NET.2 holds it to its own rules.
				if id == "AutoScaling.5" && IsNatInstance(lt) {
					continue
				}
				if lt.Len(list) == 0 {
					report(lt, list, "%s", emptyProblem)
				}
				for i := 0; i < lt.Len(list); i++ {
					p := fmt.Sprintf("%s.%d.%s", list, i, field)
					if lt.Str(p) != want {
						report(lt, p, "is %q, not %q", lt.Str(p), want)
					}
				}
			}
		},
	}
}

// forEachContainer calls f for each container of each task definition, reporting unparsable ones.
func forEachContainer(s *Stack, report Reporter, f func(td *Resource, c container)) {
	for _, td := range s.OfType(typeTaskDefinition) {
		cs, err := containers(td)
		if err != nil {
			report(td, "containerDefinitions", "is not valid JSON: %v", err)
			continue
		}
		for _, c := range cs {
			f(td, c)
		}
	}
}

// containerControl is a control over every container; problem returns "" when the container passes.
func containerControl(id, title string, severity Severity, satisfied string, problem func(container) string) Control {
	return Control{
		ID: id, Title: title, Severity: severity, Satisfied: satisfied,
		Check: func(s *Stack, report Reporter) {
			forEachContainer(s, report, func(td *Resource, c container) {
				if p := problem(c); p != "" {
					report(td, "containerDefinitions."+c.Name, "%s", p)
				}
			})
		},
	}
}
