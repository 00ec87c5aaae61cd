package main

// Alerts and the dashboard over the whole graph of every stack file and variant: who is told, by
// which alarm or rule, what AWS accepts of each (PutMetricAlarm, PutRule, PutTargets, key and topic
// policies), and that every name they watch is the stack's own resource.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	alarmType     = "aws:cloudwatch/metricAlarm:MetricAlarm"
	ruleType      = "aws:cloudwatch/eventRule:EventRule"
	targetType    = "aws:cloudwatch/eventTarget:EventTarget"
	topicType     = "aws:sns/topic:Topic"
	keyType       = "aws:kms/key:Key"
	dashboardType = "aws:cloudwatch/dashboard:Dashboard"
)

// loadedConfig is the validated config of a stack variant, as the program sees it.
func loadedConfig(t *testing.T, stack string, v variant) *config.Config {
	t.Helper()
	project, cfg := variantConfig(t, stack, v)
	c, err := config.ParseConfig(project, stack, cfg["aws:region"], func(key string) string { return cfg[project+":"+key] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// monitoringRules are the rules that notify people (all but the one that counts task stops and the
// rotation's own trigger).
func monitoringRules(m *pulumitest.Mocks) []*pulumitest.Resource {
	var out []*pulumitest.Resource
	for _, r := range m.OfType(ruleType) {
		if strings.HasPrefix(r.Name, "monitoring-") && r.Name != "monitoring-task-stops" {
			out = append(out, r)
		}
	}
	return out
}

// arnLike is IAM's ArnLike: * matches any run of characters, ? any one.
func arnLike(pattern, arn string) bool {
	re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(arn)
}

// TestAlertsReachEveryoneFromEveryAlarmAndRule: with alerts on, every alarm of the stack notifies the
// stack's topic and the configured one when it fires (and has no OK action: recoveries come from a
// rule, see TestAlarmsNameTheStackAndRecoveriesAreToldOnlyAfterAnAlarm), every rule that needs a
// person has one target per topic, each address is subscribed to the topics, and the cache sends
// its events to its own topic. With alerts off, nothing notifies anyone and no topic or key exists.
func TestAlertsReachEveryoneFromEveryAlarmAndRule(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		c := loadedConfig(t, stack, v)
		if !c.Alerts.Enabled {
			if n := len(m.OfType(topicType)) + len(m.OfType(keyType)) + len(monitoringRules(m)); n != 0 {
				t.Errorf("alerts off, yet %d topics, keys or notifying rules", n)
			}
			for _, a := range m.OfType(alarmType) {
				if a.Len("alarmActions") != 0 {
					t.Errorf("alerts off, yet alarm %s notifies %v", a.Name, a.Strs("alarmActions"))
				}
			}
			return
		}
		topic := m.Named(topicType, "alerts")
		if topic == nil {
			t.Fatal("alerts on but no alert topic")
		}
		want := []string{topic.Out("arn")}
		if c.Alerts.TopicArn != "" {
			want = append(want, c.Alerts.TopicArn)
		}
		sort.Strings(want)
		if got := m.Exports["alertTopicArn"]; got != topic.Out("arn") {
			t.Errorf("alertTopicArn output %v, want %s", got, topic.Out("arn"))
		}

		alarms := m.OfType(alarmType)
		if len(alarms) < 5 {
			t.Errorf("only %d alarms with alerts on", len(alarms))
		}
		for _, a := range alarms {
			if got := sorted(a.Strs("alarmActions")); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("alarm %s alarmActions %v, want %v", a.Name, got, want)
			}
			if a.Len("okActions") != 0 {
				t.Errorf("alarm %s has OK actions %v, which CloudWatch also runs when it creates the alarm", a.Name, a.Strs("okActions"))
			}
		}

		targets := map[string][]string{}
		for _, tg := range m.OfType(targetType) {
			targets[tg.Str("rule")] = append(targets[tg.Str("rule")], tg.Str("arn"))
		}
		wantRules := []string{"monitoring-deployment-failed", "monitoring-alarm-recovered"}
		for _, j := range c.Jobs {
			wantRules = append(wantRules, "monitoring-"+j.Name+"-task-failed", "monitoring-"+j.Name+"-not-started", "monitoring-"+j.Name+"-run-failed")
		}
		if c.Migrate.Enabled {
			wantRules = append(wantRules, "monitoring-migration-failed")
		}
		if c.Database.Enabled {
			wantRules = append(wantRules, "monitoring-db-event", "monitoring-db-rotation-failed", "monitoring-db-reconcile-failed", "monitoring-db-secret-not-rotated")
		}
		var gotRules []string
		for _, r := range monitoringRules(m) {
			gotRules = append(gotRules, r.Name)
			if got := sorted(targets[r.Out("name")]); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("rule %s notifies %v, want %v", r.Name, got, want)
			}
		}
		if strings.Join(sorted(gotRules), ",") != strings.Join(sorted(wantRules), ",") {
			t.Errorf("notifying rules %v, want %v", sorted(gotRules), sorted(wantRules))
		}

		subscribed := map[string][]string{}
		for _, s := range m.OfType("aws:sns/topicSubscription:TopicSubscription") {
			if s.Str("protocol") != "email" {
				t.Errorf("subscription %s uses %s", s.Name, s.Str("protocol"))
			}
			subscribed[s.Str("topic")] = append(subscribed[s.Str("topic")], s.Str("endpoint"))
		}
		topics := []*pulumitest.Resource{topic}
		cacheTopic := m.Named(topicType, "alerts-cache-events")
		if c.Cache.Enabled {
			if cacheTopic == nil {
				t.Fatal("a cache but no topic for its events")
			}
			topics = append(topics, cacheTopic)
			// ElastiCache drops events to an encrypted topic ("Event Notifications and Amazon SNS").
			if cacheTopic.Has("kmsMasterKeyId") {
				t.Error("the cache events topic is encrypted: ElastiCache would mark it inactive and drop its events")
			}
			if got := one(t, m, "aws:elasticache/replicationGroup:ReplicationGroup").Str("notificationTopicArn"); got != cacheTopic.Out("arn") {
				t.Errorf("the cache notifies %q, want its events topic", got)
			}
		} else if cacheTopic != nil {
			t.Error("a cache events topic without a cache")
		}
		for _, tp := range topics {
			if got := sorted(subscribed[tp.Out("arn")]); strings.Join(got, ",") != strings.Join(sorted(c.Alerts.Emails), ",") {
				t.Errorf("topic %s subscribes %v, want %v", tp.Name, got, c.Alerts.Emails)
			}
		}
	})
}

