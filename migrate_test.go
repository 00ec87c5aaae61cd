package main

// Database migrations over the whole graph of every stack file: the API's task runs them in a
// container its app waits on, nothing else runs them, and a failed one rolls the rollout back.

import (
	"encoding/json"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/docs"
	"github.com/acme/ecs-api/internal/pulumitest"
)

// testMigrateCommand is the command the tests turn migrations on with where a stack file does not.
var testMigrateCommand = []string{"node", "migrate-lock.js", "node_modules/.bin/prisma", "migrate", "deploy"}

// migrateVariant is a stack file with migrations on (its own setting where it has one), a grace
// period that covers them, and the worker and alerts on, so that every consumer of the app's
// runtime and every alert rule is in the graph.
func migrateVariant(t *testing.T, stack string) (variant, config.MigrateConfig) {
	t.Helper()
	project, cfg, err := pulumitest.StackConfig(".", stack)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.ParseConfig(project, stack, cfg["aws:region"], func(key string) string { return cfg[project+":"+key] })
	if err != nil {
		t.Fatal(err)
	}
	m := c.Migrate
	objects := map[string]map[string]any{
		"worker": {"enabled": true, "command": []string{"node", "dist/worker.js"}},
		"alerts": {"enabled": true, "emails": []string{"oncall@example.com"}},
	}
	if !m.Enabled {
		m = config.MigrateConfig{Enabled: true, Command: testMigrateCommand, Timeout: 300}
		objects["migrate"] = map[string]any{"enabled": true, "command": m.Command, "timeout": m.Timeout}
	}
	grace := max(c.Service.HealthCheckGracePeriod, config.MigrateGracePeriod(m.Timeout))
	return variant{name: "migrate", objects: objects, plain: map[string]string{"healthCheckGracePeriod": strconv.Itoa(grace)}}, m
}

// sentContainers parses a task definition's containerDefinitions as ECS receives it, keeping every
// key, so that what is absent (a memory limit, port mappings) can be asserted too.
func sentContainers(t *testing.T, td *pulumitest.Resource) map[string]map[string]any {
	t.Helper()
	var defs []map[string]any
	if err := json.Unmarshal([]byte(td.Str("containerDefinitions")), &defs); err != nil {
		t.Fatalf("%s: containerDefinitions is not JSON: %v", td.Name, err)
	}
	out := map[string]map[string]any{}
	for _, d := range defs {
		out[d["name"].(string)] = d
	}
	if len(out) != len(defs) {
		t.Fatalf("%s: two containers share a name", td.Name)
	}
	return out
}

// apiTaskDefinition is the task definition the API's service runs.
func apiTaskDefinition(t *testing.T, m *pulumitest.Mocks) (*pulumitest.Resource, *pulumitest.Resource) {
	t.Helper()
	svc := m.Named("aws:ecs/service:Service", "api")
	if svc == nil {
		t.Fatal("no api service")
	}
	for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
		if td.Out("arn") == svc.Str("taskDefinition") {
			return svc, td
		}
	}
	t.Fatal("the api service runs no task definition of the stack")
	return nil, nil
}

// forEachMigratingStack runs the program for every stack file with migrations on, in parallel.
func forEachMigratingStack(t *testing.T, check func(t *testing.T, stack string, v variant, mc config.MigrateConfig, m *pulumitest.Mocks)) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			v, mc := migrateVariant(t, stack)
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
			check(t, stack, v, mc, m)
		})
	}
}

