package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/elasticache"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/secretsmanager"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// RedisPort is the port the cache listens on and the only one its security group opens.
const RedisPort = 6379

// Cache is a managed Valkey/Redis replication group shared by every task, so caches, sessions and
// rate limits are the same whichever task serves a request. Traffic is TLS and needs an auth token
// that lives in Secrets Manager.
type Cache struct {
	pulumi.ResourceState

	Address         pulumi.StringOutput `pulumi:"address"`
	Port            pulumi.IntOutput    `pulumi:"port"`
	AuthSecretArn   pulumi.StringOutput `pulumi:"authSecretArn"`
	SecurityGroupID pulumi.IDOutput     `pulumi:"securityGroupId"`
	// MemberClusters are the nodes' cache cluster ids, which CloudWatch's metrics carry. The provider
	// keeps them as a set: use the list whole, never an element by position.
	MemberClusters pulumi.StringArrayOutput `pulumi:"memberClusters"`
}

// CacheArgs: ids from Network and EcsCluster, plain values from config.
type CacheArgs struct {
	VpcID                   pulumi.StringInput
	PrivateSubnetIDs        pulumi.StringArrayInput
	InstanceSecurityGroupID pulumi.StringInput
	Config                  config.CacheConfig
	// NotificationTopicArn receives ElastiCache's events (failover, node replacement); it must be an
	// unencrypted topic, the only kind ElastiCache publishes to. Nil for none.
	NotificationTopicArn pulumi.StringInput
}

// NewCache creates the security group, subnet group, auth token secret and replication group.
func NewCache(ctx *pulumi.Context, name string, args *CacheArgs, opts ...pulumi.ResourceOption) (*Cache, error) {
	if args == nil || !args.Config.Enabled {
		return nil, fmt.Errorf("cache %s: the cache is not enabled in the config", name)
	}
	c := &Cache{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Cache"), name, c, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(c)
	cfg := args.Config

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("Valkey/Redis: 6379 from the ECS instances only"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache %s: security group: %w", name, err)
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-from-instances", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           sg.ID(),
		Description:               pulumi.String("Valkey/Redis from the ECS instances"),
		ReferencedSecurityGroupId: args.InstanceSecurityGroupID,
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(RedisPort),
		ToPort:                    pulumi.Int(RedisPort),
	}, parent); err != nil {
		return nil, fmt.Errorf("cache %s: ingress: %w", name, err)
	}

	subnets, err := elasticache.NewSubnetGroup(ctx, name+"-subnets", &elasticache.SubnetGroupArgs{
		Description: pulumi.String("Private subnets of the app's VPC"),
		SubnetIds:   args.PrivateSubnetIDs,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache %s: subnet group: %w", name, err)
	}

	secret, err := secretsmanager.NewSecret(ctx, name+"-auth", &secretsmanager.SecretArgs{
		Description: pulumi.String("Auth token of the app's Valkey/Redis cache"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("cache %s: auth secret: %w", name, err)
	}
	token, err := newAuthToken()
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", name, err)
	}
	// The token is drawn on the first deploy only: later runs draw a new one that ignoreChanges
	// discards, so the secret (and the cache, which reads it from there) keep the first.
	version, err := secretsmanager.NewSecretVersion(ctx, name+"-auth-token", &secretsmanager.SecretVersionArgs{
		SecretId:     secret.ID(),
		SecretString: pulumi.ToSecret(pulumi.String(token)).(pulumi.StringOutput),
	}, parent, pulumi.IgnoreChanges([]string{"secretString"}))
	if err != nil {
		return nil, fmt.Errorf("cache %s: auth token: %w", name, err)
	}

	group, err := elasticache.NewReplicationGroup(ctx, name, &elasticache.ReplicationGroupArgs{
		Description:              pulumi.String("Shared cache of the app's tasks"),
		Engine:                   pulumi.String(cfg.Engine),
		EngineVersion:            pulumi.String(cfg.EngineVersion),
		NodeType:                 pulumi.String(cfg.NodeType),
		NumCacheClusters:         pulumi.Int(1 + cfg.Replicas),
		AutomaticFailoverEnabled: pulumi.Bool(cfg.AutomaticFailover),
		MultiAzEnabled:           pulumi.Bool(cfg.AutomaticFailover),
		Port:                     pulumi.Int(RedisPort),
		SubnetGroupName:          subnets.Name,
		SecurityGroupIds:         pulumi.StringArray{sg.ID()},
		AtRestEncryptionEnabled:  pulumi.Bool(true),
		TransitEncryptionEnabled: pulumi.Bool(true),
		AuthToken:                version.SecretString,
		SnapshotRetentionLimit:   pulumi.Int(cfg.SnapshotRetentionDays),
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		NotificationTopicArn:     args.NotificationTopicArn,
	}, parent, pulumi.Protect(cfg.Protect))
	if err != nil {
		return nil, fmt.Errorf("cache %s: replication group: %w", name, err)
	}

	c.Address = group.PrimaryEndpointAddress
	c.Port = group.Port.Elem()
	c.AuthSecretArn = secret.Arn
	c.SecurityGroupID = sg.ID()
	c.MemberClusters = group.MemberClusters
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"memberClusters":  c.MemberClusters,
		"address":         c.Address,
		"port":            c.Port,
		"authSecretArn":   c.AuthSecretArn,
		"securityGroupId": c.SecurityGroupID,
	})
}

// Connections are what the app receives: the primary endpoint with TLS on, and the token as a secret.
func (c *Cache) Connections() Connections {
	return Connections{
		Env: pulumi.StringMap{
			"REDIS_HOST": c.Address,
			"REDIS_PORT": pulumi.Sprintf("%d", c.Port),
			"REDIS_TLS":  pulumi.String("true"),
		},
		Secrets: pulumi.StringMap{"REDIS_PASSWORD": c.AuthSecretArn},
	}
}

// newAuthToken draws 32 random bytes as 64 hex characters, within ElastiCache's 16-128 printable
// characters and free of the characters it forbids.
func newAuthToken() (string, error) {
	token, err := randomHex(32)
	if err != nil {
		return "", fmt.Errorf("auth token: %w", err)
	}
	return token, nil
}
