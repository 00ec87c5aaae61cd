package infra

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecs"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// ContainerDefinition is the subset of ECS's container definition this program sets. Memory is the
// container's hard limit; 0 (omitted) runs it within the task's, as the migrate container does.
type ContainerDefinition struct {
	Name                   string            `json:"name"`
	Image                  string            `json:"image"`
	Essential              bool              `json:"essential"`
	Command                []string          `json:"command,omitempty"`
	User                   string            `json:"user,omitempty"`
	CPU                    int               `json:"cpu"`
	Memory                 int               `json:"memory,omitempty"`
	PortMappings           []PortMapping     `json:"portMappings,omitempty"`
	Environment            []NameValue       `json:"environment,omitempty"`
	Secrets                []SecretRef       `json:"secrets,omitempty"`
	LogConfiguration       LogConfiguration  `json:"logConfiguration"`
	StopTimeout            int               `json:"stopTimeout"`
	Privileged             bool              `json:"privileged"`
	ReadonlyRootFilesystem bool              `json:"readonlyRootFilesystem"`
	LinuxParameters        *LinuxParameters  `json:"linuxParameters,omitempty"`
	MountPoints            []MountPoint      `json:"mountPoints,omitempty"`
	DockerLabels           map[string]string `json:"dockerLabels,omitempty"`
	// DependsOn holds the container back until others reach a condition (START, COMPLETE, SUCCESS, HEALTHY).
	DependsOn []ContainerDependency `json:"dependsOn,omitempty"`
	// StartTimeout is how long, from its start, a container that others depend on may take to reach
	// their condition before they give up and the task stops; ECS reads it on the dependency.
	StartTimeout int `json:"startTimeout,omitempty"`
}

// ContainerDependency is one dependsOn entry.
type ContainerDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"`
}

// PortMapping with HostPort 0 lets Docker pick a free host port, so tasks can share an instance.
type PortMapping struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
}

// NameValue is one plain environment variable.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SecretRef is an environment variable that ECS reads from SSM or Secrets Manager at task start.
type SecretRef struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

// LogConfiguration sends the container's output to CloudWatch Logs.
type LogConfiguration struct {
	LogDriver string            `json:"logDriver"`
	Options   map[string]string `json:"options"`
}

// LinuxParameters adds an init process (signal forwarding, zombie reaping) and tmpfs mounts.
type LinuxParameters struct {
	InitProcessEnabled bool    `json:"initProcessEnabled"`
	Tmpfs              []Tmpfs `json:"tmpfs,omitempty"`
}

// Tmpfs is an in-memory writable mount; its size counts against the container's memory.
type Tmpfs struct {
	ContainerPath string   `json:"containerPath"`
	Size          int      `json:"size"`
	MountOptions  []string `json:"mountOptions,omitempty"`
}

// MountPoint mounts one of the task's volumes into the container.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume"`
	ContainerPath string `json:"containerPath"`
	ReadOnly      bool   `json:"readOnly"`
}

// ExecAgentPaths are where the agent that ECS Exec injects writes, each backed by a task volume when
// the root file system is read-only. ECS's own documentation calls read-only roots unsupported with
// ECS Exec because the agent cannot write; writable mounts at exactly these paths are the workaround
// from aws/containers-roadmap#1359 and aws-containers/amazon-ecs-exec-checker#71.
var ExecAgentPaths = []struct{ Volume, Path string }{
	{"ecs-exec-managed-agents", "/managed-agents"},
	{"ecs-exec-ssm-state", "/var/lib/amazon/ssm"},
	{"ecs-exec-ssm-logs", "/var/log/amazon/ssm"},
}

// execVolumes reports whether the task needs the ECS Exec agent's writable volumes.
func execVolumes(svc config.ServiceConfig) bool {
	return svc.EnableExecuteCommand && svc.ReadonlyRootFilesystem
}

// TmpfsSizeMiB is the size of the writable /tmp when the root file system is read-only.
const TmpfsSizeMiB = 64