// TestNoAPITaskServesBeforeItsMigrationSucceeded: in every stack file, the API's task definition
// runs the migration in a non-essential container of the app's image, environment, secrets, user,
// hardening and log group, under `timeout`, and the app's container (the one the load balancer sends
// traffic to) starts only once it exited 0. ECS's startTimeout outlasts the command's own limit.
func TestNoAPITaskServesBeforeItsMigrationSucceeded(t *testing.T) {
	forEachMigratingStack(t, func(t *testing.T, stack string, v variant, mc config.MigrateConfig, m *pulumitest.Mocks) {
		svc, td := apiTaskDefinition(t, m)
		raw := td.Str("containerDefinitions")
		defs := sentContainers(t, td)
		if len(defs) != 2 {
			t.Fatalf("API task has containers %v, want app and migrate", slices.Sorted(maps.Keys(defs)))
		}
		app, migrate := defs[infra.ContainerName], defs[infra.MigrateContainerName]
		if app == nil || migrate == nil {
			t.Fatalf("API task lacks app or migrate: %s", raw)
		}

		// The app waits for the migration's success, as the JSON ECS receives says.
		if !strings.Contains(raw, `"dependsOn":[{"containerName":"migrate","condition":"SUCCESS"}]`) {
			t.Errorf("the app does not wait for the migration's SUCCESS: %s", raw)
		}
		if !reflect.DeepEqual(app["dependsOn"], []any{map[string]any{"containerName": "migrate", "condition": "SUCCESS"}}) {
			t.Errorf("app dependsOn %v", app["dependsOn"])
		}
		if app["essential"] != true || migrate["essential"] != false {
			t.Errorf("essential: app %v, migrate %v; want true and false (the migration exits)", app["essential"], migrate["essential"])
		}
		if svc.Str("loadBalancers.0.containerName") != infra.ContainerName {
			t.Errorf("the load balancer sends traffic to %q, not to the container that waits", svc.Str("loadBalancers.0.containerName"))
		}
		if migrate["portMappings"] != nil || migrate["dependsOn"] != nil || migrate["memory"] != nil {
			t.Errorf("migrate has ports %v, dependencies %v or a memory limit %v of its own", migrate["portMappings"], migrate["dependsOn"], migrate["memory"])
		}
		if app["portMappings"] == nil {
			t.Error("the app lost its port")
		}

		// The command, wrapped in timeout; ECS's own limit beyond it and its kill.
		want := append([]any{"timeout", "-k", strconv.Itoa(config.MigrateKillAfter), strconv.Itoa(mc.Timeout)}, anys(mc.Command)...)
		if !reflect.DeepEqual(migrate["command"], want) {
			t.Errorf("migrate command %v, want %v", migrate["command"], want)
		}
		if got, ok := migrate["startTimeout"].(float64); !ok || int(got) != config.MigrateStartTimeout(mc.Timeout) || int(got) <= mc.Timeout+config.MigrateKillAfter {
			t.Errorf("migrate startTimeout %v, want %d: beyond the command's limit and kill", migrate["startTimeout"], config.MigrateStartTimeout(mc.Timeout))
		}
		if app["startTimeout"] != nil {
			t.Errorf("app startTimeout %v: ECS reads it on the container waited for", app["startTimeout"])
		}

		// Same image, variables, secrets, user, hardening, logs (own prefix) as the app.
		for _, key := range []string{"image", "environment", "secrets", "user", "readonlyRootFilesystem", "privileged", "linuxParameters", "mountPoints", "stopTimeout"} {
			if !reflect.DeepEqual(app[key], migrate[key]) {
				t.Errorf("%s differs: app %v, migrate %v", key, app[key], migrate[key])
			}
		}
		if app["secrets"] == nil || !strings.Contains(raw, `"DB_PASSWORD"`) {
			t.Error("the migration would not get the database password")
		}
		appLogs, migrateLogs := logOptions(app), logOptions(migrate)
		if appLogs["awslogs-group"] != migrateLogs["awslogs-group"] || appLogs["awslogs-region"] != migrateLogs["awslogs-region"] ||
			migrate["logConfiguration"].(map[string]any)["logDriver"] != "awslogs" {
			t.Errorf("migrate logs %v, app logs %v: want the same group and region", migrateLogs, appLogs)
		}
		if migrateLogs["awslogs-stream-prefix"] != infra.MigrateStreamPrefix || appLogs["awslogs-stream-prefix"] != infra.ContainerName {
			t.Errorf("stream prefixes: migrate %v, app %v", migrateLogs["awslogs-stream-prefix"], appLogs["awslogs-stream-prefix"])
		}
		if int(svc.Num("healthCheckGracePeriodSeconds")) < config.MigrateGracePeriod(mc.Timeout) {
			t.Errorf("grace period %v does not cover the migration", svc.Num("healthCheckGracePeriodSeconds"))
		}
	})
}

// TestWorkerAndJobsRunNoMigration: they reuse the app's container but never its migration.
func TestWorkerAndJobsRunNoMigration(t *testing.T) {
	forEachMigratingStack(t, func(t *testing.T, stack string, v variant, mc config.MigrateConfig, m *pulumitest.Mocks) {
		_, api := apiTaskDefinition(t, m)
		others := 0
		for _, td := range m.OfType("aws:ecs/taskDefinition:TaskDefinition") {
			if td == api {
				continue
			}
			others++
			defs := sentContainers(t, td)
			if len(defs) != 1 || defs[infra.ContainerName] == nil {
				t.Errorf("%s has containers %v, want only the app's", td.Name, slices.Sorted(maps.Keys(defs)))
			}
			raw := td.Str("containerDefinitions")
			if strings.Contains(raw, `"dependsOn"`) || strings.Contains(raw, `"`+infra.MigrateContainerName+`"`) ||
				strings.Contains(raw, strings.Join(quoted(mc.Command), ",")) {
				t.Errorf("%s runs or waits for the migration: %s", td.Name, raw)
			}
		}
		if m.Named("aws:ecs/taskDefinition:TaskDefinition", "worker-task") == nil || others < 2 {
			t.Errorf("want the worker's and the jobs' task definitions in the graph, got %d others", others)
		}
	})
}

