// Command ecs-api is a Pulumi program: an HTTP API as many ECS tasks on EC2 instances behind an
// Application Load Balancer. Run it with `pulumi up --stack <stack>`.
package main

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
)

func main() {
	pulumi.Run(program)
}

// program is the table of contents: config, then each component fed by the ones before it.
func program(ctx *pulumi.Context) error {
	cfg, err := config.LoadConfig(ctx)
	if err != nil {
		return err
	}

	// One explicit provider carries the region and the tags every resource must have.
	provider, err := aws.NewProvider(ctx, "aws", &aws.ProviderArgs{
		Region:      pulumi.String(cfg.Region),
		DefaultTags: &aws.ProviderDefaultTagsArgs{Tags: pulumi.ToStringMap(cfg.AllTags())},
	})
	if err != nil {
		return fmt.Errorf("aws provider: %w", err)
	}
	withAWS := pulumi.Providers(provider)

	// The alert topic named in config must be this account's; only AWS knows which that is, and it
	// is asked before anything is created.
	if cfg.Alerts.Enabled && cfg.Alerts.TopicArn != "" {
		caller, err := aws.GetCallerIdentity(ctx, nil, pulumi.Provider(provider))
		if err != nil {
			return fmt.Errorf("alerts: account: %w", err)
		}
		if err := cfg.Alerts.CheckTopicAccount(cfg.Stack, caller.AccountId); err != nil {
			return fmt.Errorf("invalid configuration for stack %q:\n%w", cfg.Stack, err)
		}
	}

	// An existing VPC is checked through AWS's APIs before anything is created in it.
	var existing *infra.ExistingNetwork
	if cfg.Network.Existing() {
		if existing, err = infra.CheckExistingNetwork(ctx, cfg, pulumi.Provider(provider)); err != nil {
			return err
		}
	}

	// The app's images, when this stack owns their repository.
	if cfg.Repository.Enabled {
		images, err := infra.NewRepository(ctx, "images", &infra.RepositoryArgs{Config: cfg.Repository}, withAWS)
		if err != nil {
			return err
		}
		ctx.Export("repositoryUrl", images.RepositoryURL)
	}

	network, err := infra.NewNetwork(ctx, "network", &infra.NetworkArgs{
		Config:               cfg.Network,
		Existing:             existing,
		FlowLogRetentionDays: cfg.Service.LogRetentionDays,
		Region:               cfg.Region,
		Partition:            cfg.Partition(),
	}, withAWS)
	if err != nil {
		return err
	}

	alb, err := infra.NewLoadBalancer(ctx, "web", &infra.LoadBalancerArgs{
		VpcID:                  network.VpcID,
		PublicSubnetIDs:        network.PublicSubnetIDs,
		ContainerPort:          cfg.Service.ContainerPort,
		Config:                 cfg.LoadBalancer,
		Domain:                 cfg.Domain,
		AccessLogRetentionDays: cfg.Service.LogRetentionDays,
		Region:                 cfg.Region,
		Partition:              cfg.Partition(),
	}, withAWS)
	if err != nil {
		return err
	}

	clusterArgs := &infra.EcsClusterArgs{
		VpcID:                       network.VpcID,
		PrivateSubnetIDs:            network.PrivateSubnetIDs,
		LoadBalancerSecurityGroupID: alb.SecurityGroupID.ToStringOutput(),
		Egress:                      network.Egress,
		Config:                      cfg.Cluster,
		Partition:                   cfg.Partition(),
		Tags:                        cfg.AllTags(),
	}
	if network.HasInterfaceEndpoints {
		clusterArgs.EndpointSecurityGroupID = network.EndpointSecurityGroupID
	}
	cluster, err := infra.NewEcsCluster(ctx, "cluster", clusterArgs, withAWS)
	if err != nil {
		return err
	}

	// Where alerts go; the deployment alarms, the cache and the monitoring below send to it.
	var alerts *infra.AlertTopic
	var destinations pulumi.StringArray
	if cfg.Alerts.Enabled {
		alerts, err = infra.NewAlertTopic(ctx, "alerts", &infra.AlertTopicArgs{
			Config: cfg.Alerts, Region: cfg.Region, Partition: cfg.Partition(), CacheEvents: cfg.Cache.Enabled,
		}, withAWS)
		if err != nil {
			return err
		}
		destinations = alerts.Destinations
		ctx.Export("alertTopicArn", alerts.TopicArn)
	}

	shared, db, cache, err := sharedState(ctx, cfg, network, cluster, alerts, withAWS)
	if err != nil {
		return err
	}

	appArgs := &infra.AppServiceArgs{
		ClusterArn:            cluster.ClusterArn,
		CapacityProviderName:  cluster.CapacityProviderName,
		TargetGroupArn:        alb.TargetGroupArn,
		Listeners:             alb.Listeners,
		LoadBalancerArnSuffix: alb.ArnSuffix,
		TargetGroupArnSuffix:  alb.TargetGroupArnSuffix,
		Alarms:                cfg.Alarms,
		AlarmActions:          destinations,
		Runbooks:              infra.Runbooks{URL: cfg.RunbookURL},
		Autoscaled:            cfg.Autoscaling.Enabled,
		Connections:           shared,
		Config:                cfg.Service,
		Migrate:               cfg.Migrate,
		Region:                cfg.Region,
		Partition:             cfg.Partition(),
	}
	if cfg.Cluster.Capacity.Spot.Enabled {
		appArgs.SpotCapacityProviderName = cluster.SpotCapacityProviderName
		appArgs.Spot = cfg.Cluster.Capacity.Spot
	}
	app, err := infra.NewAppService(ctx, "api", appArgs, withAWS)
	if err != nil {
		return err
	}

	if cfg.Autoscaling.Enabled {
		if _, err := infra.NewServiceAutoscaling(ctx, "api-scaling", &infra.ServiceAutoscalingArgs{
			ClusterName:           cluster.ClusterName,
			ServiceName:           app.ServiceName,
			LoadBalancerArnSuffix: alb.ArnSuffix,
			TargetGroupArnSuffix:  alb.TargetGroupArnSuffix,
			Config:                cfg.Autoscaling,
		}, withAWS); err != nil {
			return err
		}
	}

	// Jobs and the worker run the app's code as the API does: same cluster, roles, logs and connections.
	runtime := infra.AppRuntime{
		ClusterArn:           cluster.ClusterArn,
		CapacityProviderName: cluster.CapacityProviderName,
		TaskRoleArn:          app.TaskRoleArn,
		ExecutionRoleArn:     app.ExecutionRoleArn,
		RolePolicies:         app.RolePolicies,
		LogGroupName:         app.LogGroupName,
		Connections:          shared,
		Service:              cfg.Service,
		Region:               cfg.Region,
	}
	if cfg.Migrate.Enabled {
		// New code of the worker and jobs waits for the API's migration, and stays off when it failed.
		runtime.Released = app.Released
	}
	var jobs *infra.ScheduledJobs
	if len(cfg.Jobs) > 0 {
		jobs, err = infra.NewScheduledJobs(ctx, "jobs", &infra.ScheduledJobsArgs{
			Runtime: runtime, Jobs: cfg.Jobs, Partition: cfg.Partition(),
		}, withAWS)
		if err != nil {
			return err
		}
		ctx.Export("jobTaskDefinitions", jobs.TaskDefinitionArns)
		ctx.Export("jobStateMachines", jobs.StateMachineArns)
		ctx.Export("jobDeadLetterQueueUrl", jobs.DeadLetterQueueURL)
	}

	// Services whose tasks read the database password when they start.
	readers := []pulumi.StringInput{app.ServiceName}
	watched := []infra.MonitoredService{{Name: "api", ServiceName: app.ServiceName}}
	if cfg.Worker.Enabled {
		worker, err := infra.NewWorker(ctx, "worker", &infra.WorkerArgs{Runtime: runtime, Config: cfg.Worker}, withAWS)
		if err != nil {
			return err
		}
		readers = append(readers, worker.ServiceName)
		watched = append(watched, infra.MonitoredService{Name: "worker", ServiceName: worker.ServiceName})
		ctx.Export("workerServiceName", worker.ServiceName)
	}

	// RDS rotates the master password; tasks read it once, at start, so a rotation redeploys them.
	var rotation *infra.RedeployOnRotation
	if db != nil {
		rotation, err = infra.NewRedeployOnRotation(ctx, "db-rotation", &infra.RedeployOnRotationArgs{
			SecretArn:        db.SecretArn,
			ClusterArn:       cluster.ClusterArn,
			ServiceNames:     readers,
			Partition:        cfg.Partition(),
			LogRetentionDays: cfg.Service.LogRetentionDays,
		}, withAWS)
		if err != nil {
			return err
		}
	}

	monitoring, err := infra.NewMonitoring(ctx, "monitoring", monitoringArgs(cfg, monitored{
		destinations: destinations, alb: alb, cluster: cluster, app: app, services: watched,
		jobs: jobs, rotation: rotation, db: db, cache: cache,
	}), withAWS)
	if err != nil {
		return err
	}
	ctx.Export("dashboardUrl", monitoring.DashboardURL)

	ctx.Export("url", alb.URL)
	if cfg.Domain.Enabled() || cfg.LoadBalancer.CertificateArn != "" {
		ctx.Export("certificateArn", alb.CertificateArn)
	}
	if cfg.Domain.Enabled() {
		ctx.Export("domainNames", pulumi.ToStringArray(cfg.Domain.Names()))
	}
	ctx.Export("albDnsName", alb.DNSName)
	ctx.Export("clusterName", cluster.ClusterName)
	ctx.Export("serviceName", app.ServiceName)
	ctx.Export("logGroupName", app.LogGroupName)
	ctx.Export("vpcId", network.VpcID)
	ctx.Export("taskDefinitionArn", app.TaskDefinitionArn)
	ctx.Export("targetGroupArn", alb.TargetGroupArn)
	// cmd/verify requests this path through the load balancer after a deploy.
	ctx.Export("healthCheckPath", pulumi.String(cfg.LoadBalancer.HealthCheck.Path))
	ctx.Export("capacityProviderName", cluster.CapacityProviderName)
	ctx.Export("region", pulumi.String(cfg.Region))
	return nil
}

