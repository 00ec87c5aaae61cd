package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/appautoscaling"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// ServiceAutoscaling lets Application Auto Scaling move the service's task count between MinTasks and
// MaxTasks: target tracking on CPU, memory and requests per task, plus scheduled bounds for known peaks.
// The capacity provider then adds or removes instances to fit the tasks.
type ServiceAutoscaling struct {
	pulumi.ResourceState

	ResourceID pulumi.StringOutput `pulumi:"resourceId"`
}

// ServiceAutoscalingArgs: names from EcsCluster, AppService and LoadBalancer; plain config.
type ServiceAutoscalingArgs struct {
	ClusterName pulumi.StringInput
	ServiceName pulumi.StringInput
	// Both ARN suffixes form the resource label of the requests-per-target metric.
	LoadBalancerArnSuffix pulumi.StringInput
	TargetGroupArnSuffix  pulumi.StringInput
	Config                config.AutoscalingConfig
}

// NewServiceAutoscaling registers the scalable target, its policies and scheduled actions.
func NewServiceAutoscaling(ctx *pulumi.Context, name string, args *ServiceAutoscalingArgs, opts ...pulumi.ResourceOption) (*ServiceAutoscaling, error) {
	if args == nil {
		return nil, fmt.Errorf("service autoscaling %s: args are required", name)
	}
	if !args.Config.Enabled {
		return nil, fmt.Errorf("service autoscaling %s: autoscaling is not enabled in the config", name)
	}
	a := &ServiceAutoscaling{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "ServiceAutoscaling"), name, a, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(a)
	cfg := args.Config

	target, err := appautoscaling.NewTarget(ctx, name+"-target", &appautoscaling.TargetArgs{
		ServiceNamespace:  pulumi.String("ecs"),
		ScalableDimension: pulumi.String("ecs:service:DesiredCount"),
		ResourceId:        pulumi.Sprintf("service/%s/%s", args.ClusterName, args.ServiceName),
		MinCapacity:       pulumi.Int(cfg.MinTasks),
		MaxCapacity:       pulumi.Int(cfg.MaxTasks),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("service autoscaling %s: target: %w", name, err)
	}

	policies := []struct {
		suffix, metric string
		value          float64
		label          pulumi.StringInput
	}{
		{"cpu", "ECSServiceAverageCPUUtilization", cfg.CPUTarget, nil},
		{"memory", "ECSServiceAverageMemoryUtilization", cfg.MemoryTarget, nil},
		{"requests", "ALBRequestCountPerTarget", cfg.RequestsPerTarget,
			pulumi.Sprintf("%s/%s", args.LoadBalancerArnSuffix, args.TargetGroupArnSuffix)},
	}
	for _, p := range policies {
		if p.value == 0 {
			continue
		}
		metric := &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs{
			PredefinedMetricType: pulumi.String(p.metric),
		}
		if p.label != nil {
			metric.ResourceLabel = p.label
		}
		if _, err := appautoscaling.NewPolicy(ctx, name+"-"+p.suffix, &appautoscaling.PolicyArgs{
			PolicyType:        pulumi.String("TargetTrackingScaling"),
			ServiceNamespace:  target.ServiceNamespace,
			ScalableDimension: target.ScalableDimension,
			ResourceId:        target.ResourceId,
			TargetTrackingScalingPolicyConfiguration: &appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs{
				TargetValue:                   pulumi.Float64(p.value),
				PredefinedMetricSpecification: metric,
				ScaleOutCooldown:              pulumi.Int(cfg.ScaleOutCooldown),
				ScaleInCooldown:               pulumi.Int(cfg.ScaleInCooldown),
			},
		}, parent); err != nil {
			return nil, fmt.Errorf("service autoscaling %s: %s policy: %w", name, p.suffix, err)
		}
	}

	for _, s := range cfg.Scheduled {
		if _, err := appautoscaling.NewScheduledAction(ctx, name+"-"+s.Name, &appautoscaling.ScheduledActionArgs{
			Name:              pulumi.String(s.Name),
			ServiceNamespace:  target.ServiceNamespace,
			ScalableDimension: target.ScalableDimension,
			ResourceId:        target.ResourceId,
			Schedule:          pulumi.String(s.Schedule),
			Timezone:          pulumi.String(s.Timezone),
			ScalableTargetAction: &appautoscaling.ScheduledActionScalableTargetActionArgs{
				MinCapacity: pulumi.Int(s.MinTasks),
				MaxCapacity: pulumi.Int(s.MaxTasks),
			},
		}, parent); err != nil {
			return nil, fmt.Errorf("service autoscaling %s: scheduled action %s: %w", name, s.Name, err)
		}
	}

	a.ResourceID = target.ResourceId
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{"resourceId": a.ResourceID})
}
