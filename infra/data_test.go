package infra_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
	"github.com/acme/ecs-api/policy"
)

const (
	dbInstanceType = "aws:rds/instance:Instance"
	cacheGroupType = "aws:elasticache/replicationGroup:ReplicationGroup"
	privateSubnets = "subnet-private-0,subnet-private-1"
)

// buildData builds the database and the cache (as enabled by overrides) and the API wired to them.
func buildData(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *config.Config) error {
		subnets := pulumi.ToStringArray(strings.Split(privateSubnets, ","))
		var conns []infra.Connections
		if cfg.Database.Enabled {
			db, err := infra.NewDatabase(ctx, "db", &infra.DatabaseArgs{
				VpcID: pulumi.String("vpc-1"), PrivateSubnetIDs: subnets,
				InstanceSecurityGroupID: pulumi.String("sg-instances"), Config: cfg.Database,
			})
			if err != nil {
				return err
			}
			conns = append(conns, db.Connections())
		}
		if cfg.Cache.Enabled {
			cache, err := infra.NewCache(ctx, "cache", &infra.CacheArgs{
				VpcID: pulumi.String("vpc-1"), PrivateSubnetIDs: subnets,
				InstanceSecurityGroupID: pulumi.String("sg-instances"), Config: cfg.Cache,
			})
			if err != nil {
				return err
			}
			conns = append(conns, cache.Connections())
		}
		args := serviceArgs(ctx, t, cfg)
		args.Connections = infra.MergeConnections(conns...)
		_, err := infra.NewAppService(ctx, "api", args)
		return err
	})
}

const (
	dbOn    = `{"enabled":true}`
	cacheOn = `{"enabled":true}`
	dbDev   = `{"enabled":true,"instanceClass":"db.t4g.micro","multiAz":false,"backupRetentionDays":1,"deletionProtection":false,"finalSnapshot":false,"performanceInsights":false,"protect":false}`
)

func ingressInto(m *pulumitest.Mocks, groupID string) []*pulumitest.Resource {
	var out []*pulumitest.Resource
	for _, r := range m.OfType(ingressRuleType) {
		if r.Str("securityGroupId") == groupID {
			out = append(out, r)
		}
	}
	return out
}

func TestDatabaseIsPrivateEncryptedAndReachableOnlyFromInstances(t *testing.T) {
	m := buildData(t, map[string]string{"database": dbOn})
	db := one(t, m, dbInstanceType)
	sg := named(t, m, sgType, "db-sg")
	rules := ingressInto(m, sg.Out("id"))
	if len(rules) != 1 || rules[0].Str("referencedSecurityGroupId") != "sg-instances" || rules[0].Has("cidrIpv4") ||
		rules[0].Num("fromPort") != 5432 || rules[0].Num("toPort") != 5432 {
		t.Fatalf("database ingress %v, want only 5432 from the instances' group", ingressSummary(rules))
	}
	if db.Bool("publiclyAccessible") || !db.Bool("storageEncrypted") {
		t.Errorf("database public %v encrypted %v", db.Bool("publiclyAccessible"), db.Bool("storageEncrypted"))
	}
	if !db.Bool("manageMasterUserPassword") || db.Has("password") {
		t.Error("the master password must be managed by RDS in Secrets Manager, never passed in")
	}
	if got := db.Strs("vpcSecurityGroupIds"); len(got) != 1 || got[0] != sg.Out("id") {
		t.Errorf("database security groups %v", got)
	}
	subnets := one(t, m, "aws:rds/subnetGroup:SubnetGroup")
	if strings.Join(subnets.Strs("subnetIds"), ",") != privateSubnets || db.Str("dbSubnetGroupName") != subnets.Out("name") {
		t.Errorf("database subnets %v", subnets.Strs("subnetIds"))
	}
	params := one(t, m, "aws:rds/parameterGroup:ParameterGroup")
	if params.Str("family") != "postgres16" || db.Str("parameterGroupName") != params.Out("name") {
		t.Errorf("parameter group family %q", params.Str("family"))
	}
	forceSSL := false
	for i := 0; i < params.Len("parameters"); i++ {
		p := "parameters." + itoa(i)
		forceSSL = forceSSL || (params.Str(p+".name") == "rds.force_ssl" && params.Str(p+".value") == "1")
	}
	if !forceSSL {
		t.Error("the database accepts connections without TLS")
	}
	if db.Str("engine") != "postgres" || db.Str("engineVersion") != "16" || !db.Bool("autoMinorVersionUpgrade") {
		t.Errorf("engine %s %s, minor upgrades %v", db.Str("engine"), db.Str("engineVersion"), db.Bool("autoMinorVersionUpgrade"))
	}
	if strings.Join(db.Strs("enabledCloudwatchLogsExports"), ",") != "postgresql,upgrade" {
		t.Errorf("log exports %v", db.Strs("enabledCloudwatchLogsExports"))
	}
}