// TestFailedMigrationRollsBackAndAlerts: a migration that fails keeps its app from starting, so the
// task stops before it serves; the circuit breaker counts it and rolls back to the last deployment
// that completed, while minimum healthy 100 % keeps the old tasks serving; the deployment-failed rule
// and the unexpected-stops count watch the API service.
func TestFailedMigrationRollsBackAndAlerts(t *testing.T) {
	forEachMigratingStack(t, func(t *testing.T, stack string, v variant, _ config.MigrateConfig, m *pulumitest.Mocks) {
		svc, _ := apiTaskDefinition(t, m)
		if !svc.Bool("deploymentCircuitBreaker.enable") || !svc.Bool("deploymentCircuitBreaker.rollback") {
			t.Errorf("circuit breaker %v: a failed migration would not roll back", svc.Inputs["deploymentCircuitBreaker"])
		}
		if svc.Num("deploymentMinimumHealthyPercent") != 100 {
			t.Errorf("minimum healthy %v: old tasks would stop before new ones migrated and served", svc.Num("deploymentMinimumHealthyPercent"))
		}
		name := svc.Out("name")
		rules := m.Named(ruleType, "monitoring-deployment-failed")
		if rules == nil || !strings.Contains(rules.Str("eventPattern"), name) || !strings.Contains(rules.Str("eventPattern"), "SERVICE_DEPLOYMENT_FAILED") {
			t.Errorf("no deployment-failed rule on the API service %s", name)
		}
		stops := m.Named(ruleType, "monitoring-task-stops")
		if stops == nil || !strings.Contains(stops.Str("eventPattern"), `"service:`+name+`"`) {
			t.Errorf("no unexpected-stops rule on the API service %s", name)
		}
		// The cause by name: the API's tasks whose app's reason says the migrate dependency failed,
		// told to the alert topic with where the migration's output is.
		failed := m.Named(ruleType, "monitoring-migration-failed")
		if failed == nil || failed.Str("eventPattern") != infra.MigrationFailedPattern(m.Named("aws:ecs/cluster:Cluster", "cluster").Out("arn"), name) {
			t.Fatalf("no migration-failed rule on the API service %s", name)
		}
		told := 0
		for _, tg := range m.OfType(targetType) {
			if tg.Str("rule") != failed.Out("name") {
				continue
			}
			told++
			if tpl := tg.Str("inputTransformer.inputTemplate"); !strings.Contains(tpl, "stream prefix "+infra.MigrateStreamPrefix+"/") {
				t.Errorf("target %s does not point to the migration's logs: %s", tg.Name, tpl)
			}
		}
		if told == 0 {
			t.Error("the migration-failed rule tells no one")
		}
	})
}

// TestWorkerAndJobsWaitForTheAPIsMigration (review M1): with migrations on, `pulumi up` waits for the
// API's rollout (waitForSteadyState), and the worker's task definition and service and every job's
// task definition (which its state machine and schedule run) depend on the API's service through
// AppService.Released, which fails the deploy when the service rolled back. So new worker and job
// code never runs on a schema whose migration failed.
func TestWorkerAndJobsWaitForTheAPIsMigration(t *testing.T) {
	forEachMigratingStack(t, func(t *testing.T, stack string, v variant, _ config.MigrateConfig, m *pulumitest.Mocks) {
		c := loadedConfig(t, stack, v)
		svc, _ := apiTaskDefinition(t, m)
		if !svc.Bool("waitForSteadyState") {
			t.Error("the API's service does not wait for a steady state: the release gate would pass mid-rollout")
		}
		waiters := []*pulumitest.Resource{
			m.Named("aws:ecs/taskDefinition:TaskDefinition", "worker-task"),
			m.Named("aws:ecs/service:Service", "worker"),
		}
		for _, job := range c.Jobs {
			waiters = append(waiters, m.Named("aws:ecs/taskDefinition:TaskDefinition", "jobs-"+job.Name+"-task"))
		}
		if len(c.Jobs) == 0 {
			t.Error("no jobs in the graph to check")
		}
		for _, r := range waiters {
			if r == nil {
				t.Fatal("the worker or a job is missing from the graph")
			}
			if !slices.Contains(r.Dependencies, svc.URN) {
				t.Errorf("%s %s does not wait for the API's release: dependencies %v", r.Type, r.Name, r.Dependencies)
			}
		}
		for _, s := range m.OfType("aws:scheduler/schedule:Schedule") {
			if !strings.HasPrefix(s.Name, "jobs-") {
				continue
			}
			machine := m.Named("aws:sfn/stateMachine:StateMachine", s.Name)
			if machine == nil || !strings.Contains(machine.Str("definition"), m.Named("aws:ecs/taskDefinition:TaskDefinition", s.Name+"-task").Out("arn")) {
				t.Errorf("schedule %s does not run the task definition that waits for the API", s.Name)
			}
		}
	})
}

