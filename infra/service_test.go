package infra_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	ssmSecret     = "arn:aws:ssm:us-east-1:123456789012:parameter/api/jwt-signing-key"
	managedSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbC123:password::"
	partialSecret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:api/stripe"
)

// serviceArgs are the AppService's inputs behind a real listener, as main.go wires them.
func serviceArgs(ctx *pulumi.Context, t *testing.T, cfg *config.Config) *infra.AppServiceArgs {
	listener, err := lb.NewListener(ctx, "listener", &lb.ListenerArgs{
		LoadBalancerArn: pulumi.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"),
		Port:            pulumi.Int(80),
		DefaultActions:  lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{Type: pulumi.String("forward")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &infra.AppServiceArgs{
		ClusterArn:            pulumi.String("arn:aws:ecs:us-east-1:123456789012:cluster/cluster-1"),
		CapacityProviderName:  pulumi.String("cluster-capacity-1"),
		TargetGroupArn:        pulumi.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1"),
		Listeners:             []pulumi.Resource{listener},
		LoadBalancerArnSuffix: pulumi.String("app/web/1"),
		TargetGroupArnSuffix:  pulumi.String("targetgroup/tg/1"),
		Config:                cfg.Service,
		Region:                cfg.Region,
		Partition:             cfg.Partition(),
	}
}

// buildService builds the service with the config's values and no alarms or autoscaling.
func buildService(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewAppService(ctx, "api", serviceArgs(ctx, t, cfg))
		return err
	})
}

func containers(t *testing.T, m *pulumitest.Mocks) []infra.ContainerDefinition {
	t.Helper()
	var defs []infra.ContainerDefinition
	if err := one(t, m, "aws:ecs/taskDefinition:TaskDefinition").JSON("containerDefinitions", &defs); err != nil {
		t.Fatal(err)
	}
	return defs
}

func TestTaskDefinitionUsesBridgeModeWithDynamicHostPorts(t *testing.T) {
	m := buildService(t, map[string]string{"containerPort": "3000", "cpu": "512", "memory": "1024"})
	td := one(t, m, "aws:ecs/taskDefinition:TaskDefinition")
	if td.Str("networkMode") != "bridge" {
		t.Errorf("network mode %q, want bridge", td.Str("networkMode"))
	}
	if got := td.Strs("requiresCompatibilities"); len(got) != 1 || got[0] != "EC2" {
		t.Errorf("compatibilities %v, want EC2", got)
	}
	if td.Str("family") != "ecs-api-test-api" {
		t.Errorf("family %q", td.Str("family"))
	}
	defs := containers(t, m)
	if len(defs) != 1 {
		t.Fatalf("%d containers, want 1", len(defs))
	}
	c := defs[0]
	if c.Name != infra.ContainerName || c.Image != testImage || !c.Essential {
		t.Errorf("container %q image %q essential %v", c.Name, c.Image, c.Essential)
	}
	if len(c.PortMappings) != 1 || c.PortMappings[0].ContainerPort != 3000 || c.PortMappings[0].HostPort != 0 || c.PortMappings[0].Protocol != "tcp" {
		t.Errorf("port mappings %+v, want 3000 -> host port 0 (dynamic)", c.PortMappings)
	}
	if c.CPU != 512 || c.Memory != 1024 {
		t.Errorf("cpu %d memory %d, want 512/1024", c.CPU, c.Memory)
	}
	// The raw JSON must say hostPort 0 explicitly; omitting it would mean something else on awsvpc.
	if !strings.Contains(td.Str("containerDefinitions"), `"hostPort":0`) {
		t.Error("container definitions do not spell out hostPort 0")
	}
}

func TestContainerIsHardenedAndLogsToTheStackLogGroup(t *testing.T) {
	m := buildService(t, map[string]string{"logRetentionDays": "14", "stopTimeout": "45", "deregistrationDelay": "30"})
	c := containers(t, m)[0]
	logs := one(t, m, "aws:cloudwatch/logGroup:LogGroup")
	if logs.Num("retentionInDays") != 14 {
		t.Errorf("log retention %v, want 14", logs.Num("retentionInDays"))
	}
	if c.LogConfiguration.LogDriver != "awslogs" || c.LogConfiguration.Options["awslogs-group"] != logs.Out("name") ||
		c.LogConfiguration.Options["awslogs-region"] != "us-east-1" || c.LogConfiguration.Options["awslogs-stream-prefix"] == "" {
		t.Errorf("log configuration %+v, want awslogs into %q", c.LogConfiguration, logs.Out("name"))
	}
	if c.Privileged {
		t.Error("container is privileged")
	}
	if !c.ReadonlyRootFilesystem || c.LinuxParameters == nil || len(c.LinuxParameters.Tmpfs) != 1 || c.LinuxParameters.Tmpfs[0].ContainerPath != "/tmp" {
		t.Errorf("want a read-only root file system with a writable /tmp, got %v %+v", c.ReadonlyRootFilesystem, c.LinuxParameters)
	}
	if !c.LinuxParameters.InitProcessEnabled {
		t.Error("no init process: signals are not forwarded and zombies not reaped")
	}
	if c.StopTimeout != 45 || c.StopTimeout <= 30 {
		t.Errorf("stop timeout %d, want 45 (longer than the 30 s deregistration delay)", c.StopTimeout)
	}

	if c.User != "" {
		t.Errorf("user %q set without containerUser", c.User)
	}
	if c := containers(t, buildService(t, map[string]string{"containerUser": "1000:1000"}))[0]; c.User != "1000:1000" {
		t.Errorf("user %q, want containerUser 1000:1000", c.User)
	}

	writable := buildService(t, map[string]string{"readonlyRootFilesystem": "false"})
	if c := containers(t, writable)[0]; c.ReadonlyRootFilesystem || len(c.LinuxParameters.Tmpfs) != 0 {
		t.Error("readonlyRootFilesystem=false still mounts the root read-only")
	}
}

func TestEnvironmentIsSortedAndSecretsAreReferences(t *testing.T) {
	env := `{"ZETA":"last","ALPHA":"first","PORT":3000}`
	secrets := `{"JWT_SIGNING_KEY":"` + ssmSecret + `","DB_PASSWORD":"` + managedSecret + `"}`
	m := buildService(t, map[string]string{"env": env, "secrets": secrets})
	c := containers(t, m)[0]
	var names []string
	for _, e := range c.Environment {
		names = append(names, e.Name+"="+e.Value)
	}
	if got := strings.Join(names, ","); got != "ALPHA=first,CRON_ENABLED=false,PORT=3000,ZETA=last" {
		t.Errorf("environment %s, want sorted ALPHA, CRON_ENABLED=false, PORT, ZETA", got)
	}
	if len(c.Secrets) != 2 || c.Secrets[0].Name != "DB_PASSWORD" || c.Secrets[0].ValueFrom != managedSecret ||
		c.Secrets[1].Name != "JWT_SIGNING_KEY" || c.Secrets[1].ValueFrom != ssmSecret {
		t.Errorf("secrets %+v, want sorted references to the configured ARNs", c.Secrets)
	}
	raw := one(t, m, "aws:ecs/taskDefinition:TaskDefinition").Str("containerDefinitions")
	for _, e := range c.Secrets {
		if strings.Contains(raw, `"name":"`+e.Name+`","value"`) {
			t.Errorf("secret %s appears as a plain environment variable", e.Name)
		}
	}

	// The same config twice renders byte-identical JSON: no spurious diffs on `pulumi preview`.
	again := one(t, buildService(t, map[string]string{"env": env, "secrets": secrets}), "aws:ecs/taskDefinition:TaskDefinition")
	if again.Str("containerDefinitions") != raw {
		t.Error("container definitions are not deterministic")
	}
}

func TestExecutionRoleReadsExactlyTheConfiguredSecrets(t *testing.T) {
	secrets := `{"JWT_SIGNING_KEY":"` + ssmSecret + `","DB_PASSWORD":"` + managedSecret + `","STRIPE_KEY":"` + partialSecret + `"}`
	m := buildService(t, map[string]string{"secrets": secrets})
	execRole := named(t, m, "aws:iam/role:Role", "api-execution-role")
	policy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "api-execution-secrets")
	if policy.Str("role") != execRole.Out("name") {
		t.Errorf("secrets policy on %q, want the execution role", policy.Str("role"))
	}
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || len(s.Action) != 1 {
			t.Errorf("statement %+v", s)
		}
		got[s.Action[0]] = s.Resource
	}
	want := map[string][]string{
		"ssm:GetParameters": {ssmSecret},
		"secretsmanager:GetSecretValue": {
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:api/db-AbC123",
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:api/stripe-??????",
		},
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("secret read grants %s, want %s", gotJSON, wantJSON)
	}

	if attachments := m.OfType("aws:iam/rolePolicyAttachment:RolePolicyAttachment"); len(attachments) != 0 {
		t.Errorf("execution role has managed policies %v: AmazonECSTaskExecutionRolePolicy pulls from every repository", attachments)
	}
	none := buildService(t, nil)
	if policies := none.OfType("aws:iam/rolePolicy:RolePolicy"); len(policies) != 1 || policies[0].Name != "api-execution-policy" {
		t.Errorf("with no secrets and no ECS Exec, inline policies %v; want the execution policy alone", policies)
	}
}