func TestDatabaseProtectionsDefaultOnAndTurnOffPerStack(t *testing.T) {
	prod := one(t, buildData(t, map[string]string{"database": dbOn}), dbInstanceType)
	if !prod.Bool("multiAz") || prod.Num("backupRetentionPeriod") < 7 || !prod.Bool("deletionProtection") ||
		prod.Bool("skipFinalSnapshot") || prod.Str("finalSnapshotIdentifier") == "" || !prod.Bool("performanceInsightsEnabled") || !prod.Protect {
		t.Errorf("default protections: multiAz %v backups %v deletion %v skipFinal %v final %q PI %v protect %v",
			prod.Bool("multiAz"), prod.Num("backupRetentionPeriod"), prod.Bool("deletionProtection"), prod.Bool("skipFinalSnapshot"),
			prod.Str("finalSnapshotIdentifier"), prod.Bool("performanceInsightsEnabled"), prod.Protect)
	}
	dev := one(t, buildData(t, map[string]string{"database": dbDev}), dbInstanceType)
	if dev.Bool("multiAz") || dev.Bool("deletionProtection") || !dev.Bool("skipFinalSnapshot") ||
		dev.Protect || dev.Str("instanceClass") != "db.t4g.micro" || dev.Num("backupRetentionPeriod") != 1 {
		t.Errorf("a throwaway database must be deletable: %v protect %v", dev.Inputs, dev.Protect)
	}
}

func TestCacheIsEncryptedWithItsTokenInSecretsManager(t *testing.T) {
	m := buildData(t, map[string]string{"cache": `{"enabled":true,"replicas":2}`})
	group := one(t, m, cacheGroupType)
	if !group.Bool("atRestEncryptionEnabled") || !group.Bool("transitEncryptionEnabled") {
		t.Error("cache is not encrypted at rest and in transit")
	}
	if group.Num("numCacheClusters") != 3 || !group.Bool("automaticFailoverEnabled") || !group.Bool("multiAzEnabled") {
		t.Errorf("cache nodes %v failover %v multi-AZ %v, want 3 with failover", group.Num("numCacheClusters"),
			group.Bool("automaticFailoverEnabled"), group.Bool("multiAzEnabled"))
	}
	if group.Str("engine") != "valkey" || !group.Protect {
		t.Errorf("engine %q protect %v", group.Str("engine"), group.Protect)
	}
	version := one(t, m, "aws:secretsmanager/secretVersion:SecretVersion")
	secret := one(t, m, "aws:secretsmanager/secret:Secret")
	token := version.Str("secretString")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(token) || group.Str("authToken") != token {
		t.Errorf("auth token %q (cache has %q), want 64 random hex characters from the secret", token, group.Str("authToken"))
	}
	if !version.Inputs["secretString"].IsSecret() || !group.Inputs["authToken"].IsSecret() {
		t.Error("the auth token is not marked secret in state")
	}
	if version.Str("secretId") != secret.ID || strings.Join(version.IgnoreChanges, ",") != "secretString" {
		t.Errorf("token version on %q ignoring %v: a new token every run would lock the app out", version.Str("secretId"), version.IgnoreChanges)
	}
	sg := named(t, m, sgType, "cache-sg")
	rules := ingressInto(m, sg.Out("id"))
	if len(rules) != 1 || rules[0].Str("referencedSecurityGroupId") != "sg-instances" || rules[0].Num("fromPort") != 6379 || rules[0].Has("cidrIpv4") {
		t.Errorf("cache ingress %v, want only 6379 from the instances' group", ingressSummary(rules))
	}
	subnets := one(t, m, "aws:elasticache/subnetGroup:SubnetGroup")
	if strings.Join(subnets.Strs("subnetIds"), ",") != privateSubnets || group.Str("subnetGroupName") != subnets.Out("name") {
		t.Error("cache is not in the private subnets")
	}

	again := one(t, buildData(t, map[string]string{"cache": cacheOn}), "aws:secretsmanager/secretVersion:SecretVersion")
	if again.Str("secretString") == token {
		t.Error("two stacks drew the same auth token")
	}
}

