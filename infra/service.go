package infra

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// ContainerName is the app container's name in the task definition and the load balancer block.
const ContainerName = "app"

// AppService runs the API: a task definition in bridge mode with dynamic host ports, and a
// REPLICA service that keeps DesiredCount tasks registered in the load balancer's target group.
type AppService struct {
	pulumi.ResourceState

	ServiceName       pulumi.StringOutput `pulumi:"serviceName"`
	TaskDefinitionArn pulumi.StringOutput `pulumi:"taskDefinitionArn"`
	LogGroupName      pulumi.StringOutput `pulumi:"logGroupName"`
	TaskRoleArn       pulumi.StringOutput `pulumi:"taskRoleArn"`
	ExecutionRoleArn  pulumi.StringOutput `pulumi:"executionRoleArn"`
	// AlarmArns are the deployment alarms (none when alarms are off), for the dashboard.
	AlarmArns pulumi.StringArray
	// RolePolicies are every policy of the task and execution roles; anything else that starts
	// tasks with these roles must depend on them.
	RolePolicies []pulumi.Resource
	// Released, with migrations on, resolves to the API's service once its rollout of this deploy's
	// task definition reached a steady state, and fails the deploy when the service rolled back
	// instead (ReleaseCheck); the worker and the jobs wait on it (AppRuntime.Released), so they never
	// run new code on a schema whose migration failed. Nil without migrations.
	Released pulumi.ResourceArrayOutput
}

// AppServiceArgs: names and ARNs from EcsCluster and LoadBalancer, plain values from config.
type AppServiceArgs struct {
	ClusterArn           pulumi.StringInput
	CapacityProviderName pulumi.StringInput
	// SpotCapacityProviderName is set when capacity.spot is on; Spot says how tasks split over both.
	SpotCapacityProviderName pulumi.StringInput
	Spot                     config.SpotConfig
	TargetGroupArn           pulumi.StringInput
	// Listeners forwarding to the target group; the service waits for them.
	Listeners []pulumi.Resource
	// ARN suffixes name the load balancer and target group in CloudWatch metrics for the alarms.
	LoadBalancerArnSuffix pulumi.StringInput
	TargetGroupArnSuffix  pulumi.StringInput
	Alarms                config.AlarmsConfig
	// AlarmActions are the topics the deployment alarms notify, on ALARM and OK; none without alerts.
	AlarmActions pulumi.StringArray
	// Runbooks links each deployment alarm to its section of docs/runbooks.md.
	Runbooks Runbooks
	// Autoscaled hands the running task count to Application Auto Scaling: `pulumi up` must not
	// reset it to DesiredCount.
	Autoscaled bool
	// Connections come from the database and the cache; the execution role may read their secrets.
	Connections Connections
	Config      config.ServiceConfig
	// Migrate runs the app's migrations in each new task before its app container starts.
	Migrate   config.MigrateConfig
	Region    string
	Partition string
}