// TestAlertTopicAdmitsExactlyItsPublishers: the topic is encrypted with the stack's key; the key
// policy keeps the account as administrator and lets exactly CloudWatch and EventBridge use it for
// SNS (kms:GenerateDataKey* and kms:Decrypt, "Enable compatibility between event sources from AWS
// services and encrypted topics"); the topic policy lets exactly those two publish, from this
// account, and its SourceArn patterns admit every alarm and every notifying rule of the stack, so
// none of them is refused.
func TestAlertTopicAdmitsExactlyItsPublishers(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		topic := m.Named(topicType, "alerts")
		if topic == nil {
			return
		}
		key := one(t, m, keyType)
		// KMS aliases: "alias/" and up to 250 of [A-Za-z0-9/_-], never under alias/aws/ (CreateAlias);
		// SNS display names: up to 100 letters, digits, hyphens, underscores and spaces (CreateTopic).
		alias := one(t, m, "aws:kms/alias:Alias")
		if !regexp.MustCompile(`^alias/[A-Za-z0-9/_-]{1,250}$`).MatchString(alias.Str("name")) || strings.HasPrefix(alias.Str("name"), "alias/aws/") ||
			alias.Str("targetKeyId") != key.Out("keyId") {
			t.Errorf("key alias %q for %q", alias.Str("name"), alias.Str("targetKeyId"))
		}
		for _, tp := range m.OfType(topicType) {
			if !regexp.MustCompile(`^[A-Za-z0-9_ -]{1,100}$`).MatchString(tp.Str("displayName")) {
				t.Errorf("topic %s display name %q", tp.Name, tp.Str("displayName"))
			}
		}
		if topic.Str("kmsMasterKeyId") != key.Out("arn") || !key.Bool("enableKeyRotation") {
			t.Errorf("topic key %q (rotation %v), want the stack's key %s, rotated", topic.Str("kmsMasterKeyId"), key.Bool("enableKeyRotation"), key.Out("arn"))
		}
		type statement struct {
			Sid       string
			Principal map[string]string
			Action    []string
			Resource  []string
			Condition map[string]map[string]string
		}
		var keyPolicy, topicPolicy struct{ Statement []statement }
		if err := json.Unmarshal([]byte(key.Str("policy")), &keyPolicy); err != nil {
			t.Fatal(err)
		}
		policy := m.Named("aws:sns/topicPolicy:TopicPolicy", "alerts-policy")
		if policy == nil {
			t.Fatal("no policy on the alert topic")
		}
		if err := json.Unmarshal([]byte(policy.Str("policy")), &topicPolicy); err != nil || policy.Str("arn") != topic.Out("arn") {
			t.Fatalf("topic policy on %q: %v", policy.Str("arn"), err)
		}
		keyUsers := map[string]string{}
		for _, st := range keyPolicy.Statement {
			switch {
			case st.Principal["AWS"] == "arn:aws:iam::"+pulumitest.Account+":root":
				keyUsers["account"] = strings.Join(st.Action, ",")
			case st.Principal["Service"] != "":
				keyUsers[st.Principal["Service"]] = strings.Join(st.Action, ",")
			default:
				t.Errorf("key policy statement %s for %v", st.Sid, st.Principal)
			}
		}
		wantKey := map[string]string{"account": "kms:*", "cloudwatch.amazonaws.com": "kms:Decrypt,kms:GenerateDataKey*", "events.amazonaws.com": "kms:Decrypt,kms:GenerateDataKey*"}
		if fmt.Sprint(keyUsers) != fmt.Sprint(wantKey) {
			t.Errorf("key policy grants %v, want %v", keyUsers, wantKey)
		}

		admitted := map[string]map[string]map[string]string{}
		for _, st := range topicPolicy.Statement {
			if strings.Join(st.Action, ",") != "sns:Publish" || strings.Join(st.Resource, ",") != topic.Out("arn") {
				t.Errorf("topic policy statement %s: %+v", st.Sid, st)
			}
			admitted[st.Principal["Service"]] = st.Condition
		}
		alarms, rules := admitted["cloudwatch.amazonaws.com"], admitted["events.amazonaws.com"]
		if len(admitted) != 2 || alarms == nil {
			t.Fatalf("topic policy admits %v, want exactly CloudWatch (with conditions) and EventBridge", admitted)
		}
		// CloudWatch: only this account's alarms, and every alarm of the stack.
		if alarms["StringEquals"]["aws:SourceAccount"] != pulumitest.Account {
			t.Errorf("CloudWatch is admitted from %q", alarms["StringEquals"]["aws:SourceAccount"])
		}
		for _, a := range m.OfType(alarmType) {
			if !arnLike(alarms["ArnLike"]["aws:SourceArn"], a.Out("arn")) {
				t.Errorf("alarm %s (%s) is not admitted by %s", a.Name, a.Out("arn"), alarms["ArnLike"]["aws:SourceArn"])
			}
		}
		// EventBridge does not support Condition blocks in SNS topic policies ("Amazon SNS
		// permissions", EventBridge User Guide): a condition would refuse every rule.
		if len(rules) != 0 {
			t.Errorf("EventBridge's statement has conditions %v, which EventBridge cannot satisfy", rules)
		}
	})
}

var (
	metricQueryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)
	placeholder   = regexp.MustCompile(`<([A-Za-z0-9_.-]+)>`)
)

// TestAlarmsAndRulesFitWhatAWSAccepts: PutMetricAlarm takes a period of 10, 30 or a multiple of 60
// seconds, evaluates at most a day (period x evaluation periods <= 86400), at most as many datapoints
// as periods, a description of at most 1024 characters, and either one metric or metric queries whose
// ids start with a lowercase letter, are unique, and of which exactly one returns data. PutRule takes
// an event pattern of at most 2048 characters (the default "Event pattern size" quota); PutTargets
// an input template of at most 8192 characters and at most 100 input paths, and EventBridge fills
// only the placeholders the paths define (an undefined one is sent as is). Log groups that EventBridge
// writes to must be named /aws/events/...; CloudWatch Logs resource policy names are at most 255.
func TestAlarmsAndRulesFitWhatAWSAccepts(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		for _, a := range m.OfType(alarmType) {
			periods := []float64{a.Num("period")}
			if a.Has("metricQueries") == a.Has("metricName") {
				t.Errorf("alarm %s: want exactly one of metricName and metricQueries", a.Name)
			}
			if a.Has("metricQueries") {
				periods = nil
				ids, returned := map[string]bool{}, 0
				for i := 0; i < a.Len("metricQueries"); i++ {
					q := fmt.Sprintf("metricQueries.%d.", i)
					id := a.Str(q + "id")
					if !metricQueryID.MatchString(id) || ids[id] {
						t.Errorf("alarm %s: metric query id %q is malformed or repeated", a.Name, id)
					}
					ids[id] = true
					if a.Bool(q + "returnData") {
						returned++
					}
					if a.Has(q + "metric") {
						periods = append(periods, a.Num(q+"metric.period"))
					}
				}
				if returned != 1 {
					t.Errorf("alarm %s: %d metric queries return data, want 1", a.Name, returned)
				}
			}
			for _, p := range periods {
				if p != 10 && p != 30 && (p < 60 || int(p)%60 != 0) {
					t.Errorf("alarm %s: period %v", a.Name, p)
				}
				if p*a.Num("evaluationPeriods") > 86400 {
					t.Errorf("alarm %s evaluates %v x %v s, more than a day", a.Name, a.Num("evaluationPeriods"), p)
				}
			}
			if e, d := a.Num("evaluationPeriods"), a.Num("datapointsToAlarm"); e < 1 || d < 1 || d > e {
				t.Errorf("alarm %s: %v of %v datapoints", a.Name, d, e)
			}
			if len(a.Str("alarmDescription")) > infra.MaxAlarmDescription {
				t.Errorf("alarm %s: description of %d characters", a.Name, len(a.Str("alarmDescription")))
			}
		}
		for _, r := range m.OfType(ruleType) {
			if n := len(r.Str("eventPattern")); n > infra.MaxEventPatternLength || n == 0 {
				t.Errorf("rule %s: event pattern of %d characters", r.Name, n)
			}
		}
		for _, tg := range m.OfType(targetType) {
			// Targets admitted by resource policies (SNS, CloudWatch Logs) take no role: with one,
			// delivery may fail, above all to KMS-encrypted topics ("Using resource-based policies
			// for Amazon EventBridge").
			if dest := tg.Str("arn"); (strings.Contains(dest, ":sns:") || strings.Contains(dest, ":logs:")) && tg.Has("roleArn") {
				t.Errorf("target %s delivers to %s with a role", tg.Name, dest)
			}
			if !tg.Has("inputTransformer") {
				continue
			}
			paths := map[string]bool{}
			for k := range tg.Inputs["inputTransformer"].ObjectValue()["inputPaths"].ObjectValue() {
				paths[string(k)] = true
			}
			var message struct {
				Content struct{ Title, Description string }
			}
			template := tg.Str("inputTransformer.inputTemplate")
			if err := json.Unmarshal([]byte(filledTemplate(t, tg).filled), &message); err != nil {
				t.Errorf("target %s: template, filled, is not a JSON object: %v", tg.Name, err)
			}
			text := message.Content.Title + " " + message.Content.Description
			used := map[string]bool{}
			for _, match := range placeholder.FindAllStringSubmatch(template, -1) {
				used[match[1]] = true
				if !paths[match[1]] {
					t.Errorf("target %s: placeholder <%s> has no input path", tg.Name, match[1])
				}
			}
			for p := range paths {
				if !used[p] {
					t.Errorf("target %s: input path %s is never used", tg.Name, p)
				}
			}
			if len(template) > 8192 || len(paths) > 100 {
				t.Errorf("target %s: template of %d characters, %d paths", tg.Name, len(template), len(paths))
			}
			if !strings.HasPrefix(text, "[ecs-api/"+stack+"] ") {
				t.Errorf("target %s: the message does not start with the stack: %q", tg.Name, text)
			}
		}
		for _, p := range m.OfType("aws:cloudwatch/logResourcePolicy:LogResourcePolicy") {
			if len(p.Str("policyName")) > 255 {
				t.Errorf("log resource policy name %q", p.Str("policyName"))
			}
		}
		if lg := m.Named("aws:cloudwatch/logGroup:LogGroup", "monitoring-task-stops"); lg != nil && !strings.HasPrefix(lg.Str("name"), infra.EventsLogGroupPrefix) {
			t.Errorf("EventBridge writes to %q, outside /aws/events/", lg.Str("name"))
		}
	})
}