func TestDatabaseAndCacheReachTheContainerAndOnlyTheirSecretsAreReadable(t *testing.T) {
	m := buildData(t, map[string]string{"database": dbOn, "cache": cacheOn, "secrets": `{"JWT_KEY":"` + ssmSecret + `"}`})
	c := containers(t, m)[0]
	env := map[string]string{}
	for _, e := range c.Environment {
		env[e.Name] = e.Value
	}
	db := one(t, m, dbInstanceType)
	for k, want := range map[string]string{
		"DB_HOST": db.Out("address"), "DB_PORT": "5432", "DB_NAME": "app",
		"REDIS_HOST": one(t, m, cacheGroupType).Out("primaryEndpointAddress"), "REDIS_PORT": "6379", "REDIS_TLS": "true",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	dbSecret := policy.Get(db.Outputs, "masterUserSecrets.0.secretArn").StringValue()
	cacheSecret := one(t, m, "aws:secretsmanager/secret:Secret").Out("arn")
	secrets := map[string]string{}
	for _, s := range c.Secrets {
		secrets[s.Name] = s.ValueFrom
	}
	wantSecrets := map[string]string{
		"DB_USER": dbSecret + ":username::", "DB_PASSWORD": dbSecret + ":password::",
		"REDIS_PASSWORD": cacheSecret, "JWT_KEY": ssmSecret,
	}
	gotJSON, _ := json.Marshal(secrets)
	wantJSON, _ := json.Marshal(wantSecrets)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("container secrets %s, want %s", gotJSON, wantJSON)
	}
	for name := range wantSecrets {
		if _, plain := env[name]; plain {
			t.Errorf("%s is a plain environment variable", name)
		}
	}

	var doc infra.PolicyDocument
	if err := named(t, m, "aws:iam/rolePolicy:RolePolicy", "api-execution-secrets").JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	readable := map[string][]string{}
	for _, s := range doc.Statement {
		readable[s.Action[0]] = s.Resource
	}
	if got := strings.Join(sorted(readable["secretsmanager:GetSecretValue"]), ","); got != strings.Join(sorted([]string{dbSecret, cacheSecret}), ",") {
		t.Errorf("execution role reads %s, want exactly the database and cache secrets", got)
	}
	if got := strings.Join(readable["ssm:GetParameters"], ","); got != ssmSecret {
		t.Errorf("execution role reads parameters %s", got)
	}
}

