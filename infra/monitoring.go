package infra

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
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
	Identifier pulumi.StringInput
	// SecretArn is the master password's secret, whose failed rotations are told.
	SecretArn           pulumi.StringInput
	AllocatedStorageGiB int
	// MaxAllocatedStorageGiB is storage autoscaling's limit; 0 without storage autoscaling.
	MaxAllocatedStorageGiB int
	// FreeStoragePercent of AllocatedStorageGiB below which the free-storage alarm fires
	// (config's DatabaseFreeStorageAlarmPercent: under storage autoscaling's own trigger).
	FreeStoragePercent float64
	Connections        int
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
	// MigratingService is the API's service when its tasks run migrations (a migrate container the
	// app waits on), whose failures are told by name; nil without migrations.
	MigratingService pulumi.StringInput
	Jobs             *MonitoredJobs
	// RotationStateMachineArn is the database rotation's redeploy, whose failure is worth a page.
	RotationStateMachineArn pulumi.StringInput
	// RotationReconcileStateMachineArn is the periodic check that redeploys the services still on a
	// password older than the secret; a failed run leaves the stale window unbounded.
	RotationReconcileStateMachineArn pulumi.StringInput
	// RotationReconcileDeadLetterQueue is the queue (name) of the reconcile's starts its schedule
	// gave up on: a message there means the reconcile did not run.
	RotationReconcileDeadLetterQueue pulumi.StringInput
	Database                         *MonitoredDatabase
	// CacheNodes are the cache's member clusters (a set: only ever used whole).
	CacheNodes pulumi.StringArrayInput

	Region           string
	Partition        string
	LogRetentionDays int
	// Runbooks links every alarm and alert to its section of docs/runbooks.md.
	Runbooks Runbooks
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
	parent pulumi.ResourceOrInvokeOption
	// stack is "<project>/<stack>", the first words of every message.
	stack string
	// counting are the ARNs of the alarms that count events, whose return to OK is not told (see
	// alarms).
	counting []pulumi.StringOutput
}

// alarm creates one alarm, named for the stack, that notifies the destinations when it fires; its
// description ends with the link to its runbook's section (the anchor runbook). It
// has no OK action: CloudWatch runs OK actions on the INSUFFICIENT_DATA to OK transition of every
// new alarm, so each deploy that creates or replaces alarms would send a burst of OKs; recoveries
// come from the rule of AlarmRecoveredPattern instead. Missing data is not breaching: an idle stack
// must not page anyone.
func (w *watcher) alarm(suffix, runbook, description string, args *cloudwatch.MetricAlarmArgs) (pulumi.StringOutput, error) {
	text, err := w.args.Runbooks.withRunbook(fmt.Sprintf("[%s] %s", w.stack, description), runbook, MaxAlarmDescription)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("alarm %s: %w", suffix, err)
	}
	args.Name = pulumi.String(alarmName(w.ctx, w.name+"-"+suffix))
	args.AlarmDescription = pulumi.String(text)
	args.AlarmActions = alarmActions(w.args.Destinations)
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

// MaxInputTemplate is PutTargets' limit on an input transformer's InputTemplate ("Maximum length of
// 8192", InputTransformer, EventBridge API Reference).
const MaxInputTemplate = 8192

// single is a one-metric alarm's metric fields.
func single(namespace, metric, stat string, period int, dims pulumi.StringMap) *cloudwatch.MetricAlarmArgs {
	return &cloudwatch.MetricAlarmArgs{
		Namespace: pulumi.String(namespace), MetricName: pulumi.String(metric), Statistic: pulumi.String(stat),
		Period: pulumi.Int(period), Dimensions: dims,
	}
}