// TestLongJobNamesKeepPatternsWithinTheQuota: each job has its own rules, so even many jobs with the
// longest names leave every pattern within EventBridge's 2048-character default.
func TestLongJobNamesKeepPatternsWithinTheQuota(t *testing.T) {
	project, cfg := variantConfig(t, "prod", variant{})
	var jobs []map[string]any
	for i := 0; i < 12; i++ {
		jobs = append(jobs, map[string]any{"name": fmt.Sprintf("%s-%02d", strings.Repeat("j", 29), i), "schedule": "rate(1 day)", "command": []string{"true"}})
	}
	b, _ := json.Marshal(jobs)
	cfg[project+":jobs"] = string(b)
	cfg[project+":maxInstances"] = "20"
	m, err := pulumitest.Run(project, "prod", cfg, program)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(monitoringRules(m)); n < 24 {
		t.Fatalf("%d notifying rules for 12 jobs", n)
	}
	for _, r := range m.OfType(ruleType) {
		if n := len(r.Str("eventPattern")); n > infra.MaxEventPatternLength {
			t.Errorf("rule %s: event pattern of %d characters", r.Name, n)
		}
	}
}

// TestAlarmsAndRulesWatchTheStacksOwnResources: every dimension and pattern names a resource of this
// stack (its cluster, services, load balancer, capacity providers, database, cache nodes, queue,
// job families and state machines), and each alarm measures the metric its name says against the
// configured threshold.
func TestAlarmsAndRulesWatchTheStacksOwnResources(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		c := loadedConfig(t, stack, v)
		if !c.Alerts.Enabled {
			return
		}
		th := c.Alerts.Thresholds
		cluster := one(t, m, "aws:ecs/cluster:Cluster")
		lb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
		var services, serviceArns []string
		for _, s := range m.OfType("aws:ecs/service:Service") {
			services = append(services, s.Out("name"))
			serviceArns = append(serviceArns, strings.Replace(cluster.Out("arn"), ":cluster/", ":service/", 1)+"/"+s.Out("name"))
		}
		var providers []string
		for _, cp := range m.OfType("aws:ecs/capacityProvider:CapacityProvider") {
			providers = append(providers, cp.Out("name"))
		}
		type want struct {
			namespace, metric, operator string
			threshold                   float64
			dims                        map[string]string
		}
		wants := map[string]want{
			"monitoring-lb-5xx": {"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "GreaterThanThreshold", float64(th.LoadBalancer5xxPerMinute),
				map[string]string{"LoadBalancer": lb.Out("arnSuffix")}},
			"monitoring-unexpected-task-stops": {infra.MetricNamespace("ecs-api", stack), infra.UnexpectedStopsMetric, "GreaterThanThreshold", float64(th.UnexpectedStops), nil},
		}
		if db := m.Named("aws:rds/instance:Instance", "db"); db != nil {
			dims := map[string]string{"DBInstanceIdentifier": db.Out("identifier")}
			wants["monitoring-db-cpu"] = want{"AWS/RDS", "CPUUtilization", "GreaterThanThreshold", float64(th.DatabaseCPUPercent), dims}
			wants["monitoring-db-free-storage"] = want{"AWS/RDS", "FreeStorageSpace", "LessThanThreshold",
				float64(c.Database.AllocatedStorage) * c.DatabaseFreeStorageAlarmPercent() / 100 * (1 << 30), dims}
			wants["monitoring-db-free-memory"] = want{"AWS/RDS", "FreeableMemory", "LessThanThreshold", float64(th.DatabaseFreeMemoryMiB) * (1 << 20), dims}
			wants["monitoring-db-connections"] = want{"AWS/RDS", "DatabaseConnections", "GreaterThanThreshold", float64(c.DatabaseConnectionsThreshold()), dims}
		}
		if q := m.Named("aws:sqs/queue:Queue", "jobs-dlq"); q != nil {
			wants["monitoring-job-dlq"] = want{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0, map[string]string{"QueueName": q.Out("name")}}
		}
		if q := m.Named("aws:sqs/queue:Queue", "db-rotation-reconcile-dlq"); q != nil {
			wants["monitoring-db-reconcile-dlq"] = want{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "GreaterThanThreshold", 0, map[string]string{"QueueName": q.Out("name")}}
		} else if m.Named("aws:rds/instance:Instance", "db") != nil {
			t.Error("a database without the rotation reconcile's dead-letter queue")
		}
		for name, w := range wants {
			a := m.Named(alarmType, name)
			if a == nil {
				t.Errorf("no alarm %s", name)
				continue
			}
			dims := map[string]string{}
			if a.Has("dimensions") {
				for k, v := range a.Inputs["dimensions"].ObjectValue() {
					dims[string(k)] = v.StringValue()
				}
			}
			if a.Str("namespace") != w.namespace || a.Str("metricName") != w.metric || a.Str("comparisonOperator") != w.operator ||
				a.Num("threshold") != w.threshold || fmt.Sprint(dims) != fmt.Sprint(w.dims) && len(w.dims) > 0 {
				t.Errorf("alarm %s: %s %s %s %v %v, want %+v", name, a.Str("namespace"), a.Str("metricName"), a.Str("comparisonOperator"), a.Num("threshold"), dims, w)
			}
		}
		filter := one(t, m, "aws:cloudwatch/logMetricFilter:LogMetricFilter")
		if filter.Str("metricTransformation.namespace") != infra.MetricNamespace("ecs-api", stack) || filter.Str("metricTransformation.name") != infra.UnexpectedStopsMetric {
			t.Errorf("the metric filter counts into %s %s, not what the alarm reads", filter.Str("metricTransformation.namespace"), filter.Str("metricTransformation.name"))
		}

		// Task counts per service and capacity waits per provider.
		shortfalls, waits := 0, map[string]bool{}
		for _, a := range m.OfType(alarmType) {
			switch {
			case strings.HasSuffix(a.Name, "-tasks-below-desired"):
				shortfalls++
				for _, id := range []string{"0", "1"} {
					q := "metricQueries." + id + ".metric."
					if a.Str(q+"dimensions.ClusterName") != cluster.Out("name") || !slices.Contains(services, a.Str(q+"dimensions.ServiceName")) ||
						a.Str(q+"namespace") != "ECS/ContainerInsights" {
						t.Errorf("alarm %s reads %s %s of %s/%s", a.Name, a.Str(q+"namespace"), a.Str(q+"metricName"), a.Str(q+"dimensions.ClusterName"), a.Str(q+"dimensions.ServiceName"))
					}
				}
				if a.Num("evaluationPeriods")*60 != float64(th.TaskShortfallMinutes*60) {
					t.Errorf("alarm %s waits %v minutes", a.Name, a.Num("evaluationPeriods"))
				}
			case strings.HasPrefix(a.Name, "monitoring-capacity-wait"):
				if a.Str("metricName") != "CapacityProviderReservation" || a.Num("threshold") != 100 || a.Str("dimensions.ClusterName") != cluster.Out("name") {
					t.Errorf("alarm %s: %s > %v", a.Name, a.Str("metricName"), a.Num("threshold"))
				}
				waits[a.Str("dimensions.CapacityProviderName")] = true
			case strings.HasPrefix(a.Name, "monitoring-cache-"):
				var nodes []string
				for i := 0; i < a.Len("metricQueries"); i++ {
					if id := a.Str(fmt.Sprintf("metricQueries.%d.metric.dimensions.CacheClusterId", i)); id != "" {
						nodes = append(nodes, id)
					}
				}
				members := one(t, m, "aws:elasticache/replicationGroup:ReplicationGroup").Outputs["memberClusters"]
				var want []string
				for _, mc := range members.ArrayValue() {
					want = append(want, mc.StringValue())
				}
				if strings.Join(sorted(nodes), ",") != strings.Join(sorted(want), ",") || len(want) != 1+c.Cache.Replicas {
					t.Errorf("alarm %s reads nodes %v, want every member cluster %v", a.Name, nodes, want)
				}
			}
		}
		if shortfalls != len(services) || len(waits) != len(providers) {
			t.Errorf("%d shortfall alarms for %d services; capacity waits on %v for %v", shortfalls, len(services), waits, providers)
		}

		var pattern struct {
			Resources []string `json:"resources"`
			Detail    struct {
				ClusterArn       []string `json:"clusterArn"`
				Group            []string `json:"group"`
				StateMachineArn  []string `json:"stateMachineArn"`
				SourceIdentifier []string `json:"SourceIdentifier"`
			} `json:"detail"`
		}
		read := func(name string) bool {
			r := m.Named(ruleType, name)
			if r == nil {
				return false
			}
			pattern.Resources, pattern.Detail.ClusterArn, pattern.Detail.Group, pattern.Detail.StateMachineArn, pattern.Detail.SourceIdentifier = nil, nil, nil, nil, nil
			if err := json.Unmarshal([]byte(r.Str("eventPattern")), &pattern); err != nil {
				t.Fatal(err)
			}
			return true
		}
		if read("monitoring-deployment-failed"); strings.Join(sorted(pattern.Resources), ",") != strings.Join(sorted(serviceArns), ",") {
			t.Errorf("deployment rule watches %v, want %v", pattern.Resources, serviceArns)
		}
		if read("monitoring-task-stops"); strings.Join(pattern.Detail.ClusterArn, ",") != cluster.Out("arn") || len(pattern.Detail.Group) != len(services) {
			t.Errorf("task stops rule watches %v in %v", pattern.Detail.Group, pattern.Detail.ClusterArn)
		}
		for _, job := range c.Jobs {
			td := m.Named("aws:ecs/taskDefinition:TaskDefinition", "jobs-"+job.Name+"-task")
			if !read("monitoring-"+job.Name+"-task-failed") || strings.Join(pattern.Detail.Group, ",") != "family:"+td.Str("family") ||
				strings.Join(pattern.Detail.ClusterArn, ",") != cluster.Out("arn") {
				t.Errorf("job %s's task rule watches %v, want family:%s", job.Name, pattern.Detail.Group, td.Str("family"))
			}
			if !read("monitoring-"+job.Name+"-not-started") || strings.Join(pattern.Detail.Group, ",") != "family:"+td.Str("family") ||
				strings.Join(pattern.Detail.ClusterArn, ",") != cluster.Out("arn") {
				t.Errorf("job %s's not-started rule watches %v, want family:%s", job.Name, pattern.Detail.Group, td.Str("family"))
			}
			machine := m.Named("aws:sfn/stateMachine:StateMachine", "jobs-"+job.Name)
			if !read("monitoring-"+job.Name+"-run-failed") || strings.Join(pattern.Detail.StateMachineArn, ",") != machine.Out("arn") {
				t.Errorf("job %s's run rule watches %v, want %s", job.Name, pattern.Detail.StateMachineArn, machine.Out("arn"))
			}
		}
		if db := m.Named("aws:rds/instance:Instance", "db"); db != nil {
			if want := infra.DatabaseInstanceArn("aws", pulumitest.Region, pulumitest.Account, db.Out("identifier")); !read("monitoring-db-event") ||
				strings.Join(pattern.Resources, ",") != want {
				t.Errorf("database rule watches %v, want %s", pattern.Resources, want)
			}
			machine := m.Named("aws:sfn/stateMachine:StateMachine", "db-rotation")
			if !read("monitoring-db-rotation-failed") || strings.Join(pattern.Detail.StateMachineArn, ",") != machine.Out("arn") {
				t.Errorf("rotation rule watches %v", pattern.Detail.StateMachineArn)
			}
			reconcile := m.Named("aws:sfn/stateMachine:StateMachine", "db-rotation-reconcile")
			if !read("monitoring-db-reconcile-failed") || reconcile == nil || strings.Join(pattern.Detail.StateMachineArn, ",") != reconcile.Out("arn") {
				t.Errorf("rotation reconcile rule watches %v", pattern.Detail.StateMachineArn)
			}
		}

		// Unexpected stops reach the log group through a policy for exactly that rule.
		stops, lg := m.Named(ruleType, "monitoring-task-stops"), m.Named("aws:cloudwatch/logGroup:LogGroup", "monitoring-task-stops")
		var doc struct {
			Statement []struct {
				Principal map[string]string
				Action    []string
				Resource  []string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(one(t, m, "aws:cloudwatch/logResourcePolicy:LogResourcePolicy").Str("policyDocument")), &doc); err != nil {
			t.Fatal(err)
		}
		admitted := false
		for _, st := range doc.Statement {
			if strings.Join(st.Resource, ",") != lg.Out("arn")+":*" {
				t.Errorf("log policy statement %+v is not for the stops' log group only", st)
			}
			admitted = admitted || st.Principal["Service"] == "events.amazonaws.com" && slices.Contains(st.Action, "logs:PutLogEvents")
		}
		if !admitted {
			t.Error("the log resource policy does not let EventBridge put events")
		}
		if target := m.Named(targetType, "monitoring-task-stops"); target.Str("rule") != stops.Out("name") || target.Str("arn") != lg.Out("arn") {
			t.Errorf("the stops rule delivers to %s, not its log group", target.Str("arn"))
		}
	})
}