// AppRuntime is what every task running the app's code shares: the cluster and capacity it runs
// on, the app's two roles, its log group, its settings and its connections to shared state.
type AppRuntime struct {
	ClusterArn           pulumi.StringInput
	CapacityProviderName pulumi.StringInput
	TaskRoleArn          pulumi.StringInput
	ExecutionRoleArn     pulumi.StringInput
	// RolePolicies are every policy of both roles: whatever starts tasks waits for them.
	RolePolicies []pulumi.Resource
	LogGroupName pulumi.StringInput
	// Connections to the database and cache, resolved into variables at deploy time.
	Connections Connections
	Service     config.ServiceConfig
	Region      string
	// Released is AppService.Released: with migrations on, every task definition of this runtime
	// (the worker's, the jobs') is registered only once the API serves this deploy's release, and
	// not at all when it rolled back. Nil without migrations.
	Released pulumi.ResourceArrayInput
}

// MigrateContainerName names the API task's migration container; MigrateStreamPrefix starts its log streams.
const (
	MigrateContainerName = "migrate"
	MigrateStreamPrefix  = "migrate"
)

// containerSpec is one way of running the app's image: the API behind the load balancer, a
// scheduled job, or the worker. All share image, secrets, hardening and logging.
type containerSpec struct {
	Service config.ServiceConfig
	// Env and Secrets are the final variables.
	Env     map[string]string
	Secrets map[string]string
	// Command overrides the image's command; nil keeps it.
	Command     []string
	CPU, Memory int
	// Port is the container port mapped to a dynamic host port; 0 maps none.
	Port         int
	StreamPrefix string
	LogGroup     string
	Region       string
	// Migrate adds the migration container the app waits on; only the API's task sets it.
	Migrate config.MigrateConfig
}

// taskSpec is what differs between the API, a job and the worker.
type taskSpec struct {
	Family string
	// Env is added to the app's env and the connections' variables, and wins over them.
	Env          map[string]string
	Command      []string
	CPU, Memory  int
	Port         int
	StreamPrefix string
	// Migrate runs the migrations before the app starts, in the API's task only: jobs and the worker
	// leave it off, so they never migrate.
	Migrate config.MigrateConfig
}

