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

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
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

// TestNoAPITaskServesBeforeItsMigrationSucceeded: in every stack file, the API's task definition
// runs the migration in a non-essential container of the app's image, environment, secrets, user,
// hardening and log group, under `timeout`, and the app's container (the one the load balancer sends
// traffic to) starts only once it exited 0. ECS's startTimeout outlasts the command's own limit.
func TestNoAPITaskServesBeforeItsMigrationSucceeded(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			v, mc := migrateVariant(t, stack)
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
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
}

// TestWorkerAndJobsRunNoMigration: they reuse the app's container but never its migration.
func TestWorkerAndJobsRunNoMigration(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			v, mc := migrateVariant(t, stack)
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
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
}

// TestFailedMigrationRollsBackAndAlerts: a migration that fails keeps its app from starting, so the
// task stops before it serves; the circuit breaker counts it and rolls back to the last deployment
// that completed, while minimum healthy 100 % keeps the old tasks serving; the deployment-failed rule
// and the unexpected-stops count watch the API service.
func TestFailedMigrationRollsBackAndAlerts(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			t.Parallel()
			v, _ := migrateVariant(t, stack)
			project, cfg := variantConfig(t, stack, v)
			m, err := pulumitest.Run(project, stack, cfg, program)
			if err != nil {
				t.Fatalf("program failed: %v", err)
			}
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
		})
	}
}

// TestStacksWithoutMigrationsKeepOneContainer: with migrate off, the API's task is as before.
func TestStacksWithoutMigrationsKeepOneContainer(t *testing.T) {
	m := runStack(t, "prod")
	_, td := apiTaskDefinition(t, m)
	if defs := sentContainers(t, td); len(defs) != 1 || strings.Contains(td.Str("containerDefinitions"), "dependsOn") {
		t.Errorf("prod (migrate commented out) has containers %v", slices.Sorted(maps.Keys(defs)))
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

// TestReadmeShowsTheMeasuredLockWrapper: the wrapper README tells users to copy is the one
// scripts/measure-migrate measured.
func TestReadmeShowsTheMeasuredLockWrapper(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	wrapper, err := os.ReadFile("scripts/migrate-lock.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```js\n"+string(wrapper)+"```") {
		t.Error("README's migrate-lock.js is not scripts/migrate-lock.js")
	}
	for _, want := range []string{"### Database migrations", "prisma migrate deploy", "typeorm migration:run", "pg_advisory_lock", "expand", "contract"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README's migrations section lacks %q", want)
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
