package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Monitoring is how the stack is watched: with alerts on, the alarms beyond the deployment ones and
// the EventBridge rules that tell the alert topic what broke; always, one dashboard.
type Monitoring struct {
	pulumi.ResourceState

	DashboardName pulumi.StringOutput `pulumi:"dashboardName"`
	DashboardURL  pulumi.StringOutput `pulumi:"dashboardUrl"`
}

// MonitoredService is an ECS service the monitoring watches.
type MonitoredService struct {
	// Name is the service's logical name in the program (api, worker), for alarm names.
	Name        string
	ServiceName pulumi.StringInput
}

// MonitoredJobs are the scheduled jobs: their task families, state machines and dead-letter queue.
type MonitoredJobs struct {
	// Families maps each job's name to its task definition family.
	Families         map[string]string
	StateMachineArns pulumi.StringMapInput
	DeadLetterQueue  pulumi.StringInput // queue name
}

// MonitoredDatabase is the RDS instance and what its alarms compare against.
type MonitoredDatabase struct {
	Identifier          pulumi.StringInput
	AllocatedStorageGiB int
	Connections         int
}

// MonitoringArgs: names from every component, thresholds from config.
type MonitoringArgs struct {
	// Alerts on means alarms and rules notifying Destinations.
	Alerts       config.AlertsConfig
	Destinations pulumi.StringArray
	// DeploymentAlarms are the AppService's alarms, shown on the dashboard.
	DeploymentAlarms pulumi.StringArray

	ClusterName           pulumi.StringInput
	ClusterArn            pulumi.StringInput
	CapacityProviderNames []pulumi.StringInput
	AutoScalingGroupName  pulumi.StringInput
	LoadBalancerArnSuffix pulumi.StringInput
	TargetGroupArnSuffix  pulumi.StringInput
	// Services: the API first, then the worker.
	Services []MonitoredService
	Jobs     *MonitoredJobs
	// RotationStateMachineArn is the database rotation's redeploy, whose failure is worth a page.
	RotationStateMachineArn pulumi.StringInput
	Database                *MonitoredDatabase
	// CacheNodes are the cache's member clusters (a set: only ever used whole).
	CacheNodes pulumi.StringArrayInput

	Region           string
	Partition        string
	LogRetentionDays int
}

// Metric names and the namespace of the stack's own metric (unexpected task stops).
const (
	UnexpectedStopsMetric = "UnexpectedTaskStops"
	// MaxEventPatternLength is EventBridge's default quota on a rule's event pattern ("Amazon
	// EventBridge quotas": 2048 characters, adjustable to 4096).
	MaxEventPatternLength = 2048
)

// MetricNamespace is the stack's own CloudWatch namespace; AWS reserves the "AWS/" prefix.
func MetricNamespace(project, stack string) string { return project + "/" + stack }

// NewMonitoring creates the alarms, rules and dashboard.
func NewMonitoring(ctx *pulumi.Context, name string, args *MonitoringArgs, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	if args == nil || len(args.Services) == 0 {
		return nil, fmt.Errorf("monitoring %s: at least one service is required", name)
	}
	if args.Alerts.Enabled && len(args.Destinations) == 0 {
		return nil, fmt.Errorf("monitoring %s: alerts are on but there is no topic to send them to", name)
	}
	if args.Partition == "" || args.Region == "" {
		return nil, fmt.Errorf("monitoring %s: the region and partition are required: the dashboard and patterns name them", name)
	}
	m := &Monitoring{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Monitoring"), name, m, opts...); err != nil {
		return nil, err
	}
	w := &watcher{ctx: ctx, name: name, args: args, parent: pulumi.Parent(m), stack: ctx.Project() + "/" + ctx.Stack()}
	alarms := append(pulumi.StringArray{}, args.DeploymentAlarms...)
	if args.Alerts.Enabled {
		created, err := w.alarms()
		if err != nil {
			return nil, fmt.Errorf("monitoring %s: %w", name, err)
		}
		alarms = append(alarms, created...)
		if err := w.rules(); err != nil {
			return nil, fmt.Errorf("monitoring %s: %w", name, err)
		}
	}

	dashboardName := taskFamily(ctx.Project(), ctx.Stack(), name)
	body := w.dashboardBody(alarms)
	dashboard, err := cloudwatch.NewDashboard(ctx, name+"-dashboard", &cloudwatch.DashboardArgs{
		DashboardName: pulumi.String(dashboardName),
		DashboardBody: body,
	}, w.parent)
	if err != nil {
		return nil, fmt.Errorf("monitoring %s: dashboard: %w", name, err)
	}
	m.DashboardName = dashboard.DashboardName
	m.DashboardURL = dashboard.DashboardName.ApplyT(func(n string) string {
		return DashboardURL(args.Partition, args.Region, n)
	}).(pulumi.StringOutput)
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{"dashboardName": m.DashboardName, "dashboardUrl": m.DashboardURL})
}

