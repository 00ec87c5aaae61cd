package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// serviceAlarms creates the alarms that judge a deployment: the share of 5xx answers from the tasks,
// unhealthy targets, and p99 response time, all measured at the load balancer for this target group.
// They are children of the AppService, created before the ECS service that lists them. With alerts
// on they also notify the alert topics, on ALARM and on OK.
func serviceAlarms(ctx *pulumi.Context, name string, cfg config.AlarmsConfig, actions pulumi.StringArray, loadBalancer, targetGroup pulumi.StringInput,
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
			args.OkActions = alarmActions(actions)
		}
		return args
	}

	specs := []struct {
		suffix string
		args   *cloudwatch.MetricAlarmArgs
	}{
		{"5xx-rate", common(&cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("%sMore than %v%% of requests to the tasks answer 5xx: the app fails; a deployment in progress rolls back. Look at the app's log group and the dashboard's Responses widget.", prefix, cfg.Target5xxPercent),
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
		{"unhealthy-hosts", common(&cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("%sAt least %d task(s) failing load balancer health checks: they get no traffic and are replaced. Look at the target group's Targets tab for the health check's reason.", prefix, cfg.UnhealthyHosts),
			ComparisonOperator: pulumi.String("GreaterThanOrEqualToThreshold"),
			Threshold:          pulumi.Float64(float64(cfg.UnhealthyHosts)),
			Namespace:          pulumi.String("AWS/ApplicationELB"),
			MetricName:         pulumi.String("UnHealthyHostCount"),
			Dimensions:         dimensions,
			Period:             pulumi.Int(cfg.PeriodSeconds),
			Statistic:          pulumi.String("Maximum"),
		})},
		{"p99-latency", common(&cloudwatch.MetricAlarmArgs{
			AlarmDescription:   pulumi.Sprintf("%sp99 target response time above %v s: slow requests, often a busy database or too few tasks. Look at the dashboard's latency, CPU and database widgets.", prefix, cfg.P99LatencySeconds),
			ComparisonOperator: pulumi.String("GreaterThanThreshold"),
			Threshold:          pulumi.Float64(cfg.P99LatencySeconds),
			Namespace:          pulumi.String("AWS/ApplicationELB"),
			MetricName:         pulumi.String("TargetResponseTime"),
			Dimensions:         dimensions,
			Period:             pulumi.Int(cfg.PeriodSeconds),
			ExtendedStatistic:  pulumi.String("p99"),
		})},
	}
	var alarms []*cloudwatch.MetricAlarm
	for _, spec := range specs {
		alarm, err := cloudwatch.NewMetricAlarm(ctx, name+"-"+spec.suffix, spec.args, parent)
		if err != nil {
			return nil, fmt.Errorf("alarm %s: %w", spec.suffix, err)
		}
		alarms = append(alarms, alarm)
	}
	return alarms, nil
}
