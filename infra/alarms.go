package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// MaxAlarmName is PutMetricAlarm's limit on AlarmName.
const MaxAlarmName = 255

// AlarmNamePrefix starts the name of every alarm of a stack, "<project>/<stack>/". The name is the
// subject of CloudWatch's mail ("ALARM: \"<name>\" in <region>"), so it says which stack without
// opening the mail; Pulumi project and stack names cannot contain "/", so the prefix is one stack's
// alone.
func AlarmNamePrefix(project, stack string) string { return project + "/" + stack + "/" }

// alarmName is the stack's prefix and the alarm's logical name. A name over CloudWatch's limit keeps
// its start and ends with a hash of the whole, so two long names cannot end up the same.
func alarmName(ctx *pulumi.Context, logical string) string {
	name := AlarmNamePrefix(ctx.Project(), ctx.Stack()) + logical
	if len(name) <= MaxAlarmName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:MaxAlarmName-9] + "-" + hex.EncodeToString(sum[:4])
}

// serviceAlarms creates the alarms that judge a deployment: the share of 5xx answers from the tasks,
// unhealthy targets, and p99 response time, all measured at the load balancer for this target group.
// They are children of the AppService, created before the ECS service that lists them. With alerts
// on they also notify the alert topics when they fire; their return to OK is told by the
// monitoring's recovery rule, not by OK actions, which CloudWatch would also run when it creates
// them (see AlarmRecoveredPattern).
func serviceAlarms(ctx *pulumi.Context, name string, cfg config.AlarmsConfig, actions pulumi.StringArray, runbooks Runbooks, loadBalancer, targetGroup pulumi.StringInput,
	parent pulumi.ResourceOption) ([]*cloudwatch.MetricAlarm, error) {
	dimensions := pulumi.StringMap{"LoadBalancer": loadBalancer, "TargetGroup": targetGroup}
	prefix := fmt.Sprintf("[%s/%s] ", ctx.Project(), ctx.Stack())
	metric := func(metricName, stat string) *cloudwatch.MetricAlarmMetricQueryMetricArgs {
		return &cloudwatch.MetricAlarmMetricQueryMetricArgs{
			Namespace:  pulumi.String("AWS/ApplicationELB"),
			MetricName: pulumi.String(metricName),
			Dimensions: dimensions,
			Period:     pulumi.Int(cfg.PeriodSeconds),
			Stat:       pulumi.String(stat),
		}
	}
	common := func(args *cloudwatch.MetricAlarmArgs) *cloudwatch.MetricAlarmArgs {
		args.EvaluationPeriods = pulumi.Int(cfg.EvaluationPeriods)
		args.DatapointsToAlarm = pulumi.Int(cfg.EvaluationPeriods)
		// No traffic is not an outage: an idle service must not block or roll back a deploy.
		args.TreatMissingData = pulumi.String("notBreaching")
		if len(actions) > 0 {
			args.AlarmActions = alarmActions(actions)
		}
		return args
	}

	// Each alarm's suffix is also the anchor of its section of docs/runbooks.md.
	specs := []struct {
		suffix, description string
		args                *cloudwatch.MetricAlarmArgs
	}{
		{"5xx-rate", fmt.Sprintf("%sMore than %v%% of requests to the tasks answer 5xx: the app fails; a deployment in progress rolls back. Look at the app's log group and the dashboard's Responses widget.", prefix, cfg.Target5xxPercent), common(&cloudwatch.MetricAlarmArgs{
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(cfg.Target5xxPercent),
			MetricQueries: cloudwatch.MetricAlarmMetricQueryArray{
				&cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String("errors"), Metric: metric("HTTPCode_Target_5XX_Count", "Sum"), ReturnData: pulumi.Bool(false)},
				&cloudwatch.MetricAlarmMetricQueryArgs{Id: pulumi.String("requests"), Metric: metric("RequestCount", "Sum"), ReturnData: pulumi.Bool(false)},
				&cloudwatch.MetricAlarmMetricQueryArgs{
					Id:         pulumi.String("rate"),
					Expression: pulumi.String("IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"),
					Label:      pulumi.String("Target 5xx rate (%)"),
					ReturnData: pulumi.Bool(true),
				},
			},
		})},
		{"unhealthy-hosts", fmt.Sprintf("%sAt least %d task(s) failing load balancer health checks: they get no traffic and are replaced. Look at the target group's Targets tab for the health check's reason.", prefix, cfg.UnhealthyHosts), common(&cloudwatch.MetricAlarmArgs{
			ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
			Threshold:          pulumi.Float64(float64(cfg.UnhealthyHosts)),
			Namespace:          pulumi.String("AWS/ApplicationELB"),
			MetricName:         pulumi.String("UnHealthyHostCount"),
			Dimensions:         dimensions,
			Period:             pulumi.Int(cfg.PeriodSeconds),
			Statistic:          pulumi.String("Maximum"),
		})},
		{"p99-latency", fmt.Sprintf("%sp99 target response time above %v s: slow requests, often a busy database or too few tasks. Look at the dashboard's latency, CPU and database widgets.", prefix, cfg.P99LatencySeconds), common(&cloudwatch.MetricAlarmArgs{
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(cfg.P99LatencySeconds),
			Namespace:          pulumi.String("AWS/ApplicationELB"),
			MetricName:         pulumi.String("TargetResponseTime"),
			Dimensions:         dimensions,
			Period:             pulumi.Int(cfg.PeriodSeconds),
			ExtendedStatistic:  pulumi.String("p99"),
			// "If you specify evaluate or omit this parameter, the alarm is always evaluated and
			// possibly changes state no matter how many data points are available" (PutMetricAlarm,
			// EvaluateLowSampleCountPercentile): at night one slow request would roll a deploy back.
			EvaluateLowSampleCountPercentiles: pulumi.String("ignore"),
		})},
	}
	var alarms []*cloudwatch.MetricAlarm
	for _, spec := range specs {
		description, err := runbooks.withRunbook(spec.description, spec.suffix, MaxAlarmDescription)
		if err != nil {
			return nil, fmt.Errorf("alarm %s: %w", spec.suffix, err)
		}
		spec.args.AlarmDescription = pulumi.String(description)
		spec.args.Name = pulumi.String(alarmName(ctx, name+"-"+spec.suffix))
		alarm, err := cloudwatch.NewMetricAlarm(ctx, name+"-"+spec.suffix, spec.args, parent)
		if err != nil {
			return nil, fmt.Errorf("alarm %s: %w", spec.suffix, err)
		}
		alarms = append(alarms, alarm)
	}
	return alarms, nil
}
