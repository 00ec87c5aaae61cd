package policy

import "fmt"

// alertPublishers are the services that publish the stack's alerts: CloudWatch for alarms,
// EventBridge for rules.
var alertPublishers = []string{"cloudwatch.amazonaws.com", "events.amazonaws.com"}

// alertTopics returns the stack's SNS topics that alarms or event rules notify; topics outside the
// stack (an existing topic named in config) are not in the graph and are the user's to secure.
func alertTopics(s *Stack) []*Resource {
	named := map[string]bool{}
	for _, a := range s.OfType(typeMetricAlarm) {
		for _, arn := range append(a.Strs("alarmActions"), a.Strs("okActions")...) {
			named[arn] = true
		}
	}
	for _, t := range s.OfType(typeEventTarget) {
		named[t.Str("arn")] = true
	}
	var out []*Resource
	for _, topic := range s.OfType(typeTopic) {
		if named[topic.Out("arn")] {
			out = append(out, topic)
		}
	}
	return out
}

// admits reports whether a policy document lets service do every one of actions.
func admits(sts []statement, service string, actions ...string) bool {
	for _, action := range actions {
		ok := false
		for _, st := range sts {
			if st.Effect == "Allow" && contains(st.Principals["Service"], service) && (contains(st.Actions, action) || contains(st.Actions, "kms:*")) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

var operationsControls = []Control{
	{
		ID: "CloudWatch.15", Title: "CloudWatch alarms have an action for the ALARM state", Severity: High, ProductionOnly: true,
		Satisfied: "alerts.enabled: every alarm notifies the alert topic on ALARM (recoveries through an EventBridge rule)",
		Check: func(s *Stack, report Reporter) {
			for _, a := range s.OfType(typeMetricAlarm) {
				if a.Len("alarmActions") == 0 || (a.Has("actionsEnabled") && !a.Bool("actionsEnabled")) {
					report(a, "alarmActions", "is empty: nobody is told when it fires")
				}
			}
		},
	},
	{
		ID: "APP.OPS.1", Title: "Alerts go to a topic encrypted with a key that admits their publishers", Severity: High, ProductionOnly: true,
		Satisfied: "alerts.enabled: SNS topic with a customer managed key; key and topic policies admit CloudWatch and EventBridge",
		Check: func(s *Stack, report Reporter) {
			topics := alertTopics(s)
			if len(topics) == 0 {
				for _, svc := range s.OfType(typeService) {
					report(svc, "alerts", "no alarm or rule notifies a topic of the stack: turn alerts on")
				}
			}
			for _, topic := range topics {
				key := s.WithOutput(typeKMSKey, "arn", topic.Str("kmsMasterKeyId"))
				if key == nil {
					report(topic, "kmsMasterKeyId", "is %q, not a key of the stack: CloudWatch cannot use the AWS managed alias/aws/sns key", topic.Str("kmsMasterKeyId"))
				} else if sts, err := statements(key, "policy"); err != nil {
					report(key, "policy", "is not a valid policy document: %v", err)
				} else {
					for _, svc := range alertPublishers {
						if !admits(sts, svc, "kms:GenerateDataKey*", "kms:Decrypt") {
							report(key, "policy", "does not let %s use the key: its messages to the topic are dropped", svc)
						}
					}
				}
				var policy *Resource
				for _, p := range s.OfType(typeTopicPolicy) {
					if p.Str("arn") == topic.Out("arn") {
						policy = p
					}
				}
				if policy == nil {
					report(topic, "policy", "has no topic policy admitting CloudWatch and EventBridge")
					continue
				}
				sts, err := statements(policy, "policy")
				if err != nil {
					report(policy, "policy", "is not a valid policy document: %v", err)
					continue
				}
				for _, svc := range alertPublishers {
					if !admits(sts, svc, "sns:Publish") {
						report(policy, "policy", "does not let %s publish", svc)
					}
				}
				for _, st := range sts {
					if st.Effect == "Allow" && (st.Principals["*"] != nil || contains(st.Principals["AWS"], "*")) {
						report(policy, "policy", "admits every principal: %v", fmt.Sprint(st.Actions))
					}
				}
			}
		},
	},
	boolControl("ECR.1", "ECR repositories scan images on push", High, false, typeRepository, "imageScanningConfiguration.scanOnPush", true,
		"repository: scan on push"),
	{
		// Security Hub SQS.1, "Amazon SQS queues should be encrypted at rest": SSE-SQS or SSE-KMS.
		ID: "SQS.1", Title: "SQS queues are encrypted at rest", Severity: Medium,
		Satisfied: "the jobs' and the rotation reconcile's dead-letter queues use SQS-managed encryption (sqsManagedSseEnabled)",
		Check: func(s *Stack, report Reporter) {
			for _, q := range s.OfType(typeQueue) {
				if !q.Bool("sqsManagedSseEnabled") && q.Str("kmsMasterKeyId") == "" {
					report(q, "sqsManagedSseEnabled", "is off and no kmsMasterKeyId is set: messages are stored unencrypted")
				}
			}
		},
	},
	{
		ID: "ECR.2", Title: "ECR repositories have immutable tags", Severity: Medium,
		Satisfied: "repository: imageTagMutability IMMUTABLE",
		Check: func(s *Stack, report Reporter) {
			for _, r := range s.OfType(typeRepository) {
				if r.Str("imageTagMutability") != "IMMUTABLE" {
					report(r, "imageTagMutability", "is %q: a tag could point at another image tomorrow", r.Str("imageTagMutability"))
				}
			}
		},
	},
	{
		ID: "ECR.3", Title: "ECR repositories have a lifecycle policy", Severity: Medium,
		Satisfied: "repository: lifecycle policy keeping what each stack runs, the verified and the newest images",
		Check: func(s *Stack, report Reporter) {
			for _, r := range s.OfType(typeRepository) {
				found := false
				for _, p := range s.OfType(typeLifecyclePolicy) {
					found = found || p.Str("repository") == r.Out("name")
				}
				if !found {
					report(r, "lifecyclePolicy", "is missing: images accumulate forever")
				}
			}
		},
	},
	boolControl("KMS.4", "Customer managed KMS keys rotate", Medium, false, typeKMSKey, "enableKeyRotation", true,
		"enableKeyRotation on the alert topic's key"),
}