// TestExecutionRolePullsOnlyFromTheImagesRepository: the ECS agent pulls with the execution role
// when a task has one (ECS agent 1.16+), so it may pull from the image's ECR repository and no
// other, and from none for an image outside ECR; it writes logs to the app's log group only.
func TestExecutionRolePullsOnlyFromTheImagesRepository(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  map[string][]string
	}{
		{testImage, map[string][]string{
			"ecr:GetAuthorizationToken":       {"*"},
			"ecr:BatchCheckLayerAvailability": {"arn:aws:ecr:us-east-1:123456789012:repository/api"},
			"ecr:BatchGetImage":               {"arn:aws:ecr:us-east-1:123456789012:repository/api"},
			"ecr:GetDownloadUrlForLayer":      {"arn:aws:ecr:us-east-1:123456789012:repository/api"},
		}},
		{"docker.io/nginxinc/nginx-unprivileged:1.27-alpine", map[string][]string{}},
	} {
		m := buildService(t, map[string]string{"image": tc.image})
		execRole := named(t, m, "aws:iam/role:Role", "api-execution-role")
		policy := named(t, m, "aws:iam/rolePolicy:RolePolicy", "api-execution-policy")
		var doc infra.PolicyDocument
		if err := policy.JSON("policy", &doc); err != nil || policy.Str("role") != execRole.Out("name") {
			t.Fatalf("%s: execution policy on %q: %v", tc.image, policy.Str("role"), err)
		}
		logGroup := named(t, m, "aws:cloudwatch/logGroup:LogGroup", "api-logs").Out("arn")
		tc.want["logs:CreateLogStream"] = []string{logGroup + ":*"}
		tc.want["logs:PutLogEvents"] = []string{logGroup + ":*"}
		got := map[string][]string{}
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				got[a] = st.Resource
			}
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(tc.want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("%s: execution role may %s, want %s", tc.image, gotJSON, wantJSON)
		}
	}
}