// TestEveryStackHasItsDashboard: one dashboard per stack, named for it within CloudWatch's rules
// (255 characters: letters, digits, - and _), whose link is an output; its widgets follow what the
// stack has (no cache widgets without a cache), every alarm of the stack is on it, and its metrics
// name the stack's own resources.
func TestEveryStackHasItsDashboard(t *testing.T) {
	dashboardName := regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		c := loadedConfig(t, stack, v)
		d := one(t, m, dashboardType)
		name := d.Str("dashboardName")
		if !dashboardName.MatchString(name) || !strings.Contains(name, stack) {
			t.Errorf("dashboard name %q", name)
		}
		if got, want := m.Exports["dashboardUrl"], infra.DashboardURL("aws", "us-east-1", name); got != want {
			t.Errorf("dashboardUrl %v, want %s", got, want)
		}
		body := d.Str("dashboardBody")
		var parsed struct {
			Widgets []struct {
				Type       string
				Properties struct {
					Title  string
					Alarms []string
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &parsed); err != nil {
			t.Fatal(err)
		}
		titles := map[string]bool{}
		var onDashboard []string
		for _, w := range parsed.Widgets {
			titles[strings.TrimPrefix(w.Properties.Title, "ecs-api/"+stack+": ")] = true
			onDashboard = append(onDashboard, w.Properties.Alarms...)
		}
		for widget, present := range map[string]bool{
			infra.WidgetRequests: true, infra.WidgetTasks: true, infra.WidgetCapacity: true,
			infra.WidgetDatabase: c.Database.Enabled, infra.WidgetCache: c.Cache.Enabled, infra.WidgetCacheEvict: c.Cache.Enabled,
			infra.WidgetJobs: len(c.Jobs) > 0, infra.WidgetAlarms: len(m.OfType(alarmType)) > 0,
		} {
			if titles[widget] != present {
				t.Errorf("widget %q shown %v, want %v", widget, titles[widget], present)
			}
		}
		var alarms []string
		for _, a := range m.OfType(alarmType) {
			alarms = append(alarms, a.Out("arn"))
		}
		if strings.Join(sorted(onDashboard), ",") != strings.Join(sorted(alarms), ",") {
			t.Errorf("dashboard shows alarms %v, want every alarm %v", onDashboard, alarms)
		}
		for _, name := range []string{
			one(t, m, "aws:ecs/cluster:Cluster").Out("name"), one(t, m, "aws:lb/loadBalancer:LoadBalancer").Out("arnSuffix"),
			one(t, m, "aws:lb/targetGroup:TargetGroup").Out("arnSuffix"),
		} {
			if !strings.Contains(body, `"`+name+`"`) {
				t.Errorf("the dashboard does not show %s", name)
			}
		}
		for _, s := range m.OfType("aws:ecs/service:Service") {
			if !strings.Contains(body, `"`+s.Out("name")+`"`) {
				t.Errorf("the dashboard does not show service %s", s.Out("name"))
			}
		}
	})
}