// monitored is every component the monitoring watches; nil where the stack has none.
type monitored struct {
	destinations pulumi.StringArray
	alb          *infra.LoadBalancer
	cluster      *infra.EcsCluster
	app          *infra.AppService
	services     []infra.MonitoredService
	jobs         *infra.ScheduledJobs
	rotation     *infra.RedeployOnRotation
	db           *infra.Database
	cache        *infra.Cache
}

// monitoringArgs hands the monitoring the names of what the stack has.
func monitoringArgs(cfg *config.Config, c monitored) *infra.MonitoringArgs {
	args := &infra.MonitoringArgs{
		Alerts:                cfg.Alerts,
		Destinations:          c.destinations,
		DeploymentAlarms:      c.app.AlarmArns,
		ClusterName:           c.cluster.ClusterName,
		ClusterArn:            c.cluster.ClusterArn,
		CapacityProviderNames: []pulumi.StringInput{c.cluster.CapacityProviderName},
		AutoScalingGroupName:  c.cluster.AutoScalingGroupName,
		LoadBalancerArnSuffix: c.alb.ArnSuffix,
		TargetGroupArnSuffix:  c.alb.TargetGroupArnSuffix,
		Services:              c.services,
		Region:                cfg.Region,
		Partition:             cfg.Partition(),
		LogRetentionDays:      cfg.Service.LogRetentionDays,
		Runbooks:              infra.Runbooks{URL: cfg.RunbookURL},
	}
	if cfg.Cluster.Capacity.Spot.Enabled {
		args.CapacityProviderNames = append(args.CapacityProviderNames, c.cluster.SpotCapacityProviderName)
	}
	if cfg.Migrate.Enabled {
		args.MigratingService = c.app.ServiceName
	}
	if c.jobs != nil {
		args.Jobs = &infra.MonitoredJobs{
			Families: c.jobs.Families, StateMachineArns: c.jobs.StateMachineArns, DeadLetterQueue: c.jobs.DeadLetterQueueName,
		}
	}
	if c.rotation != nil {
		args.RotationStateMachineArn = c.rotation.StateMachineArn
		args.RotationReconcileStateMachineArn = c.rotation.ReconcileStateMachineArn
		args.RotationReconcileDeadLetterQueue = c.rotation.ReconcileDeadLetterQueueName
	}
	if c.db != nil {
		args.Database = &infra.MonitoredDatabase{
			Identifier: c.db.Identifier, SecretArn: c.db.SecretArn, Connections: cfg.DatabaseConnectionsThreshold(),
			AllocatedStorageGiB: cfg.Database.AllocatedStorage, MaxAllocatedStorageGiB: cfg.Database.MaxAllocatedStorage,
			FreeStoragePercent: cfg.DatabaseFreeStorageAlarmPercent(),
		}
	}
	if c.cache != nil {
		args.CacheNodes = c.cache.MemberClusters
	}
	return args
}