func TestECRRepositoryArn(t *testing.T) {
	for image, want := range map[string]string{
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2":                                   "arn:aws:ecr:us-east-1:123456789012:repository/api",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api@sha256:" + strings.Repeat("a", 64):  "arn:aws:ecr:eu-west-1:123456789012:repository/team/api",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2@sha256:" + strings.Repeat("b", 64): "arn:aws:ecr:us-east-1:123456789012:repository/api",
		"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com/api:1":                              "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/api",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/api:1":                                   "arn:aws-cn:ecr:cn-north-1:123456789012:repository/api",
		"public.ecr.aws/nginx/nginx:1.27":                                                          "",
		"docker.io/library/nginx:1.27":                                                             "",
		"ghcr.io/acme/api:1.0":                                                                     "",
	} {
		got, ok := infra.ECRRepositoryArn(image)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v, want %q", image, got, ok, want)
		}
	}
}

func TestTaskRoleIsSeparateAndGetsExecPermissionsOnlyWhenEnabled(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		m := buildService(t, map[string]string{"enableExecuteCommand": map[bool]string{true: "true", false: "false"}[enabled]})
		td := one(t, m, "aws:ecs/taskDefinition:TaskDefinition")
		taskRole := named(t, m, "aws:iam/role:Role", "api-task-role")
		execRole := named(t, m, "aws:iam/role:Role", "api-execution-role")
		if td.Str("taskRoleArn") != taskRole.Out("arn") || td.Str("executionRoleArn") != execRole.Out("arn") || taskRole.Out("arn") == execRole.Out("arn") {
			t.Errorf("task role %q and execution role %q must be distinct roles", td.Str("taskRoleArn"), td.Str("executionRoleArn"))
		}
		for _, role := range []*pulumitest.Resource{taskRole, execRole} {
			var trust infra.PolicyDocument
			if err := role.JSON("assumeRolePolicy", &trust); err != nil {
				t.Fatal(err)
			}
			if len(trust.Statement) != 1 || trust.Statement[0].Principal["Service"] != "ecs-tasks.amazonaws.com" {
				t.Errorf("%s trust %+v, want ecs-tasks.amazonaws.com only", role.Name, trust)
			}
		}
		svc := one(t, m, "aws:ecs/service:Service")
		if svc.Bool("enableExecuteCommand") != enabled {
			t.Errorf("enableExecuteCommand %v, want %v", svc.Bool("enableExecuteCommand"), enabled)
		}
		execPolicy := m.Named("aws:iam/rolePolicy:RolePolicy", "api-task-exec")
		if (execPolicy != nil) != enabled {
			t.Errorf("ECS Exec enabled=%v but task policy present=%v", enabled, execPolicy != nil)
		}
		if execPolicy != nil {
			var doc infra.PolicyDocument
			if err := execPolicy.JSON("policy", &doc); err != nil {
				t.Fatal(err)
			}
			for _, a := range doc.Statement[0].Action {
				if !strings.HasPrefix(a, "ssmmessages:") || strings.Contains(a, "*") {
					t.Errorf("ECS Exec grants %q; want only the four ssmmessages channel actions", a)
				}
			}
			if execPolicy.Str("role") != taskRole.Out("name") {
				t.Error("ECS Exec permissions are not on the task role")
			}
		}
	}
}