func sorted(values []string) []string {
	out := append([]string(nil), values...)
	sort.Strings(out)
	return out
}

// targetsOfRule maps each rule's name (as the targets name it) to the rule.
func rulesByName(m *pulumitest.Mocks) map[string]*pulumitest.Resource {
	rules := map[string]*pulumitest.Resource{}
	for _, r := range m.OfType(ruleType) {
		rules[r.Out("name")] = r
	}
	return rules
}

// TestEventBridgeTemplatesCarryLiteralPlaceholders (review B1, B10), over every EventTarget of every
// stack file and variant, on the raw inputTransformer.inputTemplate as PutTargets gets it, never on
// what a JSON decoder makes of it:
//   - EventBridge fills only literal placeholders: "you can use those variables in the Input
//     Template as <variable-name>" ("Amazon EventBridge input transformation"); Go's json.Marshal
//     turns "<" into \u003c ("HTMLEscape", encoding/json), which EventBridge leaves unfilled
//     (hashicorp/terraform#38733, the same bug through jsonencode). So every input path's <key> is
//     in the raw text, no \u003c, \u003e or \u0026 is, and no other "<" or ">" is either ("The
//     characters "<" and ">" cannot be escaped", EventBridge User Guide).
//   - A template that is a JSON string reaches e-mail inside its quotes
//     (hashicorp/terraform-provider-aws#43253); the templates are JSON objects in AWS Chatbot's
//     custom-notification format ("Custom notifications using Amazon Q Developer in chat
//     applications": version "1.0", source "custom", content), whose title names the stack.
//   - A path "that doesn't exist in the event ... isn't created" ("Common issues with transforming
//     input"): a task that never started has no exit code, so the message about it uses none and
//     says it never started, and the exit-code rule leaves such tasks out.
func TestEventBridgeTemplatesCarryLiteralPlaceholders(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		rules := rulesByName(m)
		checked := 0
		for _, tg := range m.OfType(targetType) {
			if !tg.Has("inputTransformer") {
				continue
			}
			checked++
			raw := tg.Str("inputTransformer.inputTemplate")
			for _, escaped := range []string{`\u003c`, `\u003e`, `\u0026`} {
				if strings.Contains(raw, escaped) {
					t.Errorf("target %s: template has %s, which EventBridge does not read as a placeholder: %s", tg.Name, escaped, raw)
				}
			}
			rest := raw
			for k := range tg.Inputs["inputTransformer"].ObjectValue()["inputPaths"].ObjectValue() {
				if !strings.Contains(raw, "<"+string(k)+">") {
					t.Errorf("target %s: template lacks the literal <%s>: %s", tg.Name, k, raw)
				}
				rest = strings.ReplaceAll(rest, "<"+string(k)+">", "")
			}
			if strings.ContainsAny(rest, "<>") {
				t.Errorf("target %s: a \"<\" or \">\" that is no placeholder: %s", tg.Name, rest)
			}
			var message struct {
				Version, Source string
				Content         struct{ Title, Description, TextType string }
			}
			if !strings.HasPrefix(raw, "{") || json.Unmarshal([]byte(filledTemplate(t, tg).filled), &message) != nil {
				t.Errorf("target %s: template, filled, is not a JSON object: %s", tg.Name, raw)
				continue
			}
			if message.Version != "1.0" || message.Source != "custom" || message.Content.Description == "" ||
				!strings.HasPrefix(message.Content.Title, "[ecs-api/"+stack+"] ") {
				t.Errorf("target %s: not a Chatbot custom notification titled with the stack: %s", tg.Name, raw)
			}

			rule := rules[tg.Str("rule")]
			if rule == nil {
				t.Fatalf("target %s: no rule %s", tg.Name, tg.Str("rule"))
			}
			var pattern struct {
				Detail struct{ StopCode []any }
			}
			if err := json.Unmarshal([]byte(rule.Str("eventPattern")), &pattern); err != nil {
				t.Fatal(err)
			}
			exitPath := tg.Str("inputTransformer.inputPaths.exitCode") != ""
			for _, code := range pattern.Detail.StopCode {
				switch code := code.(type) {
				case string:
					if code == "TaskFailedToStart" && strings.HasSuffix(rule.Name, "-not-started") &&
						(exitPath || !strings.Contains(message.Content.Title, "never started")) {
						t.Errorf("target %s: a task that never started is told with an exit code or without saying so: %s", tg.Name, raw)
					}
				case map[string]any:
					if code["anything-but"] != "TaskFailedToStart" {
						t.Errorf("rule %s: stop code filter %v", rule.Name, code)
					}
				}
			}
			if exitPath && !strings.Contains(rule.Str("eventPattern"), `"stopCode":[{"anything-but":"TaskFailedToStart"}]`) {
				t.Errorf("rule %s tells an exit code but also matches tasks that never started: %s", rule.Name, rule.Str("eventPattern"))
			}
		}
		if c := loadedConfig(t, stack, v); c.Alerts.Enabled && checked < 3 {
			t.Errorf("only %d targets with an input transformer", checked)
		}
	})
}

// freeText is what the tests put in every free-text value: the quotes of ECS's reasons, e.g.
// CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref
// "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.3": not found.
const freeText = `CannotPullContainerError: x "y" z`

// filled is a target's input template filled in for an event.
type filled struct {
	filled string
	// values are the variables' values; freeText names the free-text ones.
	values   map[string]string
	freeText []string
}

// filledTemplate fills a target's input template for an event whose identifier paths hold plain
// ARN-like values and whose free-text paths hold freeText, as EventBridge fills it. Every input path
// must be one that infra classifies (infra.IdentifierEventPaths or infra.FreeTextEventPaths): a new
// rule that reads a path of neither kind fails here.
func filledTemplate(t *testing.T, tg *pulumitest.Resource) filled {
	t.Helper()
	f := filled{values: map[string]string{}}
	for k, path := range tg.Inputs["inputTransformer"].ObjectValue()["inputPaths"].ObjectValue() {
		name := string(k)
		switch {
		case slices.Contains(infra.FreeTextEventPaths, path.StringValue()):
			f.values[name] = freeText + " (" + name + ")"
			f.freeText = append(f.freeText, name)
		case slices.Contains(infra.IdentifierEventPaths, path.StringValue()):
			f.values[name] = "arn:aws:ecs:us-east-1:123456789012:task/ecs-api-prod/" + name
		default:
			t.Errorf("target %s: input path %s (<%s>) is neither in infra.IdentifierEventPaths nor in infra.FreeTextEventPaths", tg.Name, path.StringValue(), name)
			f.values[name] = name
		}
	}
	sort.Strings(f.freeText)
	f.filled = fillTemplate(tg.Str("inputTransformer.inputTemplate"), f.values)
	return f
}