// NewAppService builds the log group, the two roles, the task definition and the ECS service.
func NewAppService(ctx *pulumi.Context, name string, args *AppServiceArgs, opts ...pulumi.ResourceOption) (*AppService, error) {
	if args == nil {
		return nil, fmt.Errorf("app service %s: args are required", name)
	}
	if len(args.Listeners) == 0 {
		return nil, fmt.Errorf("app service %s: at least one listener is required: ECS rejects a target group no load balancer uses", name)
	}
	if m := args.Migrate; m.Enabled && (len(m.Command) == 0 || m.Timeout <= 0) {
		return nil, fmt.Errorf("app service %s: migrations need a command and a timeout", name)
	}
	s := &AppService{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "AppService"), name, s, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(s)
	cfg := args.Config
	family := taskFamily(ctx.Project(), ctx.Stack(), name)

	logGroup, err := cloudwatch.NewLogGroup(ctx, name+"-logs", &cloudwatch.LogGroupArgs{
		Name:            pulumi.String("/ecs/" + family),
		RetentionInDays: pulumi.Int(cfg.LogRetentionDays),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("app service %s: log group: %w", name, err)
	}

	executionRole, err := newServiceRole(ctx, name+"-execution-role", ecsTaskAgent, pulumi.String("ECS agent: pull the image, write logs, read the app's secrets"), parent)
	if err != nil {
		return nil, fmt.Errorf("app service %s: execution role: %w", name, err)
	}
	// Every policy of the two roles: whatever starts tasks with them (this service, the worker, the
	// job schedules) waits for all of them, or its first tasks fail on the image pull or a secret.
	var policies []pulumi.Resource
	// Instead of AmazonECSTaskExecutionRolePolicy (ECR pulls from every repository, logs to every
	// group): pulls from exactly the image's repository, logs to exactly the app's log group.
	executionPolicy, err := iam.NewRolePolicy(ctx, name+"-execution-policy", &iam.RolePolicyArgs{
		Role: executionRole.Name,
		Policy: logGroup.Arn.ApplyT(func(logGroupArn string) string {
			return PolicyDocument{Statement: ExecutionStatements(cfg.Image, logGroupArn)}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("app service %s: execution policy: %w", name, err)
	}
	policies = append(policies, executionPolicy)
	if len(cfg.Secrets)+len(args.Connections.Secrets) > 0 {
		policy := args.Connections.resolved().ApplyT(func(v any) string {
			secrets := withVars(cfg.Secrets, v.(resolvedConnections).Secrets)
			return PolicyDocument{Statement: secretReadStatements(secrets)}.JSON()
		}).(pulumi.StringOutput)
		secretsPolicy, err := iam.NewRolePolicy(ctx, name+"-execution-secrets", &iam.RolePolicyArgs{
			Role:   executionRole.Name,
			Policy: policy,
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("app service %s: secrets policy: %w", name, err)
		}
		policies = append(policies, secretsPolicy)
	}

	taskRole, err := newServiceRole(ctx, name+"-task-role", ecsTasks, pulumi.String("The app's own AWS permissions"), parent)
	if err != nil {
		return nil, fmt.Errorf("app service %s: task role: %w", name, err)
	}
	if cfg.EnableExecuteCommand {
		// ECS Exec opens a Session Manager channel from the task; these actions take no resource ARN.
		execPolicy, err := iam.NewRolePolicy(ctx, name+"-task-exec", &iam.RolePolicyArgs{
			Role: taskRole.Name,
			Policy: pulumi.String(PolicyDocument{Statement: []PolicyStatement{{
				Sid:    "EcsExec",
				Effect: "Allow",
				Action: []string{
					"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
					"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
				},
				Resource: []string{"*"},
			}}}.JSON()),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("app service %s: ECS Exec policy: %w", name, err)
		}
		policies = append(policies, execPolicy)
	}

	taskDef, err := newTaskDefinition(ctx, name+"-task", AppRuntime{
		TaskRoleArn:      taskRole.Arn,
		ExecutionRoleArn: executionRole.Arn,
		LogGroupName:     logGroup.Name,
		Connections:      args.Connections,
		Service:          cfg,
		Region:           args.Region,
	}, taskSpec{
		Family: family,
		// In-process cron stays off in the replicas: scheduled jobs run once, as their own tasks.
		Env:          map[string]string{cfg.CronFlag: "false"},
		CPU:          cfg.CPU,
		Memory:       cfg.Memory,
		Port:         cfg.ContainerPort,
		StreamPrefix: ContainerName,
		Migrate:      args.Migrate,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("app service %s: %w", name, err)
	}

	serviceArgs := &ecs.ServiceArgs{
		Cluster:                    args.ClusterArn,
		TaskDefinition:             taskDef.Arn,
		SchedulingStrategy:         pulumi.String("REPLICA"),
		DesiredCount:               pulumi.Int(cfg.DesiredCount),
		CapacityProviderStrategies: capacityStrategy(args),
		LoadBalancers: ecs.ServiceLoadBalancerArray{&ecs.ServiceLoadBalancerArgs{
			TargetGroupArn: args.TargetGroupArn,
			ContainerName:  pulumi.String(ContainerName),
			ContainerPort:  pulumi.Int(cfg.ContainerPort),
		}},
		HealthCheckGracePeriodSeconds: pulumi.Int(cfg.HealthCheckGracePeriod),
		// New tasks start and turn healthy before old ones stop; a deploy whose tasks never turn
		// healthy (a failed migration among them: its app never starts) is rolled back to the last
		// working task definition.
		DeploymentMinimumHealthyPercent: pulumi.Int(100),
		DeploymentMaximumPercent:        pulumi.Int(200),
		DeploymentCircuitBreaker: &ecs.ServiceDeploymentCircuitBreakerArgs{
			Enable:   pulumi.Bool(true),
			Rollback: pulumi.Bool(true),
		},
		// AZs first, so losing a zone loses at most its share of tasks; then instances.
		OrderedPlacementStrategies: ecs.ServiceOrderedPlacementStrategyArray{
			&ecs.ServiceOrderedPlacementStrategyArgs{Type: pulumi.String("spread"), Field: pulumi.String("attribute:ecs.availability-zone")},
			&ecs.ServiceOrderedPlacementStrategyArgs{Type: pulumi.String("spread"), Field: pulumi.String("instanceId")},
		},
		PropagateTags:        pulumi.String("SERVICE"),
		EnableEcsManagedTags: pulumi.Bool(true),
		EnableExecuteCommand: pulumi.Bool(cfg.EnableExecuteCommand),
	}
	if args.Alarms.Enabled {
		alarms, err := serviceAlarms(ctx, name, args.Alarms, args.AlarmActions, args.Runbooks, args.LoadBalancerArnSuffix, args.TargetGroupArnSuffix, parent)
		if err != nil {
			return nil, fmt.Errorf("app service %s: %w", name, err)
		}
		names := pulumi.StringArray{}
		for _, a := range alarms {
			names = append(names, a.Name)
			s.AlarmArns = append(s.AlarmArns, a.Arn)
		}
		// A deployment during which an alarm fires fails, and with Rollback it returns to the last
		// deployment that completed, on top of the circuit breaker's failed-task count.
		serviceArgs.Alarms = &ecs.ServiceAlarmsArgs{
			AlarmNames: names,
			Enable:     pulumi.Bool(true),
			Rollback:   pulumi.Bool(args.Alarms.Rollback),
		}
	}
	serviceOpts := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.Listeners), pulumi.DependsOn(policies)}
	if args.Autoscaled {
		serviceOpts = append(serviceOpts, pulumi.IgnoreChanges([]string{"desiredCount"}))
	}
	if args.Migrate.Enabled {
		// `pulumi up` waits for the rollout, its migration included, so that the worker and the jobs
		// (which wait on Released) switch to the new code only once the API did.
		serviceArgs.WaitForSteadyState = pulumi.Bool(true)
	}
	service, err := ecs.NewService(ctx, name, serviceArgs, serviceOpts...)
	if err != nil {
		return nil, fmt.Errorf("app service %s: service: %w", name, err)
	}
	if args.Migrate.Enabled {
		// After a circuit-breaker rollback the wait for a steady state succeeds, on the old task
		// definition (hashicorp/terraform-provider-aws#19519); the service's task definition, read
		// back after the wait, tells the two apart, as terraform-aws-modules/terraform-aws-ecs#325's
		// postcondition does.
		s.Released = pulumi.All(service.TaskDefinition, taskDef.Arn).ApplyT(func(v []any) ([]pulumi.Resource, error) {
			var running string
			if p := v[0].(*string); p != nil {
				running = *p
			}
			if err := ReleaseCheck(running, v[1].(string)); err != nil {
				return nil, fmt.Errorf("app service %s: %w", name, err)
			}
			return []pulumi.Resource{service}, nil
		}).(pulumi.ResourceArrayOutput)
	}

	s.ServiceName = service.Name
	s.TaskDefinitionArn = taskDef.Arn
	s.LogGroupName = logGroup.Name
	s.TaskRoleArn = taskRole.Arn
	s.ExecutionRoleArn = executionRole.Arn
	s.RolePolicies = policies
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{
		"serviceName":       s.ServiceName,
		"taskDefinitionArn": s.TaskDefinitionArn,
		"logGroupName":      s.LogGroupName,
		"taskRoleArn":       s.TaskRoleArn,
		"executionRoleArn":  s.ExecutionRoleArn,
	})
}

// ReleaseCheck fails when the API's service runs another task definition than the one this deploy
// registered: the circuit breaker (or a deployment alarm) rolled it back, so the migration or the
// release failed. An empty running ARN (the provider did not report one) passes.
func ReleaseCheck(running, registered string) error {
	if running == "" || running == registered {
		return nil
	}
	return fmt.Errorf("the API rolled back to %s: its migration or the release failed; the worker and jobs keep the previous version", running)
}

// capacityStrategy places tasks on the on-demand capacity provider, or, with Spot, keeps the base
// on on-demand and splits the rest by weight.
func capacityStrategy(args *AppServiceArgs) ecs.ServiceCapacityProviderStrategyArray {
	if args.SpotCapacityProviderName == nil {
		return ecs.ServiceCapacityProviderStrategyArray{&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: args.CapacityProviderName, Weight: pulumi.Int(1), Base: pulumi.Int(0),
		}}
	}
	return ecs.ServiceCapacityProviderStrategyArray{
		&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: args.CapacityProviderName, Base: pulumi.Int(args.Spot.OnDemandBase), Weight: pulumi.Int(args.Spot.OnDemandWeight),
		},
		&ecs.ServiceCapacityProviderStrategyArgs{
			CapacityProvider: args.SpotCapacityProviderName, Base: pulumi.Int(0), Weight: pulumi.Int(args.Spot.SpotWeight),
		},
	}
}

// ECRRepositoryArn is the ARN of the private ECR repository an image lives in; ok is false for
// images elsewhere (Docker Hub, ECR Public, GHCR), which ECS pulls without IAM.
func ECRRepositoryArn(image string) (arn string, ok bool) {
	repo, ok := config.ParseECR(image)
	if !ok {
		return "", false
	}
	return repo.Arn(), true
}

// ExecutionStatements are what the ECS agent does with the execution role besides reading secrets:
// write the containers' logs to the app's log group, and, for an image in ECR, pull it from its one
// repository (GetAuthorizationToken takes no resource; "Private repository policies", ECR User Guide).
func ExecutionStatements(image, logGroupArn string) []PolicyStatement {
	statements := []PolicyStatement{{
		Sid: "WriteTheAppsLogs", Effect: "Allow",
		Action: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{logGroupArn + ":*"},
	}}
	if repository, ok := ECRRepositoryArn(image); ok {
		statements = append(statements,
			PolicyStatement{Sid: "SignInToECR", Effect: "Allow", Action: []string{"ecr:GetAuthorizationToken"}, Resource: []string{"*"}},
			PolicyStatement{
				Sid: "PullTheImage", Effect: "Allow",
				Action:   []string{"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
				Resource: []string{repository},
			})
	}
	return statements
}

// secretReadStatements lets the execution role read exactly the configured secrets and nothing else.
func secretReadStatements(secrets map[string]string) []PolicyStatement {
	var ssmArns, secretArns []string
	seen := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		ref := secrets[k]
		switch m := config.SecretsManagerARN.FindStringSubmatch(ref); {
		case m != nil:
			arn := m[1]
			// A partial ARN (without Secrets Manager's 6-character suffix) matches only with "-??????".
			if !secretSuffix.MatchString(arn) {
				arn += "-??????"
			}
			if !seen[arn] {
				secretArns = append(secretArns, arn)
			}
			seen[arn] = true
		case config.SSMParameterARN.MatchString(ref):
			if !seen[ref] {
				ssmArns = append(ssmArns, ref)
			}
			seen[ref] = true
		}
	}
	var statements []PolicyStatement
	if len(ssmArns) > 0 {
		statements = append(statements, PolicyStatement{
			Sid: "ReadAppParameters", Effect: "Allow", Action: []string{"ssm:GetParameters"}, Resource: ssmArns,
		})
	}
	if len(secretArns) > 0 {
		statements = append(statements, PolicyStatement{
			Sid: "ReadAppSecrets", Effect: "Allow", Action: []string{"secretsmanager:GetSecretValue"}, Resource: secretArns,
		})
	}
	return statements
}

var (
	secretSuffix     = regexp.MustCompile(`-[A-Za-z0-9]{6}$`)
	familyNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)
)

// taskFamily names the task definition family (letters, digits, hyphens, underscores; 255 at most).
func taskFamily(project, stack, name string) string {
	family := familyNameUnsafe.ReplaceAllString(strings.Join([]string{project, stack, name}, "-"), "-")
	if len(family) > 255 {
		family = family[:255]
	}
	return family
}