// rolledBack answers the API's service as the provider does after a circuit-breaker rollback: the
// wait for a steady state succeeded, on the previous task definition.
type rolledBack struct{ *pulumitest.Mocks }

const previousTaskDefinition = "arn:aws:ecs:us-east-1:123456789012:task-definition/ecs-api-dev-api:41"

func (r *rolledBack) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id, outputs, err := r.Mocks.NewResource(args)
	if args.TypeToken == "aws:ecs/service:Service" && args.Name == "api" {
		outputs["taskDefinition"] = resource.NewStringProperty(previousTaskDefinition)
	}
	return id, outputs, err
}

// TestARolledBackMigrationFailsTheDeployBeforeTheWorkerAndJobs: when the API's service comes back on
// another task definition, the deploy fails with the gate's message and registers neither the
// worker's nor any job's new task definition.
func TestARolledBackMigrationFailsTheDeployBeforeTheWorkerAndJobs(t *testing.T) {
	stack := "dev"
	v, _ := migrateVariant(t, stack)
	project, cfg := variantConfig(t, stack, v)
	rec := &rolledBack{&pulumitest.Mocks{Project: project, Stack: stack, Exports: map[string]any{}}}
	err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, rec), func(ri *pulumi.RunInfo) { ri.Config = cfg })
	if err == nil || !strings.Contains(err.Error(), "the API rolled back to "+previousTaskDefinition) {
		t.Fatalf("program error %v, want the API's rollback", err)
	}
	for _, td := range rec.OfType("aws:ecs/taskDefinition:TaskDefinition") {
		if td.Name != "api-task" {
			t.Errorf("%s was registered although the API rolled back", td.Name)
		}
	}
}

// TestStacksWithoutMigrationsDoNotWaitForTheAPI: without migrations nothing changes: no wait for a
// steady state, and the worker and the jobs do not depend on the API's service.
func TestStacksWithoutMigrationsDoNotWaitForTheAPI(t *testing.T) {
	project, cfg := variantConfig(t, "prod", variant{name: "worker", objects: map[string]map[string]any{
		"worker": {"enabled": true, "command": []string{"node", "dist/worker.js"}},
	}})
	m, err := pulumitest.Run(project, "prod", cfg, program)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	svc, _ := apiTaskDefinition(t, m)
	if svc.Has("waitForSteadyState") {
		t.Errorf("prod (migrate commented out) sets waitForSteadyState %v", svc.Inputs["waitForSteadyState"])
	}
	for _, r := range append(m.OfType("aws:ecs/taskDefinition:TaskDefinition"), m.Named("aws:ecs/service:Service", "worker")) {
		if slices.Contains(r.Dependencies, svc.URN) {
			t.Errorf("%s waits for the API's service without migrations", r.Name)
		}
	}
}

// TestStacksWithoutMigrationsKeepOneContainer: with migrate off, the API's task is as before.
func TestStacksWithoutMigrationsKeepOneContainer(t *testing.T) {
	m := runStack(t, "prod")
	_, td := apiTaskDefinition(t, m)
	if defs := sentContainers(t, td); len(defs) != 1 || strings.Contains(td.Str("containerDefinitions"), "dependsOn") {
		t.Errorf("prod (migrate commented out) has containers %v", slices.Sorted(maps.Keys(defs)))
	}
	project, cfg := variantConfig(t, "prod", variant{name: "alerts", objects: map[string]map[string]any{
		"alerts": {"enabled": true, "emails": []string{"oncall@example.com"}},
	}})
	alerted, err := pulumitest.Run(project, "prod", cfg, program)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	if alerted.Named(ruleType, "monitoring-migration-failed") == nil && alerted.Named(ruleType, "monitoring-deployment-failed") == nil {
		t.Fatal("alerts on but no rules")
	} else if alerted.Named(ruleType, "monitoring-migration-failed") != nil {
		t.Error("a migration-failed rule without migrations")
	}
}

