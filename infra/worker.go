package infra

import (
	"cmp"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Worker is a singleton service for a long-running consumer that must never run twice: one task, no
// load balancer, and deployments that stop the old task before starting the new one (0 % / 100 %).
type Worker struct {
	pulumi.ResourceState

	ServiceName       pulumi.StringOutput `pulumi:"serviceName"`
	TaskDefinitionArn pulumi.StringOutput `pulumi:"taskDefinitionArn"`
}

// WorkerArgs: the worker runs the app's code in the app's runtime (cluster, roles, logs).
type WorkerArgs struct {
	Runtime AppRuntime
	Config  config.WorkerConfig
}

// NewWorker creates the worker's task definition and service.
func NewWorker(ctx *pulumi.Context, name string, args *WorkerArgs, opts ...pulumi.ResourceOption) (*Worker, error) {
	if args == nil || !args.Config.Enabled {
		return nil, fmt.Errorf("worker %s: the worker is not enabled in the config", name)
	}
	w := &Worker{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Worker"), name, w, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(w)
	cfg, rt := args.Config, args.Runtime
	td, err := newTaskDefinition(ctx, name+"-task", rt, taskSpec{
		Family:       taskFamily(ctx.Project(), ctx.Stack(), name),
		Env:          withVars(cfg.Env, map[string]string{rt.Service.CronFlag: "false"}),
		Command:      cfg.Command,
		CPU:          cmp.Or(cfg.CPU, rt.Service.CPU),
		Memory:       cmp.Or(cfg.Memory, rt.Service.Memory),
		StreamPrefix: "worker",
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("worker %s: %w", name, err)
	}

	serviceOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(rt.RolePolicies)}
	if rt.Released != nil {
		// Its task definition waits already; the service says so itself.
		serviceOpts = append(serviceOpts, pulumi.DependsOnInputs(rt.Released))
	}
	service, err := ecs.NewService(ctx, name, &ecs.ServiceArgs{
		Cluster:            rt.ClusterArn,
		TaskDefinition:     td.Arn,
		SchedulingStrategy: pulumi.String("REPLICA"),
		DesiredCount:       pulumi.Int(1),
		CapacityProviderStrategies: ecs.ServiceCapacityProviderStrategyArray{&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: rt.CapacityProviderName, Weight: pulumi.Int(1), Base: pulumi.Int(0),
		}},
		// Never two at once: a deployment stops the old task before the new one starts.
		DeploymentMinimumHealthyPercent: pulumi.Int(0),
		DeploymentMaximumPercent:        pulumi.Int(100),
		DeploymentCircuitBreaker: &ecs.ServiceDeploymentCircuitBreakerArgs{
			Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true),
		},
		PropagateTags:        pulumi.String("SERVICE"),
		EnableEcsManagedTags: pulumi.Bool(true),
		EnableExecuteCommand: pulumi.Bool(rt.Service.EnableExecuteCommand),
	}, serviceOpts...)
	if err != nil {
		return nil, fmt.Errorf("worker %s: service: %w", name, err)
	}

	w.ServiceName = service.Name
	w.TaskDefinitionArn = td.Arn
	return w, ctx.RegisterResourceOutputs(w, pulumi.Map{
		"serviceName":       w.ServiceName,
		"taskDefinitionArn": w.TaskDefinitionArn,
	})
}