// newTaskDefinition registers the app's container in bridge mode on EC2, rendering its definition
// once the log group and the connections are known.
func newTaskDefinition(ctx *pulumi.Context, name string, rt AppRuntime, spec taskSpec, parent pulumi.ResourceOption) (*ecs.TaskDefinition, error) {
	svc := rt.Service
	containers := pulumi.All(rt.LogGroupName, rt.Connections.resolved()).ApplyT(func(v []any) (string, error) {
		logGroup, conn := v[0].(string), v[1].(resolvedConnections)
		return containerDefinitions(containerSpec{
			Service:      svc,
			Env:          withVars(withVars(svc.Env, conn.Env), spec.Env),
			Secrets:      withVars(svc.Secrets, conn.Secrets),
			Command:      spec.Command,
			CPU:          spec.CPU,
			Memory:       spec.Memory,
			Port:         spec.Port,
			StreamPrefix: spec.StreamPrefix,
			LogGroup:     logGroup,
			Region:       rt.Region,
			Migrate:      spec.Migrate,
		})
	}).(pulumi.StringOutput)
	// Volumes without a host path are directories Docker creates on the instance for the task's
	// lifetime: writable, on the encrypted root volume, gone with the task.
	var volumes ecs.TaskDefinitionVolumeArray
	if execVolumes(svc) {
		for _, v := range ExecAgentPaths {
			volumes = append(volumes, &ecs.TaskDefinitionVolumeArgs{Name: pulumi.String(v.Volume)})
		}
	}
	opts := []pulumi.ResourceOption{parent}
	if rt.Released != nil {
		opts = append(opts, pulumi.DependsOnInputs(rt.Released))
	}
	td, err := ecs.NewTaskDefinition(ctx, name, &ecs.TaskDefinitionArgs{
		Volumes:                 volumes,
		Family:                  pulumi.String(spec.Family),
		NetworkMode:             pulumi.String("bridge"),
		RequiresCompatibilities: pulumi.StringArray{pulumi.String("EC2")},
		Cpu:                     pulumi.Sprintf("%d", spec.CPU),
		Memory:                  pulumi.Sprintf("%d", spec.Memory),
		TaskRoleArn:             rt.TaskRoleArn,
		ExecutionRoleArn:        rt.ExecutionRoleArn,
		ContainerDefinitions:    containers,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("task definition %s: %w", name, err)
	}
	return td, nil
}

// containerDefinitions renders the app's container, and with migrations the one it waits on, as the
// JSON ECS expects, deterministically: environment and secrets are sorted by name so an unchanged
// config never shows a diff.
func containerDefinitions(spec containerSpec) (string, error) {
	def := ContainerDefinition{
		Name:      ContainerName,
		Image:     spec.Service.Image,
		Essential: true,
		Command:   spec.Command,
		User:      spec.Service.User,
		CPU:       spec.CPU,
		Memory:    spec.Memory,
		LogConfiguration: LogConfiguration{
			LogDriver: "awslogs",
			Options: map[string]string{
				"awslogs-group":         spec.LogGroup,
				"awslogs-region":        spec.Region,
				"awslogs-stream-prefix": spec.StreamPrefix,
			},
		},
		StopTimeout:            spec.Service.StopTimeout,
		Privileged:             false,
		ReadonlyRootFilesystem: spec.Service.ReadonlyRootFilesystem,
		LinuxParameters:        &LinuxParameters{InitProcessEnabled: true},
	}
	if spec.Port != 0 {
		// Host port 0: Docker picks a free ephemeral port, so many tasks share one instance.
		def.PortMappings = []PortMapping{{ContainerPort: spec.Port, HostPort: 0, Protocol: "tcp"}}
	}
	if spec.Service.ReadonlyRootFilesystem {
		def.LinuxParameters.Tmpfs = []Tmpfs{{ContainerPath: "/tmp", Size: TmpfsSizeMiB, MountOptions: []string{"rw", "noexec", "nosuid", "nodev"}}}
	}
	if execVolumes(spec.Service) {
		for _, v := range ExecAgentPaths {
			def.MountPoints = append(def.MountPoints, MountPoint{SourceVolume: v.Volume, ContainerPath: v.Path})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		def.Environment = append(def.Environment, NameValue{Name: k, Value: spec.Env[k]})
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Secrets)) {
		def.Secrets = append(def.Secrets, SecretRef{Name: k, ValueFrom: spec.Secrets[k]})
	}
	defs := []ContainerDefinition{def}
	if spec.Migrate.Enabled {
		// The app starts only once the migration exited 0; one that fails, times out or is cut by
		// startTimeout stops the task before it serves, and the circuit breaker rolls the rollout back.
		defs[0].DependsOn = []ContainerDependency{{ContainerName: MigrateContainerName, Condition: "SUCCESS"}}
		defs = append(defs, migrateContainer(def, spec))
	}
	b, err := json.Marshal(defs)
	return string(b), err
}

// migrateContainer is the app's container running the migration instead: same image, user,
// variables, secrets, hardening and log group (its own stream prefix), no port, not essential (it
// exits), and no memory limit of its own: it runs before the app, within the task's.
func migrateContainer(app ContainerDefinition, spec containerSpec) ContainerDefinition {
	m := app
	m.Name = MigrateContainerName
	m.Essential = false
	m.Command = MigrateCommand(spec.Migrate)
	m.CPU, m.Memory = 0, 0
	m.PortMappings = nil
	m.DependsOn = nil
	m.StartTimeout = config.MigrateStartTimeout(spec.Migrate.Timeout)
	options := maps.Clone(app.LogConfiguration.Options)
	options["awslogs-stream-prefix"] = MigrateStreamPrefix
	m.LogConfiguration = LogConfiguration{LogDriver: app.LogConfiguration.LogDriver, Options: options}
	return m
}

// MigrateCommand runs the migration under `timeout`, as jobs run theirs: SIGTERM at migrate.timeout,
// SIGKILL MigrateKillAfter seconds later, and a non-zero exit that keeps the app from starting.
func MigrateCommand(m config.MigrateConfig) []string {
	return append([]string{"timeout", "-k", strconv.Itoa(config.MigrateKillAfter), strconv.Itoa(m.Timeout)}, m.Command...)
}

// withVars returns a copy of base with extra added; extra wins.
func withVars(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}