// fillTemplate fills the <name>s of an input template as EventBridge does. Inside a JSON string it
// puts the value as it is: "EventBridge doesn't escape values extracted by Input Path, when
// populating the Input Template for a target" ("Common Issues with Transforming Input", EventBridge
// User Guide). Where the placeholder stands as a JSON value of its own it puts the value as JSON, a
// string with its quotes: {"instance" : <instance>, "state": [ 9, <state>, true ]} gives
// {"instance" : "i-0123456789", "state": [9, "RUNNING", true]} ("Input transform examples", same
// page), and the quotes and backslashes inside are escaped as JSON has them.
func fillTemplate(template string, values map[string]string) string {
	var out strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(template); i++ {
		c := template[i]
		if c == '<' {
			if end := strings.IndexByte(template[i+1:], '>'); end >= 0 {
				if v, ok := values[template[i+1:i+1+end]]; ok {
					if inString {
						out.WriteString(v)
					} else {
						b, _ := json.Marshal(v)
						out.Write(b)
					}
					i += end + 1
					continue
				}
			}
		}
		out.WriteByte(c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return out.String()
}

// TestFreeTextOfEventsReachesChatbotAsValidJSON (review R1): ECS's, RDS's and CloudWatch's reasons
// and messages are free text that quotes what failed (an image name, an ARN, whatever a container
// printed), and "EventBridge doesn't escape values extracted by Input Path, when populating the
// Input Template for a target" ("Common Issues with Transforming Input", EventBridge User Guide): a
// '"' inside a JSON string of the template makes the message invalid JSON, which Chatbot drops. For
// every target of every stack file and variant, its raw template is filled as EventBridge fills it
// (fillTemplate), identifiers with ARN-like values and free text with a value holding quotes; the
// message must be valid JSON, a Chatbot custom notification ("version": "1.0", "source": "custom",
// content.nextSteps a list of strings, "Custom notifications using Amazon Q Developer in chat
// applications"), and carry each free-text value whole, as a line of content.nextSteps, and each
// identifier.
func TestFreeTextOfEventsReachesChatbotAsValidJSON(t *testing.T) {
	for _, p := range infra.FreeTextEventPaths {
		if slices.Contains(infra.IdentifierEventPaths, p) {
			t.Errorf("%s is both an identifier and free text", p)
		}
	}
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		checked := 0
		for _, tg := range m.OfType(targetType) {
			if !tg.Has("inputTransformer") {
				continue
			}
			f := filledTemplate(t, tg)
			if len(f.freeText) > 0 {
				checked++
			}
			if !json.Valid([]byte(f.filled)) {
				t.Errorf("target %s: the message is not JSON once EventBridge fills it, and Chatbot drops it:\n%s", tg.Name, f.filled)
				continue
			}
			var message struct {
				Version, Source string
				Content         struct {
					Title, Description string
					NextSteps          []string
				}
			}
			if err := json.Unmarshal([]byte(f.filled), &message); err != nil || message.Version != "1.0" || message.Source != "custom" {
				t.Errorf("target %s: not a Chatbot custom notification (%v): %s", tg.Name, err, f.filled)
				continue
			}
			for _, name := range f.freeText {
				if !slices.Contains(message.Content.NextSteps, f.values[name]) {
					t.Errorf("target %s: <%s> does not reach the message whole as a line of nextSteps: %s", tg.Name, name, f.filled)
				}
			}
			text := message.Content.Title + " " + message.Content.Description
			for name, value := range f.values {
				if !slices.Contains(f.freeText, name) && !strings.Contains(text, value) {
					t.Errorf("target %s: identifier <%s> is not in the title or description: %s", tg.Name, name, f.filled)
				}
			}
		}
		if loadedConfig(t, stack, v).Alerts.Enabled && checked < 3 {
			t.Errorf("only %d targets tell free text", checked)
		}
	})
}

// subscriptionType is SNS's subscription resource.
const subscriptionType = "aws:sns/topicSubscription:TopicSubscription"

// replaceOrder records whether each subscription was registered delete-before-replace, which
// pulumitest's Resource does not keep; the embedded mocks record the rest.
type replaceOrder struct {
	*pulumitest.Mocks
	mu          sync.Mutex
	deleteFirst map[string]bool
}

func (r *replaceOrder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	if args.TypeToken == subscriptionType {
		r.mu.Lock()
		r.deleteFirst[args.Name] = args.RegisterRPC.GetDeleteBeforeReplace()
		r.mu.Unlock()
	}
	return r.Mocks.NewResource(args)
}

// TestEmailSubscriptionsAreReplacedDeleteFirst (review R3): "By default, to minimize downtime,
// Pulumi creates new instances of resources before deleting old ones" ("Resource option:
// deleteBeforeReplace"). SNS answers Subscribe for an address already confirmed with that
// subscription's ARN, so a replacement created first is the confirmed subscription itself, and the
// old resource's delete then unsubscribes it while the state shows it subscribed. Every e-mail
// subscription, to either topic, is registered with DeleteBeforeReplace; the option is read from the
// registration itself (RegisterResourceRequest.deleteBeforeReplace), as the engine gets it.
func TestEmailSubscriptionsAreReplacedDeleteFirst(t *testing.T) {
	forEachVariantConfig(t, func(t *testing.T, stack, project string, v variant, cfg map[string]string) {
		rec := &replaceOrder{Mocks: &pulumitest.Mocks{Project: project, Stack: stack, Exports: map[string]any{}}, deleteFirst: map[string]bool{}}
		if err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, rec), func(ri *pulumi.RunInfo) { ri.Config = cfg }); err != nil {
			t.Fatalf("program failed: %v", err)
		}
		subs := rec.OfType(subscriptionType)
		if c := loadedConfig(t, stack, v); c.Alerts.Enabled && len(c.Alerts.Emails) > 0 && len(subs) == 0 {
			t.Fatal("addresses to alert but no subscription")
		}
		for _, s := range subs {
			if !rec.deleteFirst[s.Name] {
				t.Errorf("subscription %s (%s) is replaced create-first: the delete of the old one would unsubscribe the confirmed address", s.Name, s.Str("endpoint"))
			}
		}
	})
}

// TestCacheEventsTopicAdmitsElastiCache (review B2): "The Amazon SNS topic's access policy must use
// the aws:SourceOwner condition key. If the policy uses aws:SourceAccount (which is now the default
// for newly created topics), ElastiCache cannot publish to the topic" ("Event Notifications and
// Amazon SNS", ElastiCache User Guide), and it then "automatically sets the topic status to
// inactive" ("Managing ElastiCache Amazon SNS notifications", whose statement this is: Principal
// AWS *, SNS:Publish, StringEquals AWS:SourceOwner <account>). The cache is told the topic only once
// that policy exists.
func TestCacheEventsTopicAdmitsElastiCache(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		topic := m.Named(topicType, "alerts-cache-events")
		if topic == nil {
			return
		}
		var policy *pulumitest.Resource
		for _, p := range m.OfType("aws:sns/topicPolicy:TopicPolicy") {
			if p.Str("arn") == topic.Out("arn") {
				policy = p
			}
		}
		if policy == nil {
			t.Fatal("the cache events topic has no policy: SNS's default one uses aws:SourceAccount, which ElastiCache cannot satisfy")
		}
		var doc struct {
			Statement []struct {
				Effect    string
				Principal map[string]string
				Action    []string
				Resource  []string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(policy.Str("policy")), &doc); err != nil {
			t.Fatal(err)
		}
		admitted := false
		for _, st := range doc.Statement {
			admitted = admitted || st.Effect == "Allow" && st.Principal["AWS"] == "*" && slices.Contains(st.Action, "sns:Publish") &&
				slices.Equal(st.Resource, []string{topic.Out("arn")}) && st.Condition["StringEquals"]["AWS:SourceOwner"] == pulumitest.Account &&
				len(st.Condition) == 1 && len(st.Condition["StringEquals"]) == 1
		}
		if !admitted {
			t.Errorf("the cache events topic's policy does not let ElastiCache publish for this account: %s", policy.Str("policy"))
		}
		group := one(t, m, "aws:elasticache/replicationGroup:ReplicationGroup")
		if !group.DependsOn(policy) {
			t.Error("the cache is told its topic before the topic admits it")
		}
	})
}