// runDatabase builds only the database for a stack name and database config.
func runDatabase(t *testing.T, stack, database string) *pulumitest.Mocks {
	t.Helper()
	m, err := pulumitest.Run(project, stack, withOverrides(t, map[string]string{"database": database}), func(ctx *pulumi.Context) error {
		cfg, err := config.LoadConfig(ctx)
		if err != nil {
			return err
		}
		_, err = infra.NewDatabase(ctx, "db", &infra.DatabaseArgs{VpcID: pulumi.String("vpc-1"), Config: cfg.Database,
			PrivateSubnetIDs: pulumi.ToStringArray([]string{"a", "b"}), InstanceSecurityGroupID: pulumi.String("sg-1")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// RDS snapshot identifiers: 1-255 letters, digits and hyphens, starting with a letter, no two
// hyphens in a row and none at the end (CreateDBSnapshot, DBSnapshotIdentifier).
var rdsSnapshotID = regexp.MustCompile(`^[a-z](-?[a-z0-9])*$`)

func TestFinalSnapshotIdentifierIsValidForAnyStackName(t *testing.T) {
	for stack, prefix := range map[string]string{"test": "ecs-api-test-db-final-", "Feature_X.2": "ecs-api-feature-x-2-db-final-"} {
		got := one(t, runDatabase(t, stack, dbOn), dbInstanceType).Str("finalSnapshotIdentifier")
		if !strings.HasPrefix(got, prefix) || !rdsSnapshotID.MatchString(got) || len(got) > 255 {
			t.Errorf("stack %q: final snapshot %q, want a valid identifier starting %q", stack, got, prefix)
		}
	}
}

// TestFinalSnapshotNameIsUniquePerInstanceAndStableInState: RDS fails a deletion whose final
// snapshot name exists (DBSnapshotAlreadyExists), so every instance gets its own name, drawn at
// creation; ignoreChanges keeps it in state, so later previews show no diff. It is set even with
// finalSnapshot off, so turning that on later does not depend on an ignored field.
func TestFinalSnapshotNameIsUniquePerInstanceAndStableInState(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 5; i++ {
		db := one(t, runDatabase(t, "prod", dbOn), dbInstanceType)
		name := db.Str("finalSnapshotIdentifier")
		if seen[name] {
			t.Errorf("two instances share the final snapshot name %q: the second deletion would fail", name)
		}
		seen[name] = true
		if strings.Join(db.IgnoreChanges, ",") != "finalSnapshotIdentifier" {
			t.Errorf("ignoreChanges %v: a new name on every run would show a diff on every preview", db.IgnoreChanges)
		}
	}
	if dev := one(t, runDatabase(t, "dev", dbDev), dbInstanceType); dev.Str("finalSnapshotIdentifier") == "" {
		t.Error("without finalSnapshot the instance has no snapshot name to use if it is turned on later")
	}
}

// TestMajorVersionUpgradeIsAllowed: changing database.engineVersion from 16 to 17 is a major
// upgrade, which ModifyDBInstance rejects (InvalidParameterCombination) without
// AllowMajorVersionUpgrade. The parameter group of the new family replaces the old one, which can be
// deleted only once the instance uses the new one: the change must apply now, not in the window.
func TestMajorVersionUpgradeIsAllowed(t *testing.T) {
	for _, version := range []string{"16", "17"} {
		m := runDatabase(t, "prod", `{"enabled":true,"engineVersion":"`+version+`"}`)
		db := one(t, m, dbInstanceType)
		if !db.Bool("allowMajorVersionUpgrade") || !db.Bool("applyImmediately") {
			t.Errorf("engine %s: allowMajorVersionUpgrade %v applyImmediately %v, want both true", version, db.Bool("allowMajorVersionUpgrade"), db.Bool("applyImmediately"))
		}
		params := one(t, m, "aws:rds/parameterGroup:ParameterGroup")
		if params.Str("family") != "postgres"+version || params.Has("name") {
			t.Errorf("engine %s: parameter group family %q (name %q): want postgres%s and an auto-generated name so old and new coexist",
				version, params.Str("family"), params.Str("name"), version)
		}
	}
}

// TestAppIsToldTheDatabaseNeedsTLS: the parameter group sets rds.force_ssl, and node-postgres or
// TypeORM connect in plaintext unless told; the app gets the flag, the mode and the CA bundle path.
func TestAppIsToldTheDatabaseNeedsTLS(t *testing.T) {
	m := buildData(t, map[string]string{"database": dbOn})
	var defs []infra.ContainerDefinition
	if err := one(t, m, "aws:ecs/taskDefinition:TaskDefinition").JSON("containerDefinitions", &defs); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range defs[0].Environment {
		env[e.Name] = e.Value
	}
	for name, want := range map[string]string{"DB_SSL": "true", "PGSSLMODE": "verify-full", "DB_SSL_CA": infra.RDSCABundlePath} {
		if env[name] != want {
			t.Errorf("%s = %q, want %q", name, env[name], want)
		}
	}
	if _, err := config.ParseConfig(project, "test", "us-east-1", func(key string) string {
		return withOverrides(t, map[string]string{"database": dbOn, "env": `{"PGSSLMODE":"disable"}`})[project+":"+key]
	}); err == nil || !strings.Contains(err.Error(), "PGSSLMODE") {
		t.Errorf("config may turn TLS off through env: %v", err)
	}
}