// watcher holds what every alarm and rule of one Monitoring needs.
type watcher struct {
	ctx    *pulumi.Context
	name   string
	args   *MonitoringArgs
	parent pulumi.ResourceOption
	// stack is "<project>/<stack>", the first words of every message.
	stack string
}

// alarm creates one alarm that notifies the destinations on ALARM and on OK. Missing data is not
// breaching: an idle stack must not page anyone.
func (w *watcher) alarm(suffix, description string, args *cloudwatch.MetricAlarmArgs) (pulumi.StringOutput, error) {
	args.AlarmDescription = pulumi.String(truncate(fmt.Sprintf("[%s] %s", w.stack, description), MaxAlarmDescription))
	args.AlarmActions = alarmActions(w.args.Destinations)
	args.OkActions = alarmActions(w.args.Destinations)
	if args.TreatMissingData == nil {
		args.TreatMissingData = pulumi.String("notBreaching")
	}
	if args.DatapointsToAlarm == nil {
		args.DatapointsToAlarm = args.EvaluationPeriods
	}
	a, err := cloudwatch.NewMetricAlarm(w.ctx, w.name+"-"+suffix, args, w.parent)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("alarm %s: %w", suffix, err)
	}
	return a.Arn, nil
}

// alarmActions is the topics an alarm notifies, as the provider's untyped list.
func alarmActions(destinations pulumi.StringArray) pulumi.Array {
	actions := pulumi.Array{}
	for _, d := range destinations {
		actions = append(actions, d)
	}
	return actions
}

// MaxAlarmDescription is PutMetricAlarm's limit on AlarmDescription.
const MaxAlarmDescription = 1024

// single is a one-metric alarm's metric fields.
func single(namespace, metric, stat string, period int, dims pulumi.StringMap) *cloudwatch.MetricAlarmArgs {
	return &cloudwatch.MetricAlarmArgs{
		Namespace: pulumi.String(namespace), MetricName: pulumi.String(metric), Statistic: pulumi.String(stat),
		Period: pulumi.Int(period), Dimensions: dims,
	}
}