// TestAlertTopicInAnotherAccountFailsBeforeAnythingIsCreated (review B3): EventBridge "supports
// sending events to cross-account targets in the same Region" only with "an execution role" and "a
// resource policy" on the target ("Sending events to an AWS service in another account", EventBridge
// User Guide), which the stack does not create; such a topic is refused, naming alerts.topicArn and
// the stack, before any resource is registered. The region is checked with the config (config's
// TestAlertTopicInAnotherRegionIsRefused).
func TestAlertTopicInAnotherAccountFailsBeforeAnythingIsCreated(t *testing.T) {
	project, cfg := variantConfig(t, "prod", variant{objects: map[string]map[string]any{
		"alerts": {"enabled": true, "topicArn": "arn:aws:sns:us-east-1:210987654321:chatbot-alerts"},
	}})
	m, err := pulumitest.Run(project, "prod", cfg, program)
	if err == nil || !strings.Contains(err.Error(), "alerts.topicArn:") || !strings.Contains(err.Error(), "prod") || !strings.Contains(err.Error(), "210987654321") {
		t.Fatalf("a topic in another account: %v", err)
	}
	for _, r := range m.Resources() {
		if !strings.HasPrefix(r.Type, "pulumi:providers:") {
			t.Errorf("%s %s registered before the topic's account was checked", r.Type, r.Name)
		}
	}

	project, cfg = variantConfig(t, "prod", variant{objects: map[string]map[string]any{
		"alerts": {"enabled": true, "topicArn": "arn:aws:sns:us-east-1:" + pulumitest.Account + ":chatbot-alerts"},
	}})
	if _, err := pulumitest.Run(project, "prod", cfg, program); err != nil {
		t.Errorf("a topic of this account and region: %v", err)
	}
}

// TestEmailSubscriptionsAreKeyedByAddress (review B4): a subscription's endpoint cannot change in
// place (terraform-provider-aws, topic_subscription.go: endpoint ForceNew), and a replaced one is
// pending again until its address confirms it. Named by address, removing the first address
// leaves the second's subscriptions (to both topics) where they are; names are the same for an
// address in any case.
func TestEmailSubscriptionsAreKeyedByAddress(t *testing.T) {
	const a, b = "oncall@example.com", "Team.Lead@example.com"
	urns := func(emails ...string) map[string]string {
		project, cfg := variantConfig(t, "prod", variant{objects: map[string]map[string]any{
			"alerts": {"enabled": true, "emails": emails}, "cache": {"enabled": true},
		}})
		m, err := pulumitest.Run(project, "prod", cfg, program)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range m.OfType("aws:sns/topicSubscription:TopicSubscription") {
			out[s.Str("topic")+" "+strings.ToLower(s.Str("endpoint"))] = s.URN
		}
		return out
	}
	both, second := urns(a, b), urns(b)
	if len(both) != 4 || len(second) != 2 {
		t.Fatalf("subscriptions %v and %v, want two topics of two and of one address", both, second)
	}
	for key, urn := range second {
		if both[key] != urn {
			t.Errorf("removing %s renames %s's subscription: %s, was %s", a, key, urn, both[key])
		}
	}
	if got, want := infra.EmailSubscriptionName("alerts", "TEAM.lead@Example.com"), infra.EmailSubscriptionName("alerts", b); got != want {
		t.Errorf("the same address in another case is named %s, not %s", got, want)
	}
	if infra.EmailSubscriptionName("alerts", "a.b@x.io") == infra.EmailSubscriptionName("alerts", "a-b@x.io") {
		t.Error("two addresses that slug alike share a name")
	}
}

// TestCacheEventsReachPeopleOnlyForFailoverReplacementOrFailure (review B5): ElastiCache's SNS
// events include "ElastiCache:SnapshotComplete - A cache snapshot has completed successfully"
// ("Event Notifications and Amazon SNS", ElastiCache User Guide), every day with backups on. Each
// subscription to the cache topic filters the message body ("Amazon SNS subscription filter policy
// scope": MessageBody) on the failover, replacement and failure events.
func TestCacheEventsReachPeopleOnlyForFailoverReplacementOrFailure(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		topic := m.Named(topicType, "alerts-cache-events")
		if topic == nil {
			return
		}
		subs := 0
		for _, s := range m.OfType("aws:sns/topicSubscription:TopicSubscription") {
			if s.Str("topic") != topic.Out("arn") {
				if s.Has("filterPolicy") {
					t.Errorf("subscription %s to the alert topic is filtered", s.Name)
				}
				continue
			}
			subs++
			policy := s.Str("filterPolicy")
			if s.Str("filterPolicyScope") != "MessageBody" || policy != infra.CacheEventsFilterPolicy() ||
				strings.Contains(policy, "SnapshotComplete") || !strings.Contains(policy, `"ElastiCache:FailoverComplete"`) {
				t.Errorf("subscription %s: filter %q on %s", s.Name, policy, s.Str("filterPolicyScope"))
			}
		}
		if c := loadedConfig(t, stack, v); subs != len(c.Alerts.Emails) {
			t.Errorf("%d cache subscriptions for %d addresses", subs, len(c.Alerts.Emails))
		}
	})
}

// TestFailedRotationOfTheDatabaseSecretAlerts (review B6): "RotationFailed event - Secret rotation
// failed" and "RotationAbandoned event" are CloudTrail events of Secrets Manager ("Logging AWS
// Secrets Manager events with AWS CloudTrail"), matched in the shape of the rotation's
// RotationSucceeded rule: the database's secret in additionalEventData.SecretId.
func TestFailedRotationOfTheDatabaseSecretAlerts(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		db := m.Named("aws:rds/instance:Instance", "db")
		if db == nil || !loadedConfig(t, stack, v).Alerts.Enabled {
			return
		}
		secret := db.Outputs["masterUserSecrets"].ArrayValue()[0].ObjectValue()["secretArn"].StringValue()
		found := false
		for _, r := range monitoringRules(m) {
			var pattern struct {
				Source []string
				Detail struct {
					EventName           []string
					AdditionalEventData struct{ SecretId []string }
				}
			}
			if err := json.Unmarshal([]byte(r.Str("eventPattern")), &pattern); err != nil {
				t.Fatal(err)
			}
			if slices.Contains(pattern.Detail.EventName, "RotationFailed") {
				found = true
				if !slices.Equal(pattern.Source, []string{"aws.secretsmanager"}) || !slices.Contains(pattern.Detail.EventName, "RotationAbandoned") ||
					!slices.Equal(pattern.Detail.AdditionalEventData.SecretId, []string{secret}) {
					t.Errorf("rule %s: %s, want the failures of %s", r.Name, r.Str("eventPattern"), secret)
				}
			}
		}
		if !found {
			t.Error("no rule tells a failed rotation of the database password")
		}
	})
}

// TestDatabaseRuleMatchesTheInstanceByArn (review B7): AWS's RDS event examples differ on
// detail.SourceIdentifier ("rds:my-db-instance" in one, the bare id in "Tutorial: Log DB instance
// state changes using Amazon EventBridge", RDS User Guide, and the Lambda Developer Guide's sample
// event), and all carry the instance's ARN in resources; the rule matches that ARN, the whole of
// it, and not the identifier.
func TestDatabaseRuleMatchesTheInstanceByArn(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		db := m.Named("aws:rds/instance:Instance", "db")
		rule := m.Named(ruleType, "monitoring-db-event")
		if db == nil || rule == nil {
			return
		}
		var pattern struct {
			Resources []string
			Detail    map[string]any
		}
		if err := json.Unmarshal([]byte(rule.Str("eventPattern")), &pattern); err != nil {
			t.Fatal(err)
		}
		want := "arn:aws:rds:" + pulumitest.Region + ":" + pulumitest.Account + ":db:" + db.Out("identifier")
		if !slices.Equal(pattern.Resources, []string{want}) {
			t.Errorf("database rule matches resources %v, want [%s]", pattern.Resources, want)
		}
		if _, ok := pattern.Detail["SourceIdentifier"]; ok {
			t.Errorf("database rule still filters on SourceIdentifier: %s", rule.Str("eventPattern"))
		}
	})
}

