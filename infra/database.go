package infra

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// PostgresPort is the port the database listens on and the only one its security group opens.
const PostgresPort = 5432

// Database is a managed PostgreSQL in the private subnets that only the instances can reach. Its
// master password is generated and kept by RDS in Secrets Manager, never in config or state.
type Database struct {
	pulumi.ResourceState

	Address         pulumi.StringOutput `pulumi:"address"`
	Port            pulumi.IntOutput    `pulumi:"port"`
	SecretArn       pulumi.StringOutput `pulumi:"secretArn"`
	SecurityGroupID pulumi.IDOutput     `pulumi:"securityGroupId"`
	// Identifier names the instance in RDS's metrics and events.
	Identifier pulumi.StringOutput `pulumi:"identifier"`

	name string
}

// DatabaseArgs: ids from Network and EcsCluster, plain values from config.
type DatabaseArgs struct {
	VpcID                   pulumi.StringInput
	PrivateSubnetIDs        pulumi.StringArrayInput
	InstanceSecurityGroupID pulumi.StringInput
	Config                  config.DatabaseConfig
}

// NewDatabase creates the security group, subnet group, parameter group and the instance.
func NewDatabase(ctx *pulumi.Context, name string, args *DatabaseArgs, opts ...pulumi.ResourceOption) (*Database, error) {
	if args == nil || !args.Config.Enabled {
		return nil, fmt.Errorf("database %s: the database is not enabled in the config", name)
	}
	d := &Database{name: args.Config.Name}
	if err := ctx.RegisterComponentResource(componentType(ctx, "Database"), name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	cfg := args.Config

	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("PostgreSQL: 5432 from the ECS instances only"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database %s: security group: %w", name, err)
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-from-instances", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           sg.ID(),
		Description:               pulumi.String("PostgreSQL from the ECS instances"),
		ReferencedSecurityGroupId: args.InstanceSecurityGroupID,
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(PostgresPort),
		ToPort:                    pulumi.Int(PostgresPort),
	}, parent); err != nil {
		return nil, fmt.Errorf("database %s: ingress: %w", name, err)
	}

	subnets, err := rds.NewSubnetGroup(ctx, name+"-subnets", &rds.SubnetGroupArgs{
		Description: pulumi.String("Private subnets of the app's VPC"),
		SubnetIds:   args.PrivateSubnetIDs,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database %s: subnet group: %w", name, err)
	}

	major := config.PostgresMajor(cfg.EngineVersion)
	params, err := rds.NewParameterGroup(ctx, name+"-params", &rds.ParameterGroupArgs{
		Family:      pulumi.Sprintf("postgres%d", major),
		Description: pulumi.String("TLS required; slow statements logged"),
		Parameters: rds.ParameterGroupParameterArray{
			// Refuse unencrypted connections, whatever the client asks for.
			&rds.ParameterGroupParameterArgs{Name: pulumi.String("rds.force_ssl"), Value: pulumi.String("1")},
			&rds.ParameterGroupParameterArgs{Name: pulumi.String("log_min_duration_statement"), Value: pulumi.String("1000")},
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("database %s: parameter group: %w", name, err)
	}

	instanceArgs := &rds.InstanceArgs{
		Engine:                   pulumi.String("postgres"),
		EngineVersion:            pulumi.String(cfg.EngineVersion),
		InstanceClass:            pulumi.String(cfg.InstanceClass),
		AllocatedStorage:         pulumi.Int(cfg.AllocatedStorage),
		StorageType:              pulumi.String("gp3"),
		StorageEncrypted:         pulumi.Bool(true),
		DbName:                   pulumi.String(cfg.Name),
		Username:                 pulumi.String(cfg.Username),
		ManageMasterUserPassword: pulumi.Bool(true),
		DbSubnetGroupName:        subnets.Name,
		ParameterGroupName:       params.Name,
		VpcSecurityGroupIds:      pulumi.StringArray{sg.ID()},
		PubliclyAccessible:       pulumi.Bool(false),
		MultiAz:                  pulumi.Bool(cfg.MultiAZ),
		BackupRetentionPeriod:    pulumi.Int(cfg.BackupRetentionDays),
		CopyTagsToSnapshot:       pulumi.Bool(true),
		DeletionProtection:       pulumi.Bool(cfg.DeletionProtection),
		SkipFinalSnapshot:        pulumi.Bool(!cfg.FinalSnapshot),
		// A bare major version ("16") lets RDS choose and upgrade the minor version. A major upgrade
		// happens only when database.engineVersion changes, and RDS rejects that change with
		// InvalidParameterCombination unless AllowMajorVersionUpgrade is set (ModifyDBInstance).
		AutoMinorVersionUpgrade:  pulumi.Bool(true),
		AllowMajorVersionUpgrade: pulumi.Bool(true),
		// A deploy takes effect now, as CloudFormation's does. A major upgrade needs it: the new
		// parameter group (family postgres<major>) replaces the old one, which Pulumi deletes after
		// the update; a change left pending until the maintenance window still uses the old group,
		// and its deletion fails.
		ApplyImmediately:             pulumi.Bool(true),
		EnabledCloudwatchLogsExports: pulumi.ToStringArray([]string{"postgresql", "upgrade"}),
		PerformanceInsightsEnabled:   pulumi.Bool(cfg.PerformanceInsights),
	}
	if cfg.MaxAllocatedStorage > 0 {
		instanceArgs.MaxAllocatedStorage = pulumi.Int(cfg.MaxAllocatedStorage)
	}
	// RDS refuses a final snapshot whose name exists (DBSnapshotAlreadyExists), so a fixed name fails
	// the second time the database is deleted or replaced. The name gets a suffix drawn when the
	// instance is created; ignoreChanges keeps that first draw in state for the instance's life, so
	// previews show no diff and each instance is deleted under its own name. It is set even when
	// finalSnapshot is off, so turning it on later needs no change to an ignored field.
	suffix, err := randomHex(4)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	instanceArgs.FinalSnapshotIdentifier = pulumi.String(snapshotIdentifier(ctx.Project(), ctx.Stack(), name, "final", suffix))
	if cfg.PerformanceInsights {
		instanceArgs.PerformanceInsightsRetentionPeriod = pulumi.Int(7)
	}
	instance, err := rds.NewInstance(ctx, name, instanceArgs, parent, pulumi.Protect(cfg.Protect),
		pulumi.IgnoreChanges([]string{"finalSnapshotIdentifier"}))
	if err != nil {
		return nil, fmt.Errorf("database %s: instance: %w", name, err)
	}

	d.Address = instance.Address
	d.Port = instance.Port
	d.SecretArn = instance.MasterUserSecrets.Index(pulumi.Int(0)).SecretArn().Elem()
	d.SecurityGroupID = sg.ID()
	d.Identifier = instance.Identifier
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{
		"identifier":      d.Identifier,
		"address":         d.Address,
		"port":            d.Port,
		"secretArn":       d.SecretArn,
		"securityGroupId": d.SecurityGroupID,
	})
}

// snapshotIdentifier joins parts into an RDS snapshot identifier: lowercase letters, digits and single
// hyphens, starting with a letter, at most 255 characters (stack names may hold "_" and ".").
func snapshotIdentifier(parts ...string) string {
	id := strings.Trim(nonIdentifier.ReplaceAllString(strings.ToLower(strings.Join(parts, "-")), "-"), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "s-" + id
	}
	return strings.TrimRight(id[:min(len(id), 255)], "-")
}

var nonIdentifier = regexp.MustCompile(`[^a-z0-9]+`)

// randomHex draws n random bytes as 2n hex characters.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random suffix: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// RDSCABundlePath is where DB_SSL_CA tells the app to find the RDS certificate bundle, which the
// image must contain (docs/data.md shows the Dockerfile line): the database refuses plaintext
// (rds.force_ssl) and its certificates chain to Amazon's RDS CAs, which no default trust store holds.
const RDSCABundlePath = "/etc/ssl/certs/rds-global-bundle.pem"

// Connections are what the app receives: where the database is as plain variables, and the user
// name and password as references into the RDS-managed secret.
func (d *Database) Connections() Connections {
	return Connections{
		Env: pulumi.StringMap{
			"DB_HOST": d.Address,
			"DB_PORT": pulumi.Sprintf("%d", d.Port),
			"DB_NAME": pulumi.String(d.name),
			// TLS is required: a flag for the app's own config, the CA bundle to verify against, and
			// libpq's variable, which node-postgres, psql and most drivers read.
			"DB_SSL":    pulumi.String("true"),
			"DB_SSL_CA": pulumi.String(RDSCABundlePath),
			"PGSSLMODE": pulumi.String("verify-full"),
		},
		Secrets: pulumi.StringMap{
			"DB_USER":     pulumi.Sprintf("%s:username::", d.SecretArn),
			"DB_PASSWORD": pulumi.Sprintf("%s:password::", d.SecretArn),
		},
	}
}