// alarms creates every alarm beyond the deployment ones and returns their ARNs.
func (w *watcher) alarms() (pulumi.StringArray, error) {
	a, t := w.args, w.args.Alerts.Thresholds
	var arns pulumi.StringArray
	add := func(suffix, description, operator string, threshold float64, evaluations int, args *cloudwatch.MetricAlarmArgs) error {
		args.ComparisonOperator = pulumi.String(operator)
		args.Threshold = pulumi.Float64(threshold)
		args.EvaluationPeriods = pulumi.Int(evaluations)
		arn, err := w.alarm(suffix, description, args)
		arns = append(arns, arn)
		return err
	}
	var errs []error
	for _, svc := range a.Services {
		shortfall := &cloudwatch.MetricAlarmArgs{MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
			insightsQuery("running", "RunningTaskCount", a.ClusterName, svc.ServiceName),
			insightsQuery("desired", "DesiredTaskCount", a.ClusterName, svc.ServiceName),
			&cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String("shortfall"), Expression: pulumi.String("desired - running"),
				Label: pulumi.String("Tasks missing"), ReturnData: pulumi.Bool(true)},
		}}
		errs = append(errs, add(svc.Name+"-tasks-below-desired",
			fmt.Sprintf("The %s service has run fewer tasks than it wants for %d minutes. Look at the service's Events tab in the ECS console (placement failures, tasks that stop on start) and at the Tasks alarm on the dashboard.", svc.Name, t.TaskShortfallMinutes),
			"GreaterThanThreshold", 0, t.TaskShortfallMinutes, shortfall))
	}
	for i, cp := range a.CapacityProviderNames {
		suffix := "capacity-wait"
		if i > 0 {
			suffix = fmt.Sprintf("capacity-wait-%d", i+1)
		}
		errs = append(errs, add(suffix,
			fmt.Sprintf("Tasks have waited for EC2 capacity for %d minutes (capacity provider reservation above 100 %%): the Auto Scaling group is at maxInstances or cannot launch. Raise maxInstances, or look at the group's Activity tab for launch errors.", t.CapacityWaitMinutes),
			"GreaterThanThreshold", 100, t.CapacityWaitMinutes,
			single("AWS/ECS/ManagedScaling", "CapacityProviderReservation", "Minimum", 60, pulumi.StringMap{"CapacityProviderName": cp, "ClusterName": a.ClusterName})))
	}
	errs = append(errs, add("lb-5xx",
		fmt.Sprintf("The load balancer itself answered more than %d 5xx a minute for 3 minutes: no healthy target (503), targets refusing or resetting connections (502) or timing out (504). Look at the Targets widget and the target group's health checks.", t.LoadBalancer5xxPerMinute),
		"GreaterThanThreshold", float64(t.LoadBalancer5xxPerMinute), 3,
		single("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 60, pulumi.StringMap{"LoadBalancer": a.LoadBalancerArnSuffix})))
	errs = append(errs, add("unexpected-task-stops",
		fmt.Sprintf("More than %d tasks stopped unexpectedly (container exited, failed to start, or failed health checks) in %d minutes. The stopped tasks' reasons are in the log group of the rule that counts them and under Tasks > Stopped in the ECS console; their output in the app's log group.", t.UnexpectedStops, t.UnexpectedStopsMinutes),
		"GreaterThanThreshold", float64(t.UnexpectedStops), 1,
		single(MetricNamespace(w.ctx.Project(), w.ctx.Stack()), UnexpectedStopsMetric, "Sum", t.UnexpectedStopsMinutes*60, nil)))

	if j := a.Jobs; j != nil {
		errs = append(errs, add("job-dlq",
			"A scheduled job run could not be started: EventBridge Scheduler gave up and left the event in the jobs' dead-letter queue. Read the message's attributes (ERROR_CODE, ERROR_MESSAGE) in the SQS console, fix the cause, then purge the queue.",
			"GreaterThanThreshold", 0, 1, single("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300, pulumi.StringMap{"QueueName": j.DeadLetterQueue})))
	}
	if d := a.Database; d != nil {
		dims := pulumi.StringMap{"DBInstanceIdentifier": d.Identifier}
		const rdsLook = "RDS console > Databases > the instance > Monitoring, and Performance Insights where enabled."
		errs = append(errs,
			add("db-cpu", fmt.Sprintf("Database CPU above %d %% for 15 minutes. %s", t.DatabaseCPUPercent, rdsLook),
				"GreaterThanThreshold", float64(t.DatabaseCPUPercent), 3, single("AWS/RDS", "CPUUtilization", "Average", 300, dims)),
			add("db-free-storage", fmt.Sprintf("Database free storage below %d %% of its %d GiB. Storage autoscaling grows it up to maxAllocatedStorage; at that limit, raise it. %s", t.DatabaseFreeStoragePercent, d.AllocatedStorageGiB, rdsLook),
				"LessThanThreshold", float64(d.AllocatedStorageGiB)*float64(t.DatabaseFreeStoragePercent)/100*1024*1024*1024, 1, single("AWS/RDS", "FreeStorageSpace", "Minimum", 300, dims)),
			add("db-free-memory", fmt.Sprintf("Database freeable memory below %d MiB for 15 minutes: queries spill to disk and connections may be refused. %s", t.DatabaseFreeMemoryMiB, rdsLook),
				"LessThanThreshold", float64(t.DatabaseFreeMemoryMiB)*1024*1024, 3, single("AWS/RDS", "FreeableMemory", "Minimum", 300, dims)),
			add("db-connections", fmt.Sprintf("Database connections above %d for 10 minutes: near max_connections, new ones are refused. Check the app's pool size times the task count. %s", d.Connections, rdsLook),
				"GreaterThanThreshold", float64(d.Connections), 2, single("AWS/RDS", "DatabaseConnections", "Maximum", 300, dims)),
		)
	}
	if a.CacheNodes != nil {
		const cacheLook = "ElastiCache console > the cluster > Metrics, per node."
		errs = append(errs,
			add("cache-cpu", fmt.Sprintf("Cache engine CPU above %d %% on a node for 15 minutes. %s", t.CacheCPUPercent, cacheLook),
				"GreaterThanThreshold", float64(t.CacheCPUPercent), 3, overNodes(a.CacheNodes, "MAX", "EngineCPUUtilization", "Maximum")),
			add("cache-memory", fmt.Sprintf("Cache memory above %d %% on a node for 15 minutes; evictions follow. %s", t.CacheMemoryPercent, cacheLook),
				"GreaterThanThreshold", float64(t.CacheMemoryPercent), 3, overNodes(a.CacheNodes, "MAX", "DatabaseMemoryUsagePercentage", "Maximum")),
			add("cache-evictions", fmt.Sprintf("The cache evicted more than %d keys in 5 minutes: sessions or rate limits kept there are lost. Use a larger nodeType. %s", t.CacheEvictions, cacheLook),
				"GreaterThanThreshold", float64(t.CacheEvictions), 1, overNodes(a.CacheNodes, "SUM", "Evictions", "Sum")),
		)
	}
	return arns, errors.Join(errs...)
}

// insightsQuery is one Container Insights task count of a service, by the minute.
func insightsQuery(id, metric string, cluster, service pulumi.StringInput) *cloudwatch.MetricAlarmMetricQueryArgs {
	return &cloudwatch.MetricAlarmMetricQueryArgs{
		Id: pulumi.String(id),
		Metric: &cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace: pulumi.String("ECS/ContainerInsights"), MetricName: pulumi.String(metric),
			Dimensions: pulumi.StringMap{"ClusterName": cluster, "ServiceName": service},
			Period:     pulumi.Int(60), Stat: pulumi.String("Average"),
		},
		ReturnData: pulumi.Bool(false),
	}
}

// overNodes combines one ElastiCache metric over every node of the replication group with a metric
// math function (MAX, SUM): nodes are member clusters, which the provider keeps as a set, so the
// whole list is used and never an element by position.
func overNodes(nodes pulumi.StringArrayInput, function, metric, stat string) *cloudwatch.MetricAlarmArgs {
	queries := nodes.ToStringArrayOutput().ApplyT(func(ids []string) []cloudwatch.MetricAlarmMetricQuery {
		var out []cloudwatch.MetricAlarmMetricQuery
		var refs []string
		for i, id := range slices.Sorted(slices.Values(ids)) {
			ref := fmt.Sprintf("n%d", i)
			refs = append(refs, ref)
			out = append(out, cloudwatch.MetricAlarmMetricQuery{
				Id: ref, ReturnData: pulumi.BoolRef(false),
				Metric: &cloudwatch.MetricAlarmMetricQueryMetric{
					Namespace: pulumi.StringRef("AWS/ElastiCache"), MetricName: metric,
					Dimensions: map[string]string{"CacheClusterId": id}, Period: 300, Stat: stat,
				},
			})
		}
		out = append(out, cloudwatch.MetricAlarmMetricQuery{
			Id: "combined", ReturnData: pulumi.BoolRef(true), Label: pulumi.StringRef(metric + " (" + function + " over nodes)"),
			Expression: pulumi.StringRef(function + "([" + strings.Join(refs, ", ") + "])"),
		})
		return out
	}).(cloudwatch.MetricAlarmMetricQueryArrayOutput)
	return &cloudwatch.MetricAlarmArgs{MetricQueries: queries}
}

// rules creates the EventBridge rules that notify the topic, and the one that counts stopped tasks.
func (w *watcher) rules() error {
	a := w.args
	services := pulumi.StringArray{}
	for _, s := range a.Services {
		services = append(services, s.ServiceName)
	}
	serviceSet := pulumi.All(a.ClusterArn, services.ToStringArrayOutput())
	console := ConsoleURL(a.Partition, a.Region)

	deployments := serviceSet.ApplyT(func(v []any) string {
		return DeploymentFailedPattern(serviceArns(v[0].(string), v[1].([]string)))
	}).(pulumi.StringOutput)
	if err := w.notify("deployment-failed", "An ECS deployment of the stack's services failed or rolled back", deployments,
		map[string]string{"service": "$.resources[0]", "reason": "$.detail.reason", "deployment": "$.detail.deploymentId"},
		fmt.Sprintf("[%s] ECS deployment <deployment> of <service> FAILED: <reason>. With rollback the service returns to its last working deployment. Why the new tasks stopped: ECS console (%s/ecs/v2) > the service > Deployments and Tasks > Stopped; their output is in the app's log group.", w.stack, console)); err != nil {
		return err
	}

	if err := w.countStops(serviceSet); err != nil {
		return err
	}

	// One rule per job and per state machine keeps every pattern far below EventBridge's size limit,
	// however many jobs there are.
	if j := a.Jobs; j != nil {
		for _, job := range slices.Sorted(maps.Keys(j.Families)) {
			family := j.Families[job]
			pattern := a.ClusterArn.ToStringOutput().ApplyT(func(cluster string) string {
				return JobTaskFailedPattern(cluster, []string{family})
			}).(pulumi.StringOutput)
			// Logical names stay short enough for EventBridge's 64-character rule names with
			// Pulumi's 8-character suffix and a 32-character job name.
			if err := w.notify(job+"-task-failed", fmt.Sprintf("A task of the %s job exited non-zero or never started", job), pattern,
				map[string]string{"exitCode": "$.detail.containers[0].exitCode", "reason": "$.detail.stoppedReason", "stopCode": "$.detail.stopCode", "task": "$.detail.taskArn"},
				fmt.Sprintf("[%s] A task of the %s job stopped: exit code <exitCode>, <stopCode>: <reason>. Task <task>. Its output is in the app's log group under the stream prefix job-%s. The run retries; if it still fails, a 'run failed' alert follows.", w.stack, job, job)); err != nil {
				return err
			}
			machine := j.StateMachineArns.ToStringMapOutput().MapIndex(pulumi.String(job))
			if err := w.runFailed(job+"-run-failed", fmt.Sprintf("A run of the %s job failed after its retries, timed out or was aborted", job), machine); err != nil {
				return err
			}
		}
	}
	if a.RotationStateMachineArn != nil {
		if err := w.runFailed("db-rotation-failed", "The redeploy after a database password rotation failed: tasks may hold the old password",
			a.RotationStateMachineArn.ToStringOutput()); err != nil {
			return err
		}
	}
	if d := a.Database; d != nil {
		pattern := d.Identifier.ToStringOutput().ApplyT(DatabaseEventPattern).(pulumi.StringOutput)
		if err := w.notify("db-event", "RDS reports a failover, failure, low storage, maintenance or availability event of the database", pattern,
			map[string]string{"db": "$.detail.SourceIdentifier", "message": "$.detail.Message", "category": "$.detail.EventCategories[0]", "event": "$.detail.EventID"},
			fmt.Sprintf("[%s] Database <db>: <message> (<category>, <event>). RDS console (%s/rds/home?region=%s) > Databases > <db> > Logs & events.", w.stack, console, a.Region)); err != nil {
			return err
		}
	}
	return nil
}

// runFailed notifies when a run of the state machine does not succeed.
func (w *watcher) runFailed(suffix, description string, machine pulumi.StringOutput) error {
	a := w.args
	return w.notify(suffix, description, machine.ApplyT(func(arn string) string { return RunFailedPattern([]string{arn}) }).(pulumi.StringOutput),
		map[string]string{"machine": "$.detail.stateMachineArn", "status": "$.detail.status", "execution": "$.detail.executionArn"},
		fmt.Sprintf("[%s] %s: run <execution> of <machine> ended <status>. Step Functions console (%s/states/home?region=%s) > State machines > the machine > the run: its events show the task's exit code and stopped reason, or the error that stopped it.",
			w.stack, description, ConsoleURL(a.Partition, a.Region), a.Region))
}

// notify creates a rule and one target per destination, each turning the event into one sentence.
func (w *watcher) notify(suffix, description string, pattern pulumi.StringInput, paths map[string]string, template string) error {
	rule, err := cloudwatch.NewEventRule(w.ctx, w.name+"-"+suffix, &cloudwatch.EventRuleArgs{
		Description:  pulumi.String(fmt.Sprintf("[%s] %s", w.stack, description)),
		EventPattern: pattern,
	}, w.parent)
	if err != nil {
		return fmt.Errorf("rule %s: %w", suffix, err)
	}
	quoted, _ := json.Marshal(template)
	for i, dest := range w.args.Destinations {
		if _, err := cloudwatch.NewEventTarget(w.ctx, fmt.Sprintf("%s-%s-%d", w.name, suffix, i), &cloudwatch.EventTargetArgs{
			Rule: rule.Name,
			// Unique within the rule; a name, not an autoname that could outgrow PutTargets' 64.
			TargetId: pulumi.Sprintf("notify-%d", i),
			Arn:      dest,
			InputTransformer: &cloudwatch.EventTargetInputTransformerArgs{
				InputPaths:    pulumi.ToStringMap(paths),
				InputTemplate: pulumi.String(string(quoted)),
			},
		}, w.parent); err != nil {
			return fmt.Errorf("rule %s: target %d: %w", suffix, i, err)
		}
	}
	return nil
}

// countStops sends unexpected stops of the services' tasks to a log group, where a metric filter
// counts them for the unexpected-task-stops alarm: EventBridge matches events but cannot count them.
func (w *watcher) countStops(serviceSet pulumi.ArrayOutput) error {
	family := taskFamily(w.ctx.Project(), w.ctx.Stack(), w.name+"-task-stops")
	// EventBridge writes only to log groups under /aws/events/ ("CloudWatch Logs" targets).
	logGroup, err := cloudwatch.NewLogGroup(w.ctx, w.name+"-task-stops", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String(EventsLogGroupPrefix + family),
		RetentionInDays: pulumi.Int(w.args.LogRetentionDays),
	}, w.parent)
	if err != nil {
		return fmt.Errorf("task stops log group: %w", err)
	}
	rule, err := cloudwatch.NewEventRule(w.ctx, w.name+"-task-stops", &cloudwatch.EventRuleArgs{
		Description: pulumi.String(fmt.Sprintf("[%s] Tasks of the stack's services that stop unexpectedly, counted by a metric filter", w.stack)),
		EventPattern: serviceSet.ApplyT(func(v []any) string {
			return UnexpectedStopPattern(v[0].(string), v[1].([]string))
		}).(pulumi.StringOutput),
	}, w.parent)
	if err != nil {
		return fmt.Errorf("task stops rule: %w", err)
	}
	// A log group target needs a resource policy that lets EventBridge write to it; CloudWatch Logs
	// keeps at most 10 of these per account and region ("CloudWatch Logs quotas").
	policy, err := cloudwatch.NewLogResourcePolicy(w.ctx, w.name+"-task-stops", &cloudwatch.LogResourcePolicyArgs{
		PolicyName:     pulumi.String(family),
		PolicyDocument: logGroup.Arn.ApplyT(EventsToLogsPolicy).(pulumi.StringOutput),
	}, w.parent)
	if err != nil {
		return fmt.Errorf("task stops log policy: %w", err)
	}
	if _, err := cloudwatch.NewEventTarget(w.ctx, w.name+"-task-stops", &cloudwatch.EventTargetArgs{
		Rule:     rule.Name,
		TargetId: pulumi.String("count-stops"),
		Arn:      logGroup.Arn,
	}, w.parent, pulumi.DependsOn([]pulumi.Resource{policy})); err != nil {
		return fmt.Errorf("task stops target: %w", err)
	}
	if _, err := cloudwatch.NewLogMetricFilter(w.ctx, w.name+"-task-stops", &cloudwatch.LogMetricFilterArgs{
		LogGroupName: logGroup.Name,
		Pattern:      pulumi.String(`{ $.detail.lastStatus = "STOPPED" }`),
		MetricTransformation: &cloudwatch.LogMetricFilterMetricTransformationArgs{
			Name:      pulumi.String(UnexpectedStopsMetric),
			Namespace: pulumi.String(MetricNamespace(w.ctx.Project(), w.ctx.Stack())),
			Value:     pulumi.String("1"),
			Unit:      pulumi.String("Count"),
		},
	}, w.parent); err != nil {
		return fmt.Errorf("task stops metric filter: %w", err)
	}
	return nil
}

// EventsLogGroupPrefix starts the name of every log group EventBridge writes to.
const EventsLogGroupPrefix = "/aws/events/"

// EventsToLogsPolicy lets EventBridge (and the log delivery service it writes through) create
// streams and put events in one log group: the policy of "CloudWatch Logs permissions" (EventBridge
// User Guide), narrowed from every /aws/events/ group to this one.
func EventsToLogsPolicy(logGroupArn string) string {
	statement := func(sid, service string) PolicyStatement {
		return PolicyStatement{
			Sid: sid, Effect: "Allow", Principal: map[string]string{"Service": service},
			Action:   []string{"logs:CreateLogStream", "logs:PutLogEvents"},
			Resource: []string{logGroupArn + ":*"},
		}
	}
	return PolicyDocument{Statement: []PolicyStatement{
		statement("EventBridgeWritesStoppedTasks", eventBridgePrincipal),
		statement("LogDeliveryWritesStoppedTasks", "delivery.logs.amazonaws.com"),
	}}.JSON()
}

// dashboardBody gathers the names the dashboard shows and renders its body.
func (w *watcher) dashboardBody(alarms pulumi.StringArray) pulumi.StringOutput {
	a := w.args
	names := pulumi.StringMap{
		"cluster": a.ClusterName, "lb": a.LoadBalancerArnSuffix, "tg": a.TargetGroupArnSuffix, "asg": a.AutoScalingGroupName,
	}
	for i, s := range a.Services {
		names[fmt.Sprintf("service%d", i)] = s.ServiceName
	}
	for i, cp := range a.CapacityProviderNames {
		names[fmt.Sprintf("cp%d", i)] = cp
	}
	if a.Database != nil {
		names["db"] = a.Database.Identifier
	}
	machines := pulumi.StringMap{}.ToStringMapOutput()
	if a.Jobs != nil {
		names["dlq"] = a.Jobs.DeadLetterQueue
		machines = a.Jobs.StateMachineArns.ToStringMapOutput()
	}
	nodes := pulumi.StringArray{}.ToStringArrayOutput()
	if a.CacheNodes != nil {
		nodes = a.CacheNodes.ToStringArrayOutput()
	}
	return pulumi.All(names.ToStringMapOutput(), machines, nodes, alarms.ToStringArrayOutput()).ApplyT(func(v []any) (string, error) {
		n := v[0].(map[string]string)
		spec := DashboardSpec{
			Region: a.Region, Title: w.stack, LoadBalancer: n["lb"], TargetGroup: n["tg"], Cluster: n["cluster"],
			AutoScalingGroup: n["asg"], Database: n["db"], DeadLetterQueue: n["dlq"],
			StateMachines: v[1].(map[string]string), CacheNodes: v[2].([]string), Alarms: v[3].([]string),
		}
		for i := range a.Services {
			spec.Services = append(spec.Services, n[fmt.Sprintf("service%d", i)])
		}
		for i := range a.CapacityProviderNames {
			spec.CapacityProviders = append(spec.CapacityProviders, n[fmt.Sprintf("cp%d", i)])
		}
		return DashboardBody(spec)
	}).(pulumi.StringOutput)
}
