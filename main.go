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

	network, err := infra.NewNetwork(ctx, "network", &infra.NetworkArgs{
		Config:               cfg.Network,
		FlowLogRetentionDays: cfg.Service.LogRetentionDays,
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

	cluster, err := infra.NewEcsCluster(ctx, "cluster", &infra.EcsClusterArgs{
		VpcID:                       network.VpcID,
		PrivateSubnetIDs:            network.PrivateSubnetIDs,
		LoadBalancerSecurityGroupID: alb.SecurityGroupID.ToStringOutput(),
		Config:                      cfg.Cluster,
		Partition:                   cfg.Partition(),
		Tags:                        cfg.AllTags(),
	}, withAWS)
	if err != nil {
		return err
	}

	shared, db, err := sharedState(ctx, cfg, network, cluster, withAWS)
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
		Autoscaled:            cfg.Autoscaling.Enabled,
		Connections:           shared,
		Config:                cfg.Service,
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
	if len(cfg.Jobs) > 0 {
		jobs, err := infra.NewScheduledJobs(ctx, "jobs", &infra.ScheduledJobsArgs{
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
	if cfg.Worker.Enabled {
		worker, err := infra.NewWorker(ctx, "worker", &infra.WorkerArgs{Runtime: runtime, Config: cfg.Worker}, withAWS)
		if err != nil {
			return err
		}
		readers = append(readers, worker.ServiceName)
		ctx.Export("workerServiceName", worker.ServiceName)
	}

	// RDS rotates the master password; tasks read it once, at start, so a rotation redeploys them.
	if db != nil {
		if _, err := infra.NewRedeployOnRotation(ctx, "db-rotation", &infra.RedeployOnRotationArgs{
			SecretArn:        db.SecretArn,
			ClusterArn:       cluster.ClusterArn,
			ServiceNames:     readers,
			Partition:        cfg.Partition(),
			LogRetentionDays: cfg.Service.LogRetentionDays,
		}, withAWS); err != nil {
			return err
		}
	}

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

// sharedState creates the database and the cache the config enables, and returns how the app's
// containers reach them, and the database (nil without one). State lives in managed services, not
// in any one task, so every task sees the same.
func sharedState(ctx *pulumi.Context, cfg *config.Config, network *infra.Network, cluster *infra.EcsCluster,
	opts ...pulumi.ResourceOption) (infra.Connections, *infra.Database, error) {
	var connections []infra.Connections
	var db *infra.Database
	if cfg.Database.Enabled {
		var err error
		db, err = infra.NewDatabase(ctx, "db", &infra.DatabaseArgs{
			VpcID:                   network.VpcID,
			PrivateSubnetIDs:        network.PrivateSubnetIDs,
			InstanceSecurityGroupID: cluster.InstanceSecurityGroupID.ToStringOutput(),
			Config:                  cfg.Database,
		}, opts...)
		if err != nil {
			return infra.Connections{}, nil, err
		}
		connections = append(connections, db.Connections())
		ctx.Export("databaseEndpoint", pulumi.Sprintf("%s:%d", db.Address, db.Port))
		ctx.Export("databaseSecretArn", db.SecretArn)
	}
	if cfg.Cache.Enabled {
		cache, err := infra.NewCache(ctx, "cache", &infra.CacheArgs{
			VpcID:                   network.VpcID,
			PrivateSubnetIDs:        network.PrivateSubnetIDs,
			InstanceSecurityGroupID: cluster.InstanceSecurityGroupID.ToStringOutput(),
			Config:                  cfg.Cache,
		}, opts...)
		if err != nil {
			return infra.Connections{}, nil, err
		}
		connections = append(connections, cache.Connections())
		ctx.Export("cacheEndpoint", pulumi.Sprintf("%s:%d", cache.Address, cache.Port))
	}
	return infra.MergeConnections(connections...), db, nil
}