// countingAlarms are the alarms that count events, whose return to OK is not news.
var countingAlarms = []string{"monitoring-unexpected-task-stops", "monitoring-job-dlq", "monitoring-db-reconcile-dlq", "monitoring-cache-evictions"}

// TestAlarmsNameTheStackAndRecoveriesAreToldOnlyAfterAnAlarm (review B8, R2): CloudWatch mails an
// alarm with its name in the subject, so every alarm is named "<project>/<stack>/<logical name>"
// within PutMetricAlarm's 255 characters. "When this operation creates an alarm, the alarm state is
// immediately set to INSUFFICIENT_DATA" and OKActions run "when this alarm transitions to the OK
// state from any other state" (PutMetricAlarm), so OK actions would send an OK for every alarm a
// deploy creates; no alarm has one, and a rule tells ALARM-to-OK of the alarms on lasting
// conditions: every alarm named under the stack's prefix ("prefix" on detail.alarmName) but the
// ones that count events ("anything-but" their ARNs in resources), "Content filtering in Amazon
// EventBridge event patterns". TestEveryEventPatternFitsTheQuotaWithALongStackName measures it.
func TestAlarmsNameTheStackAndRecoveriesAreToldOnlyAfterAnAlarm(t *testing.T) {
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		prefix := infra.AlarmNamePrefix("ecs-api", stack)
		var counting []string
		seen := map[string]bool{}
		for _, a := range m.OfType(alarmType) {
			name := a.Str("name")
			if !strings.HasPrefix(name, prefix) || len(name) > infra.MaxAlarmName || seen[name] {
				t.Errorf("alarm %s is named %q, want a unique name under %q of at most %d characters", a.Name, name, prefix, infra.MaxAlarmName)
			}
			seen[name] = true
			if a.Len("okActions") != 0 {
				t.Errorf("alarm %s has OK actions", a.Name)
			}
			if slices.Contains(countingAlarms, a.Name) {
				counting = append(counting, a.Out("arn"))
			}
		}
		rule := m.Named(ruleType, "monitoring-alarm-recovered")
		if !loadedConfig(t, stack, v).Alerts.Enabled {
			if rule != nil {
				t.Error("a recovery rule with alerts off")
			}
			return
		}
		if rule == nil {
			t.Fatal("no rule tells recoveries")
		}
		var pattern struct {
			Source    []string
			Resources []map[string][]string
			Detail    struct {
				AlarmName            []map[string]string
				PreviousState, State struct{ Value []string }
			}
		}
		if err := json.Unmarshal([]byte(rule.Str("eventPattern")), &pattern); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pattern.Source, []string{"aws.cloudwatch"}) || !slices.Equal(pattern.Detail.PreviousState.Value, []string{"ALARM"}) ||
			!slices.Equal(pattern.Detail.State.Value, []string{"OK"}) {
			t.Errorf("recovery rule matches %s, want ALARM to OK only", rule.Str("eventPattern"))
		}
		if len(pattern.Detail.AlarmName) != 1 || len(pattern.Detail.AlarmName[0]) != 1 || pattern.Detail.AlarmName[0]["prefix"] != prefix {
			t.Errorf("recovery rule matches alarm names %v, want those under %q", pattern.Detail.AlarmName, prefix)
		}
		if len(pattern.Resources) != 1 || len(pattern.Resources[0]) != 1 ||
			strings.Join(pattern.Resources[0]["anything-but"], ",") != strings.Join(sorted(counting), ",") {
			t.Errorf("recovery rule leaves out %v, want exactly the alarms that count events %v", pattern.Resources, sorted(counting))
		}
	})
}

// TestEveryEventPatternFitsTheQuotaWithALongStackName (review R2): PutRule refuses an event pattern
// over 2048 characters (the default "Event pattern size" quota, infra.MaxEventPatternLength), and
// the recovery rule once listed every alarm's ARN, whose real form carries the stack's name
// (arn:aws:cloudwatch:<region>:<account>:alarm:<project>/<stack>/<logical name>), past the quota
// from a stack name of about 60 characters. The config sets no limit on the stack's name, so the
// program runs as a stack of 70 with every part on (spot, warm pool, worker, cache, database, alerts,
// jobs), and every rule's pattern, with each alarm's ARN as AWS writes it (the mocks' carry the
// logical name), must fit.
func TestEveryEventPatternFitsTheQuotaWithALongStackName(t *testing.T) {
	stack := "prod-" + strings.Repeat("eu-central", 6) + "-blue"
	if len(stack) != 70 {
		t.Fatalf("stack name of %d characters", len(stack))
	}
	var everything variant
	for _, v := range variants("m6i.large") {
		if v.name == "everything" {
			everything = v
		}
	}
	// Pulumi.prod.yaml has the database and a job; the variant adds the rest.
	project, cfg := variantConfig(t, "prod", everything)
	m, err := pulumitest.Run(project, stack, cfg, program)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	realArns := map[string]string{}
	for _, a := range m.OfType(alarmType) {
		realArns[`"`+a.Out("arn")+`"`] = `"arn:aws:cloudwatch:` + pulumitest.Region + `:` + pulumitest.Account + `:alarm:` + a.Str("name") + `"`
	}
	if len(realArns) < 15 || m.Named(ruleType, "monitoring-alarm-recovered") == nil || m.Named(ruleType, "monitoring-nightly-cleanup-run-failed") == nil {
		t.Fatalf("%d alarms: not every part of the stack is on", len(realArns))
	}
	for _, r := range m.OfType(ruleType) {
		pattern := r.Str("eventPattern")
		for mock, real := range realArns {
			pattern = strings.ReplaceAll(pattern, mock, real)
		}
		if n := len(pattern); n > infra.MaxEventPatternLength {
			t.Errorf("rule %s: event pattern of %d characters as AWS gets it, over EventBridge's %d: %s", r.Name, n, infra.MaxEventPatternLength, pattern)
		}
	}
}

// TestAlarmsDoNotFireOnNoise (review B9):
//   - PutMetricAlarm, EvaluateLowSampleCountPercentile: "If you specify evaluate or omit this
//     parameter, the alarm is always evaluated and possibly changes state no matter how many data
//     points are available"; every percentile alarm ignores low sample counts, so one slow request
//     at night does not roll a deploy back.
//   - RDS storage autoscaling adds storage when "Free available space is less than or equal to 10
//     percent of the allocated storage" for five minutes ("Managing capacity automatically with
//     Amazon RDS storage autoscaling"); with it on, the free-storage alarm fires below that for the
//     smallest the storage ever is (allocatedStorage), so never on autoscaling's own trigger.
func TestAlarmsDoNotFireOnNoise(t *testing.T) {
	percentile := regexp.MustCompile(`^p\d+(\.\d+)?$`)
	forEachVariant(t, func(t *testing.T, stack string, v variant, m *pulumitest.Mocks) {
		for _, a := range m.OfType(alarmType) {
			if percentile.MatchString(a.Str("extendedStatistic")) && a.Str("evaluateLowSampleCountPercentiles") != "ignore" {
				t.Errorf("percentile alarm %s evaluates low sample counts (%q)", a.Name, a.Str("evaluateLowSampleCountPercentiles"))
			}
		}
		c := loadedConfig(t, stack, v)
		storage := m.Named(alarmType, "monitoring-db-free-storage")
		if storage == nil || c.Database.MaxAllocatedStorage == 0 {
			return
		}
		trigger := float64(c.Database.AllocatedStorage) * config.StorageAutoscalingTriggerPercent / 100 * (1 << 30)
		if got := storage.Num("threshold"); got >= trigger || got <= 0 {
			t.Errorf("free-storage alarm at %v bytes, want above 0 and below storage autoscaling's trigger at %v", got, trigger)
		}
	})
}