// alarms creates every alarm beyond the deployment ones and returns their ARNs. Alarms on a
// condition that lasts (too few tasks, a busy database) also tell when it is over, so whoever is
// working on it knows; alarms that count events (unexpected stops, a dead-letter message, cache
// evictions) do not: each ALARM already says what happened, and their OK only means the counting
// window has passed.
func (w *watcher) alarms() (pulumi.StringArray, error) {
	a, t := w.args, w.args.Alerts.Thresholds
	var arns pulumi.StringArray
	// Each alarm is a suffix of its logical name and the anchor of its runbook section: several
	// alarms of one kind (per service, per capacity provider) share a section.
	type alarm struct{ suffix, runbook string }
	create := func(recoverable bool, id alarm, description, operator string, threshold float64, evaluations int, args *cloudwatch.MetricAlarmArgs) error {
		args.ComparisonOperator = pulumi.String(operator)
		args.Threshold = pulumi.Float64(threshold)
		args.EvaluationPeriods = pulumi.Int(evaluations)
		arn, err := w.alarm(id.suffix, id.runbook, description, args)
		arns = append(arns, arn)
		if !recoverable {
			w.counting = append(w.counting, arn)
		}
		return err
	}
	add := func(id alarm, description, operator string, threshold float64, evaluations int, args *cloudwatch.MetricAlarmArgs) error {
		return create(true, id, description, operator, threshold, evaluations, args)
	}
	count := func(id alarm, description, operator string, threshold float64, evaluations int, args *cloudwatch.MetricAlarmArgs) error {
		return create(false, id, description, operator, threshold, evaluations, args)
	}
	same := func(suffix string) alarm { return alarm{suffix, suffix} }
	var errs []error
	for _, svc := range a.Services {
		shortfall := &cloudwatch.MetricAlarmArgs{MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
			insightsQuery("running", "RunningTaskCount", a.ClusterName, svc.ServiceName),
			insightsQuery("desired", "DesiredTaskCount", a.ClusterName, svc.ServiceName),
			&cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String("shortfall"), Expression: pulumi.String("desired - running"),
				Label: pulumi.String("Tasks missing"), ReturnData: pulumi.Bool(true)},
		}}
		errs = append(errs, add(alarm{svc.Name + "-tasks-below-desired", "tasks-below-desired"},
			fmt.Sprintf("The %s service has run fewer tasks than it wants for %d minutes. Look at the service's Events tab in the ECS console (placement failures, tasks that stop on start) and at the dashboard's Tasks widget.", svc.Name, t.TaskShortfallMinutes),
			"GreaterThanThreshold", 0, t.TaskShortfallMinutes, shortfall))
	}
	for i, cp := range a.CapacityProviderNames {
		suffix := "capacity-wait"
		if i > 0 {
			suffix = fmt.Sprintf("capacity-wait-%d", i+1)
		}
		errs = append(errs, add(alarm{suffix, "capacity-wait"},
			fmt.Sprintf("Tasks have waited for EC2 capacity for %d minutes (capacity provider reservation above 100 %%): the Auto Scaling group is at maxInstances or cannot launch. Raise maxInstances, or look at the group's Activity tab for launch errors.", t.CapacityWaitMinutes),
			"GreaterThanThreshold", 100, t.CapacityWaitMinutes,
			single("AWS/ECS/ManagedScaling", "CapacityProviderReservation", "Minimum", 60, pulumi.StringMap{"CapacityProviderName": cp, "ClusterName": a.ClusterName})))
	}
	errs = append(errs, add(same("lb-5xx"),
		fmt.Sprintf("The load balancer itself answered more than %d 5xx a minute for 3 minutes: no healthy target (503), targets refusing or resetting connections (502) or timing out (504). Look at the Targets widget and the target group's health checks.", t.LoadBalancer5xxPerMinute),
		"GreaterThanThreshold", float64(t.LoadBalancer5xxPerMinute), 3,
		single("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum", 60, pulumi.StringMap{"LoadBalancer": a.LoadBalancerArnSuffix})))
	errs = append(errs, count(same("unexpected-task-stops"),
		fmt.Sprintf("More than %d tasks stopped unexpectedly (container exited, failed to start, or failed health checks) in %d minutes. The stopped tasks' reasons are in the log group of the rule that counts them and under Tasks > Stopped in the ECS console; their output in the app's log group.", t.UnexpectedStops, t.UnexpectedStopsMinutes),
		"GreaterThanThreshold", float64(t.UnexpectedStops), 1,
		single(MetricNamespace(w.ctx.Project(), w.ctx.Stack()), UnexpectedStopsMetric, "Sum", t.UnexpectedStopsMinutes*60, nil)))

	if j := a.Jobs; j != nil {
		errs = append(errs, count(same("job-dlq"),
			"A scheduled job run could not be started: EventBridge Scheduler gave up and left the event in the jobs' dead-letter queue. Read the message's attributes (ERROR_CODE, ERROR_MESSAGE) in the SQS console, fix the cause, then purge the queue.",
			"GreaterThanThreshold", 0, 1, single("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300, pulumi.StringMap{"QueueName": j.DeadLetterQueue})))
	}
	if q := a.RotationReconcileDeadLetterQueue; q != nil {
		errs = append(errs, count(same("db-reconcile-dlq"),
			fmt.Sprintf("EventBridge Scheduler gave up starting the %d-minute database rotation reconcile and left the start in its dead-letter queue: until it runs again, tasks may keep a rotated password. Read the message's attributes (ERROR_CODE, ERROR_MESSAGE) in the SQS console, fix the cause, then purge the queue.", ReconcileMinutes),
			"GreaterThanThreshold", 0, 1, single("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 300, pulumi.StringMap{"QueueName": q})))
	}
	if d := a.Database; d != nil {
		dims := pulumi.StringMap{"DBInstanceIdentifier": d.Identifier}
		const rdsLook = "RDS console > Databases > the instance > Monitoring, and Performance Insights where enabled."
		errs = append(errs,
			add(same("db-cpu"), fmt.Sprintf("Database CPU above %d %% for 15 minutes. %s", t.DatabaseCPUPercent, rdsLook),
				"GreaterThanThreshold", float64(t.DatabaseCPUPercent), 3, single("AWS/RDS", "CPUUtilization", "Average", 300, dims)),
			add(same("db-free-storage"), freeStorageDescription(d)+" "+rdsLook,
				"LessThanThreshold", float64(d.AllocatedStorageGiB)*d.FreeStoragePercent/100*1024*1024*1024, 1, single("AWS/RDS", "FreeStorageSpace", "Minimum", 300, dims)),
			add(same("db-free-memory"), fmt.Sprintf("Database freeable memory below %d MiB for 15 minutes: queries spill to disk and connections may be refused. %s", t.DatabaseFreeMemoryMiB, rdsLook),
				"LessThanThreshold", float64(t.DatabaseFreeMemoryMiB)*1024*1024, 3, single("AWS/RDS", "FreeableMemory", "Minimum", 300, dims)),
			add(same("db-connections"), fmt.Sprintf("Database connections above %d for 10 minutes: near max_connections, new ones are refused. Check the app's pool size times the task count. %s", d.Connections, rdsLook),
				"GreaterThanThreshold", float64(d.Connections), 2, single("AWS/RDS", "DatabaseConnections", "Maximum", 300, dims)),
		)
	}
	if a.CacheNodes != nil {
		const cacheLook = "ElastiCache console > the cluster > Metrics, per node."
		errs = append(errs,
			add(same("cache-cpu"), fmt.Sprintf("Cache engine CPU above %d %% on a node for 15 minutes. %s", t.CacheCPUPercent, cacheLook),
				"GreaterThanThreshold", float64(t.CacheCPUPercent), 3, overNodes(a.CacheNodes, "MAX", "EngineCPUUtilization", "Maximum")),
			add(same("cache-memory"), fmt.Sprintf("Cache memory above %d %% on a node for 15 minutes; evictions follow. %s", t.CacheMemoryPercent, cacheLook),
				"GreaterThanThreshold", float64(t.CacheMemoryPercent), 3, overNodes(a.CacheNodes, "MAX", "DatabaseMemoryUsagePercentage", "Maximum")),
			count(same("cache-evictions"), fmt.Sprintf("The cache evicted more than %d keys in 5 minutes: sessions or rate limits kept there are lost. Use a larger nodeType. %s", t.CacheEvictions, cacheLook),
				"GreaterThanThreshold", float64(t.CacheEvictions), 1, overNodes(a.CacheNodes, "SUM", "Evictions", "Sum")),
		)
	}
	return arns, errors.Join(errs...)
}

// freeStorageDescription says what the free-storage alarm means: with storage autoscaling, which
// adds storage when free space is at most 10 % of the allocated storage for five minutes ("Managing
// capacity automatically with Amazon RDS storage autoscaling"), that autoscaling could not keep up
// or is at its limit; without it, that the disk is filling.
func freeStorageDescription(d *MonitoredDatabase) string {
	below := fmt.Sprintf("Database free storage below %.3g GiB (%.3g %% of the %d GiB it was created with).", float64(d.AllocatedStorageGiB)*d.FreeStoragePercent/100, d.FreeStoragePercent, d.AllocatedStorageGiB)
	if d.MaxAllocatedStorageGiB > 0 {
		return fmt.Sprintf("%s Storage autoscaling adds storage at 10 %% free, so it could not: the instance is at maxAllocatedStorage (%d GiB), six hours have not passed since its last storage change, or the disk fills faster than it grows. Raise database.maxAllocatedStorage or free space.", below, d.MaxAllocatedStorageGiB)
	}
	return below + " Storage autoscaling is off (database.maxAllocatedStorage 0): raise database.allocatedStorage or free space."
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
		alertMessage{
			Title:       "ECS deployment <deployment> of <service> failed",
			Description: fmt.Sprintf("ECS's reason is below; it says whether the deployment rolls back, and with rollback the service returns to its last working deployment. Why the new tasks stopped: ECS console (%s/ecs/v2) › the service › Deployments, and Tasks › Stopped; their output is in the app's log group.", console),
			Details:     []string{"reason"},
			Runbook:     "deployment-failed",
		}); err != nil {
		return err
	}

	if err := w.countStops(serviceSet); err != nil {
		return err
	}
	if a.MigratingService != nil {
		if err := w.migrationFailed(); err != nil {
			return err
		}
	}

	// One rule per job and per state machine keeps every pattern far below EventBridge's size limit,
	// however many jobs there are.
	if j := a.Jobs; j != nil {
		for _, job := range slices.Sorted(maps.Keys(j.Families)) {
			if err := w.jobRules(job, j); err != nil {
				return err
			}
		}
	}
	if a.RotationStateMachineArn != nil {
		if err := w.runFailed("db-rotation-failed", "db-rotation-failed", "The redeploy after a database password rotation failed: tasks may hold the old password",
			a.RotationStateMachineArn.ToStringOutput()); err != nil {
			return err
		}
	}
	if a.RotationReconcileStateMachineArn != nil {
		if err := w.runFailed("db-reconcile-failed", "db-reconcile-failed", "The periodic check that redeploys services after a database password change failed: tasks may hold the old password until it runs again",
			a.RotationReconcileStateMachineArn.ToStringOutput()); err != nil {
			return err
		}
	}
	if d := a.Database; d != nil {
		if err := w.databaseRules(d); err != nil {
			return err
		}
	}
	return w.recoveries()
}

// migrationFailed tells an API task stopped because its migration failed, timed out or never
// started; the deployment-failed rule then tells the rollback, without the cause.
func (w *watcher) migrationFailed() error {
	a := w.args
	pattern := pulumi.All(a.ClusterArn, a.MigratingService).ApplyT(func(v []any) string {
		return MigrationFailedPattern(v[0].(string), v[1].(string))
	}).(pulumi.StringOutput)
	return w.notify("migration-failed", "A database migration failed: an API task stopped before its app started", pattern,
		map[string]string{"task": "$.detail.taskArn", "reason": "$.detail.stoppedReason"},
		alertMessage{
			Title: "Database migration failed in task <task>",
			Description: fmt.Sprintf("The migrate container exited non-zero, ran past migrate.timeout or never started, so the app of task <task> did not start; ECS's stopped reason is below. The migration's output is in the app's log group under the stream prefix %s/. The circuit breaker rolls the rollout back to the previous task definition, and `pulumi up` fails before the worker and the jobs take the new version. ECS console (%s/ecs/v2) › the service › Tasks › Stopped shows each container's reason.",
				MigrateStreamPrefix, ConsoleURL(a.Partition, a.Region)),
			Details: []string{"reason"},
			Runbook: "migration-failed",
		})
}

// jobRules tells a job's task that exited non-zero, one that never started, and a run that failed
// after its retries: a task that never started has no exit code ("If you specify a variable to
// match a JSON path that doesn't exist in the event, that variable isn't created", "Common issues
// with transforming input", EventBridge User Guide), so it has a rule and a message of its own.
func (w *watcher) jobRules(job string, j *MonitoredJobs) error {
	family := j.Families[job]
	pattern := func(build func(string, []string) string) pulumi.StringOutput {
		return w.args.ClusterArn.ToStringOutput().ApplyT(func(cluster string) string {
			return build(cluster, []string{family})
		}).(pulumi.StringOutput)
	}
	retries := "The run retries; if it still fails, a run-failed alert follows."
	// Logical names stay short enough for EventBridge's 64-character rule names with Pulumi's
	// 8-character suffix and a 32-character job name.
	if err := w.notify(job+"-task-failed", fmt.Sprintf("A task of the %s job exited non-zero", job), pattern(JobTaskExitedPattern),
		map[string]string{"exitCode": "$.detail.containers[0].exitCode", "reason": "$.detail.stoppedReason", "stopCode": "$.detail.stopCode", "task": "$.detail.taskArn"},
		alertMessage{
			Title:       fmt.Sprintf("A task of the %s job exited with code <exitCode>", job),
			Description: fmt.Sprintf("Task <task> stopped with <stopCode>; ECS's stopped reason is below. Its output is in the app's log group under the stream prefix job-%s. %s", job, retries),
			Details:     []string{"reason"},
			Runbook:     "job-task-failed",
		}); err != nil {
		return err
	}
	if err := w.notify(job+"-not-started", fmt.Sprintf("A task of the %s job never started", job), pattern(JobTaskNotStartedPattern),
		map[string]string{"reason": "$.detail.stoppedReason", "task": "$.detail.taskArn"},
		alertMessage{
			Title:       fmt.Sprintf("A task of the %s job never started", job),
			Description: fmt.Sprintf("Task <task>. Its container did not run, so there is no exit code and no output: ECS's stopped reason, below, names what failed (the image pull, a secret, placement on an instance). %s", retries),
			Details:     []string{"reason"},
			Runbook:     "job-not-started",
		}); err != nil {
		return err
	}
	machine := j.StateMachineArns.ToStringMapOutput().MapIndex(pulumi.String(job))
	return w.runFailed(job+"-run-failed", "job-run-failed", fmt.Sprintf("A run of the %s job failed after its retries, timed out or was aborted", job), machine)
}

// databaseRules tells the instance's own events and a failed rotation of its password.
func (w *watcher) databaseRules(d *MonitoredDatabase) error {
	a := w.args
	caller, err := aws.GetCallerIdentity(w.ctx, nil, w.parent)
	if err != nil {
		return fmt.Errorf("database rules: account: %w", err)
	}
	console := ConsoleURL(a.Partition, a.Region)
	pattern := d.Identifier.ToStringOutput().ApplyT(func(id string) string {
		return DatabaseEventPattern(DatabaseInstanceArn(a.Partition, a.Region, caller.AccountId, id))
	}).(pulumi.StringOutput)
	if err := w.notify("db-event", "RDS reports a failover, failure, low storage, maintenance or availability event of the database", pattern,
		map[string]string{"db": "$.detail.SourceIdentifier", "message": "$.detail.Message", "category": "$.detail.EventCategories[0]", "event": "$.detail.EventID"},
		alertMessage{
			Title:       "Database <db>: <category> event <event>",
			Description: fmt.Sprintf("RDS's message is below. RDS console (%s/rds/home?region=%s) › Databases › <db> › Logs & events.", console, a.Region),
			Details:     []string{"message"},
			Runbook:     "db-event",
		}); err != nil {
		return err
	}
	if d.SecretArn == nil {
		return nil
	}
	return w.notify("db-secret-not-rotated", "Secrets Manager could not complete a rotation of the database password", d.SecretArn.ToStringOutput().ApplyT(RotationFailurePattern).(pulumi.StringOutput),
		map[string]string{"event": "$.detail.eventName", "secret": "$.detail.additionalEventData.SecretId", "time": "$.time"},
		alertMessage{
			Title:       "Database password rotation: <event>",
			Description: fmt.Sprintf("Secrets Manager reported <event> for <secret> at <time>: RotationFailed when the rotation did not complete, RotationAbandoned when a new version was put while one was under way. Secrets Manager console (%s/secretsmanager/home?region=%s) › the secret › Rotation shows its state; rotate again through RDS (modify-db-instance --rotate-master-user-password --apply-immediately). After a rotation that succeeds, the rotation rule or, within 15 minutes, the reconcile redeploys the services, which then read the current password.", console, a.Region),
			Runbook:     "db-secret-not-rotated",
		})
}

// recoveries tells when an alarm on a lasting condition is OK again after ALARM: every alarm of the
// stack (the monitoring's own and the deployment alarms, all named under AlarmNamePrefix) but the
// ones that count events.
func (w *watcher) recoveries() error {
	counting := pulumi.StringArray{}
	for _, arn := range w.counting {
		counting = append(counting, arn)
	}
	prefix := AlarmNamePrefix(w.ctx.Project(), w.ctx.Stack())
	pattern := counting.ToStringArrayOutput().ApplyT(func(excluded []string) string {
		return AlarmRecoveredPattern(prefix, excluded)
	}).(pulumi.StringOutput)
	return w.notify("alarm-recovered", "An alarm of the stack on a lasting condition is OK again", pattern,
		map[string]string{"alarm": "$.detail.alarmName", "reason": "$.detail.state.reason"},
		alertMessage{Title: "OK again: <alarm>", Description: "The alarm left ALARM; CloudWatch's reason is below.", Details: []string{"reason"}, Runbook: "alarm-recovered"})
}

// runFailed notifies when a run of the state machine does not succeed.
func (w *watcher) runFailed(suffix, runbook, description string, machine pulumi.StringOutput) error {
	a := w.args
	return w.notify(suffix, description, machine.ApplyT(func(arn string) string { return RunFailedPattern([]string{arn}) }).(pulumi.StringOutput),
		map[string]string{"machine": "$.detail.stateMachineArn", "status": "$.detail.status", "execution": "$.detail.executionArn"},
		alertMessage{
			Title: description,
			Description: fmt.Sprintf("Run <execution> of <machine> ended <status>. Step Functions console (%s/states/home?region=%s) › State machines › the machine › the run: its events show the task's exit code and stopped reason, or the error that stopped it.",
				ConsoleURL(a.Partition, a.Region), a.Region),
			Runbook: runbook,
		})
}

// The input paths the rules read, in two kinds. EventBridge "doesn't escape values extracted by
// Input Path, when populating the Input Template for a target" ("Common Issues with Transforming
// Input", EventBridge User Guide): a value holding a '"' inside a JSON string of the template makes
// the message invalid JSON, and Chatbot drops it. Identifiers (ARNs, ids, names AWS or the stack
// chose, statuses, codes, times) hold none and may sit inside the title and description. Free text
// (AWS's reasons and messages, which quote image names, ARNs or whatever a container printed) only
// ever stands as a JSON value of its own, an element of content.nextSteps, where EventBridge inserts
// the value as JSON, a string with its quotes ("Input transform examples": the template
// {"instance" : <instance>, "state": [ 9, <state>, true ]} gives {"instance" : "i-0123456789",
// "state": [9, "RUNNING", true]}). A rule that reads a path in neither list is refused, so a new
// free-text path cannot slip into a string.
var (
	IdentifierEventPaths = []string{
		"$.resources[0]", "$.time",
		"$.detail.deploymentId",
		"$.detail.taskArn", "$.detail.stopCode", "$.detail.containers[0].exitCode",
		"$.detail.stateMachineArn", "$.detail.executionArn", "$.detail.status",
		"$.detail.SourceIdentifier", "$.detail.EventCategories[0]", "$.detail.EventID",
		"$.detail.eventName", "$.detail.additionalEventData.SecretId",
		// The stack's own alarms only: the recovery rule matches names under AlarmNamePrefix.
		"$.detail.alarmName",
	}
	FreeTextEventPaths = []string{
		"$.detail.reason",        // ECS deployment state change
		"$.detail.stoppedReason", // ECS task state change
		"$.detail.Message",       // RDS event
		"$.detail.state.reason",  // CloudWatch alarm state change
	}
)

// alertMessage is what a rule tells: a title and a description, whose <name>s are identifier input
// paths, Details, the names of the free-text paths, each one line of content.nextSteps, and the
// runbook section it links to.
type alertMessage struct {
	Title, Description string
	Details            []string
	// Runbook is the anchor of the alert's section of docs/runbooks.md, linked at the end of the
	// description.
	Runbook string
}

// chatbotNotification is an AWS Chatbot (Amazon Q Developer in chat applications) custom
// notification: "custom notifications must use the following event format", version "1.0" and
// source "custom" required, content.nextSteps a list of strings ("Custom notifications using Amazon
// Q Developer in chat applications"). A Chatbot topic under alerts.topicArn shows it and forwards
// nothing else; e-mail gets the same JSON object as it is, title first. A template that is a JSON
// string would reach e-mail inside its quotes (hashicorp/terraform-provider-aws#43253).
type chatbotNotification struct {
	Content struct {
		Title       string   `json:"title"`
		Description string   `json:"description"`
		NextSteps   []string `json:"nextSteps,omitempty"`
		TextType    string   `json:"textType"`
	} `json:"content"`
	Source  string `json:"source"`
	Version string `json:"version"`
}

// inputTemplate is the message as EventBridge's input template, the stack first in its title. The
// identifiers' <name>s sit inside the title and description; each free-text <name> is an element of
// nextSteps of its own, unquoted, for EventBridge to insert as a JSON string.
func (w *watcher) inputTemplate(m alertMessage, paths map[string]string) (string, error) {
	var errs []error
	details := map[string]bool{}
	for _, d := range m.Details {
		details[d] = true
		if !slices.Contains(FreeTextEventPaths, paths[d]) {
			errs = append(errs, fmt.Errorf("detail <%s> is not a free-text input path (%q)", d, paths[d]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		path := paths[name]
		switch {
		case slices.Contains(FreeTextEventPaths, path):
			if !details[name] {
				errs = append(errs, fmt.Errorf("free-text input path %s (<%s>) is not a detail", path, name))
			}
			if strings.Contains(m.Title+m.Description, "<"+name+">") {
				errs = append(errs, fmt.Errorf("free-text <%s> inside the title or description, where EventBridge does not escape it", name))
			}
		case !slices.Contains(IdentifierEventPaths, path):
			errs = append(errs, fmt.Errorf("input path %s (<%s>) is neither an identifier nor free text (IdentifierEventPaths, FreeTextEventPaths)", path, name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	n := chatbotNotification{Source: "custom", Version: "1.0"}
	n.Content.Title = fmt.Sprintf("[%s] %s", w.stack, m.Title)
	description, err := w.args.Runbooks.withRunbook(m.Description, m.Runbook, MaxInputTemplate)
	if err != nil {
		return "", err
	}
	n.Content.Description = description
	n.Content.TextType = "client-markdown"
	for _, d := range m.Details {
		n.Content.NextSteps = append(n.Content.NextSteps, "<"+d+">")
	}
	template, err := literalJSON(n)
	if err != nil {
		return "", err
	}
	if len(template) > MaxInputTemplate {
		return "", fmt.Errorf("the template is %d characters; InputTemplate takes at most %d", len(template), MaxInputTemplate)
	}
	for _, d := range m.Details {
		quoted := `"<` + d + `>"`
		if strings.Count(template, quoted) != 1 {
			return "", fmt.Errorf("detail <%s> appears %d times quoted in the template", d, strings.Count(template, quoted))
		}
		template = strings.Replace(template, quoted, "<"+d+">", 1)
	}
	return template, nil
}

// notify creates a rule and one target per destination, each turning the event into a message.
func (w *watcher) notify(suffix, description string, pattern pulumi.StringInput, paths map[string]string, message alertMessage) error {
	template, err := w.inputTemplate(message, paths)
	if err != nil {
		return fmt.Errorf("rule %s: template: %w", suffix, err)
	}
	rule, err := cloudwatch.NewEventRule(w.ctx, w.name+"-"+suffix, &cloudwatch.EventRuleArgs{
		Description:  pulumi.String(fmt.Sprintf("[%s] %s", w.stack, description)),
		EventPattern: pattern,
	}, w.parent)
	if err != nil {
		return fmt.Errorf("rule %s: %w", suffix, err)
	}
	for i, dest := range w.args.Destinations {
		if _, err := cloudwatch.NewEventTarget(w.ctx, fmt.Sprintf("%s-%s-%d", w.name, suffix, i), &cloudwatch.EventTargetArgs{
			Rule: rule.Name,
			// Unique within the rule; a name, not an autoname that could outgrow PutTargets' 64.
			TargetId: pulumi.Sprintf("notify-%d", i),
			Arn:      dest,
			InputTransformer: &cloudwatch.EventTargetInputTransformerArgs{
				InputPaths:    pulumi.ToStringMap(paths),
				InputTemplate: pulumi.String(template),
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