// TestDeployWorkflowOutwaitsTheLongestMigration: the deploy workflow's verify waits for the whole
// rollout; the longest migration allowed must leave it five minutes for the rest (pull, boot,
// health checks, draining), or a slow but successful migration would fail the deploy.
func TestDeployWorkflowOutwaitsTheLongestMigration(t *testing.T) {
	workflow, err := os.ReadFile(".github/workflows/deploy.yml")
	if err != nil {
		t.Fatal(err)
	}
	timeouts := regexp.MustCompile(`bin/verify --timeout (\d+)m`).FindAllStringSubmatch(string(workflow), -1)
	if len(timeouts) == 0 {
		t.Fatal("deploy.yml runs no bin/verify --timeout <n>m")
	}
	for _, m := range timeouts {
		minutes, _ := strconv.Atoi(m[1])
		if minutes*60 < config.MaxMigrateTimeout+5*60 {
			t.Errorf("verify waits %d minutes; a %d s migration leaves the rollout less than 5", minutes, config.MaxMigrateTimeout)
		}
	}
}

// TestDataPageShowsTheMeasuredLockWrapper: the wrapper docs/data.md tells users to copy is the one
// scripts/measure-migrate measured.
func TestDataPageShowsTheMeasuredLockWrapper(t *testing.T) {
	migrations := docs.Section(page(t, "docs/data.md"), "database-migrations")
	wrapper, err := os.ReadFile("scripts/migrate-lock.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(migrations, "```js\n"+string(wrapper)+"```") {
		t.Error("docs/data.md's migrate-lock.js is not scripts/migrate-lock.js")
	}
	for _, want := range []string{"prisma migrate deploy", "typeorm migration:run", "pg_advisory_lock", "expand", "contract"} {
		if !strings.Contains(migrations, want) {
			t.Errorf("docs/data.md's migrations section lacks %q", want)
		}
	}
}

func logOptions(c map[string]any) map[string]any {
	lc, _ := c["logConfiguration"].(map[string]any)
	opts, _ := lc["options"].(map[string]any)
	return opts
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func quoted(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// TestLockWrapperEndsTheMigrationWithItsLock (review M3, M4), on scripts/migrate-lock.js as shipped:
// it sets the server's keepalives on its session right after connecting (so a dead task's lock is
// released in about 30 s: "Dead connection handling in PostgreSQL", RDS User Guide), listens for its
// connection's 'error' and 'end' (without an 'error' listener a dropped connection crashes Node and
// the migrator runs on unlocked), and then stops the migrator's own process group and exits 1.
func TestLockWrapperEndsTheMigrationWithItsLock(t *testing.T) {
	b, err := os.ReadFile("scripts/migrate-lock.js")
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	connect := strings.Index(script, "await client.connect()")
	lock := strings.Index(script, "pg_advisory_lock(")
	if connect < 0 || lock < 0 {
		t.Fatal("the wrapper neither connects nor takes the lock")
	}
	for _, set := range []string{
		"SET tcp_keepalives_idle = 15", "SET tcp_keepalives_interval = 5", "SET tcp_keepalives_count = 3", "SET tcp_user_timeout = 30000",
	} {
		if !strings.Contains(script, "'"+set+"'") {
			t.Errorf("the wrapper does not issue %q", set)
		}
	}
	if apply := strings.Index(script, "for (const statement of KEEPALIVES) await client.query(statement)"); apply < connect || apply > lock {
		t.Error("the keepalives are not set between connect() and the lock")
	}
	for _, want := range []string{
		"client.on('error', lost)", "client.on('end',", "lost the migration lock", "detached: true",
		"process.kill(-child.pid, signal)", "killGroup(child, 'SIGTERM')", "killGroup(child, 'SIGKILL'), KILL_AFTER_MS",
		"const KILL_AFTER_MS = 5000", "process.exit(1)", "process.on(signal, () => killGroup(child, signal))",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the wrapper lacks %q", want)
		}
	}
	if strings.Index(script, "client.on('error', lost)") > connect {
		t.Error("the 'error' listener is attached after connect(): an error before it would crash Node")
	}
}
