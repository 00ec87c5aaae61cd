package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Worker is a singleton service for a long-running consumer that must never run twice: one task, no
// load balancer, and deployments that stop the old task before starting the new one (0 % / 100 %).
type Worker struct {
	pulumi.ResourceState

	ServiceName       pulumi.StringOutput `pulumi:"serviceName"`
	TaskDefinitionArn pulumi.StringOutput `pulumi:"taskDefinitionArn"`
}

// WorkerArgs: the cluster's and the AppService's outputs; the app's settings the worker reuses.
type WorkerArgs struct {
	ClusterArn           pulumi.StringInput
	CapacityProviderName pulumi.StringInput
	TaskRoleArn          pulumi.StringInput
	ExecutionRoleArn     pulumi.StringInput
	LogGroupName         pulumi.StringInput
	// Connections to the database and cache, as the API gets them.
	Connections Connections
	Config      WorkerConfig
	Service     ServiceConfig
	Region      string
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
	cfg, svc := args.Config, args.Service
	cpu, memory := orDefault(cfg.CPU, svc.CPU), orDefault(cfg.Memory, svc.Memory)

	containers := pulumi.All(args.LogGroupName, args.Connections.resolved()).ApplyT(func(v []any) (string, error) {
		logGroup, conn := v[0].(string), v[1].(resolvedConnections)
		return containerDefinitions(containerSpec{
			Service:      svc,
			Env:          withVars(withVars(withVars(svc.Env, conn.Env), cfg.Env), map[string]string{svc.CronFlag: "false"}),
			Secrets:      withVars(svc.Secrets, conn.Secrets),
			Command:      cfg.Command,
			CPU:          cpu,
			Memory:       memory,
			StreamPrefix: "worker",
			LogGroup:     logGroup,
			Region:       args.Region,
		})
	}).(pulumi.StringOutput)
	td, err := ecs.NewTaskDefinition(ctx, name+"-task", &ecs.TaskDefinitionArgs{
		Family:                  pulumi.String(taskFamily(ctx.Project(), ctx.Stack(), name)),
		NetworkMode:             pulumi.String("bridge"),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("EC2")},
		Cpu:                     pulumi.Sprintf("%d", cpu),
		Memory:                  pulumi.Sprintf("%d", memory),
		TaskRoleArn:             args.TaskRoleArn,
		ExecutionRoleArn:        args.ExecutionRoleArn,
		ContainerDefinitions:    containers,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("worker %s: task definition: %w", name, err)
	}

	service, err := ecs.NewService(ctx, name, &ecs.ServiceArgs{
		Cluster:            args.ClusterArn,
		TaskDefinition:     td.Arn,
		SchedulingStrategy: pulumi.String("REPLICA"),
		DesiredCount:       pulumi.Int(1),
		CapacityProviderStrategies: ecs.ServiceCapacityProviderStrategyArray{&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: args.CapacityProviderName, Weight: pulumi.Int(1), Base: pulumi.Int(0),
		}},
		// Never two at once: a deployment stops the old task before the new one starts.
		DeploymentMinimumHealthyPercent: pulumi.Int(0),
		DeploymentMaximumPercent:        pulumi.Int(100),
		DeploymentCircuitBreaker: &ecs.ServiceDeploymentCircuitBreakerArgs{
			Enable: pulumi.Bool(true), Rollback: pulumi.Bool(true),
		},
		PropagateTags:        pulumi.String("SERVICE"),
		EnableEcsManagedTags: pulumi.Bool(true),
		EnableExecuteCommand: pulumi.Bool(svc.EnableExecuteCommand),
	}, parent)
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