// sharedState creates the database and the cache the config enables, and returns how the app's
// containers reach them, the database and the cache (nil without one). State lives in managed
// services, not in any one task, so every task sees the same.
func sharedState(ctx *pulumi.Context, cfg *config.Config, network *infra.Network, cluster *infra.EcsCluster, alerts *infra.AlertTopic,
	opts ...pulumi.ResourceOption) (infra.Connections, *infra.Database, *infra.Cache, error) {
	var connections []infra.Connections
	var db *infra.Database
	var cache *infra.Cache
	if cfg.Database.Enabled {
		var err error
		db, err = infra.NewDatabase(ctx, "db", &infra.DatabaseArgs{
			VpcID:                   network.VpcID,
			PrivateSubnetIDs:        network.PrivateSubnetIDs,
			InstanceSecurityGroupID: cluster.InstanceSecurityGroupID.ToStringOutput(),
			Config:                  cfg.Database,
		}, opts...)
		if err != nil {
			return infra.Connections{}, nil, nil, err
		}
		connections = append(connections, db.Connections())
		ctx.Export("databaseEndpoint", pulumi.Sprintf("%s:%d", db.Address, db.Port))
		ctx.Export("databaseSecretArn", db.SecretArn)
	}
	if cfg.Cache.Enabled {
		args := &infra.CacheArgs{
			VpcID:                   network.VpcID,
			PrivateSubnetIDs:        network.PrivateSubnetIDs,
			InstanceSecurityGroupID: cluster.InstanceSecurityGroupID.ToStringOutput(),
			Config:                  cfg.Cache,
		}
		if alerts != nil {
			args.NotificationTopicArn = alerts.CacheEventsTopicArn
		}
		var err error
		cache, err = infra.NewCache(ctx, "cache", args, opts...)
		if err != nil {
			return infra.Connections{}, nil, nil, err
		}
		connections = append(connections, cache.Connections())
		ctx.Export("cacheEndpoint", pulumi.Sprintf("%s:%d", cache.Address, cache.Port))
	}
	return infra.MergeConnections(connections...), db, cache, nil
}
