package config_test

import (
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
)

// parse is ParseConfig of Pulumi.yaml's defaults with overrides, for a stack and region.
func parse(t *testing.T, stack, region string, overrides map[string]string) (*config.Config, error) {
	t.Helper()
	cfg := withOverrides(t, overrides)
	return config.ParseConfig(project, stack, region, func(key string) string { return cfg[project+":"+key] })
}

// TestAlertTopicInAnotherRegionIsRefused (review B3): "The targets you associate with a rule must be
// in the same Region as the rule" (AWS Knowledge Center, "sns-not-getting-eventbridge-notification"),
// and EventBridge "supports sending events to cross-account targets in the same Region" only
// ("Sending events to an AWS service in another account", EventBridge User Guide). A topic in
// another region is refused with the config, naming alerts.topicArn and the stack.
func TestAlertTopicInAnotherRegionIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name, region, topic string
		wantErr             bool
	}{
		{"same region", "us-east-1", "arn:aws:sns:us-east-1:123456789012:chatbot-alerts", false},
		{"another region", "us-east-1", "arn:aws:sns:eu-west-1:123456789012:chatbot-alerts", true},
		{"another region of the stack", "eu-west-1", "arn:aws:sns:us-east-1:123456789012:chatbot-alerts", true},
		{"no topic", "us-east-1", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alerts := `{"enabled":true}`
			if tc.topic != "" {
				alerts = `{"enabled":true,"topicArn":"` + tc.topic + `"}`
			}
			image := "123456789012.dkr.ecr." + tc.region + ".amazonaws.com/api:1.4.2"
			_, err := parse(t, "prod-eu", tc.region, map[string]string{"alerts": alerts, "image": image})
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "alerts.topicArn: is in region") || !strings.Contains(err.Error(), `stack prod-eu`) {
				t.Errorf("error %v, want one naming alerts.topicArn, its region and the stack", err)
			}
		})
	}
}

// TestAlertTopicInAnotherAccountIsRefused (review B3): EventBridge delivers to another account's
// topic only with "an execution role" and "a resource policy" on the target ("Sending events to an
// AWS service in another account"), which the stack does not create. The account is AWS's answer
// (the program asks with GetCallerIdentity), so this check is a method the program calls.
func TestAlertTopicInAnotherAccountIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		alerts  config.AlertsConfig
		wantErr bool
	}{
		{"same account", config.AlertsConfig{Enabled: true, TopicArn: "arn:aws:sns:us-east-1:123456789012:x"}, false},
		{"another account", config.AlertsConfig{Enabled: true, TopicArn: "arn:aws:sns:us-east-1:210987654321:x"}, true},
		{"no topic", config.AlertsConfig{Enabled: true}, false},
		{"alerts off", config.AlertsConfig{TopicArn: "arn:aws:sns:us-east-1:210987654321:x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.alerts.CheckTopicAccount("prod", "123456789012")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err != nil && (!strings.HasPrefix(err.Error(), "alerts.topicArn: ") || !strings.Contains(err.Error(), "stack prod") || !strings.Contains(err.Error(), "210987654321")) {
				t.Errorf("error %q does not name alerts.topicArn, the stack and the topic's account", err)
			}
		})
	}
}

// TestFreeStorageAlarmStaysBelowStorageAutoscaling (review B9): RDS storage autoscaling adds storage
// when "Free available space is less than or equal to 10 percent of the allocated storage" ("Managing
// capacity automatically with Amazon RDS storage autoscaling", RDS User Guide). With it on, the alarm
// uses at most half of that share of allocatedStorage (the least the storage ever is), so it never
// fires on autoscaling's own trigger; without it, the configured share.
func TestFreeStorageAlarmStaysBelowStorageAutoscaling(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database string
		percent  string
		want     float64
	}{
		{"autoscaling, default 10 %", `{"enabled":true,"allocatedStorage":50,"maxAllocatedStorage":500}`, "10", 5},
		{"autoscaling, 3 %", `{"enabled":true,"allocatedStorage":50,"maxAllocatedStorage":500}`, "3", 3},
		{"no autoscaling", `{"enabled":true,"allocatedStorage":50,"maxAllocatedStorage":0}`, "10", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, "dev", "us-east-1", map[string]string{
				"database": tc.database,
				"alerts":   `{"enabled":true,"thresholds":{"databaseFreeStoragePercent":` + tc.percent + `}}`,
			})
			if err != nil {
				t.Fatal(err)
			}
			got := c.DatabaseFreeStorageAlarmPercent()
			if got != tc.want {
				t.Errorf("alarm at %v %% of allocatedStorage, want %v", got, tc.want)
			}
			if c.Database.MaxAllocatedStorage > 0 && got >= config.StorageAutoscalingTriggerPercent {
				t.Errorf("alarm at %v %%, at or above storage autoscaling's trigger", got)
			}
		})
	}
}

// TestRunbookURLIsRefusedWhereAlertsWouldBreak: runbookUrl goes as written into alarm descriptions
// (PutMetricAlarm: AlarmDescription at most 1024 characters) and EventBridge input templates, where
// "<name>" is a placeholder and a '"' would end the JSON string the link sits in; each alert appends
// "#<anchor>", so the URL has no fragment of its own.
func TestRunbookURLIsRefusedWhereAlertsWouldBreak(t *testing.T) {
	for _, tc := range []struct {
		name, url, want string
	}{
		{"empty: the repository path", "", ""},
		{"GitHub blob URL", "https://github.com/my-org/ecs-api/blob/main/docs/runbooks.md", ""},
		{"internal wiki with a query", "https://git.example.com/ops/ecs-api/-/blob/main/docs/runbooks.md?plain=0", ""},
		{"plain http", "http://github.com/my-org/ecs-api/blob/main/docs/runbooks.md", "must be an https URL"},
		{"a path, not a URL", "docs/runbooks.md", "must be an https URL"},
		{"a fragment", "https://github.com/my-org/ecs-api/blob/main/docs/runbooks.md#alarms", "must not have a #fragment"},
		{"a quote", `https://example.com/run"books`, "must not contain"},
		{"a placeholder", "https://example.com/<stack>/runbooks.md", "must not contain"},
		{"too long", "https://example.com/" + strings.Repeat("a", config.MaxRunbookURL), "is 220 characters; at most 200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, "prod", "us-east-1", map[string]string{"runbookUrl": tc.url})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if c.RunbookURL != tc.url {
					t.Errorf("RunbookURL %q, want %q", c.RunbookURL, tc.url)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "runbookUrl: "+tc.want) || !strings.Contains(err.Error(), `stack "prod"`) {
				t.Errorf("error %v, want runbookUrl: %s, naming the stack", err, tc.want)
			}
		})
	}
}