func TestServiceRunsReplicasBehindTheTargetGroupAfterTheListener(t *testing.T) {
	m := buildService(t, map[string]string{"desiredCount": "3", "healthCheckGracePeriod": "90", "containerPort": "3000"})
	svc := one(t, m, "aws:ecs/service:Service")
	td := one(t, m, "aws:ecs/taskDefinition:TaskDefinition")
	checks := map[string]string{
		"schedulingStrategy": "REPLICA",
		"cluster":            "arn:aws:ecs:us-east-1:123456789012:cluster/cluster-1",
		"taskDefinition":     td.Out("arn"),
		"capacityProviderStrategies.0.capacityProvider": "cluster-capacity-1",
		"loadBalancers.0.targetGroupArn":                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1",
		"loadBalancers.0.containerName":                 infra.ContainerName,
		"orderedPlacementStrategies.0.type":             "spread",
		"orderedPlacementStrategies.0.field":            "attribute:ecs.availability-zone",
		"orderedPlacementStrategies.1.type":             "spread",
		"orderedPlacementStrategies.1.field":            "instanceId",
		"propagateTags":                                 "SERVICE",
	}
	for path, want := range checks {
		if got := svc.Str(path); got != want {
			t.Errorf("service %s = %q, want %q", path, got, want)
		}
	}
	nums := map[string]float64{
		"desiredCount": 3, "healthCheckGracePeriodSeconds": 90, "loadBalancers.0.containerPort": 3000,
		"deploymentMinimumHealthyPercent": 100, "deploymentMaximumPercent": 200,
	}
	for path, want := range nums {
		if got := svc.Num(path); got != want {
			t.Errorf("service %s = %v, want %v", path, got, want)
		}
	}
	if !svc.Bool("deploymentCircuitBreaker.enable") || !svc.Bool("deploymentCircuitBreaker.rollback") {
		t.Error("deployment circuit breaker with rollback is off")
	}
	if !svc.Bool("enableEcsManagedTags") {
		t.Error("ECS managed tags are off")
	}
	if svc.Has("launchType") {
		t.Error("service sets a launch type; it must use the capacity provider strategy")
	}
	if !svc.DependsOn(named(t, m, listenerType, "listener")) {
		t.Error("service does not depend on the listener: ECS rejects a target group without a load balancer")
	}
}

func TestServiceRequiresAListener(t *testing.T) {
	_, err := pulumitest.Run(project, "test", baseConfig(t), func(ctx *pulumi.Context) error {
		cfg, err := config.LoadConfig(ctx)
		if err != nil {
			return err
		}
		_, err = infra.NewAppService(ctx, "api", &infra.AppServiceArgs{Config: cfg.Service})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "listener") {
		t.Errorf("error %v, want one naming the missing listener", err)
	}
}
