package infra_test

import (
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
	"github.com/acme/ecs-api/policy"
)

const (
	scalingTargetType   = "aws:appautoscaling/target:Target"
	scalingPolicyType   = "aws:appautoscaling/policy:Policy"
	scheduledActionType = "aws:appautoscaling/scheduledAction:ScheduledAction"
	alarmType           = "aws:cloudwatch/metricAlarm:MetricAlarm"
)

const autoscalingOn = `{"enabled":true,"minTasks":2,"maxTasks":10,"cpuTarget":55,"memoryTarget":70,"requestsPerTarget":800,
 "scaleOutCooldown":30,"scaleInCooldown":240,
 "scheduled":[{"name":"sale-start","schedule":"cron(0 0 22 11 ? *)","timezone":"America/New_York","minTasks":6,"maxTasks":12},
              {"name":"sale-end","schedule":"cron(0 0 3 12 ? *)","timezone":"America/New_York","minTasks":2,"maxTasks":10}]}`

func buildAutoscaling(t *testing.T, autoscaling string) *pulumitest.Mocks {
	t.Helper()
	return build(t, map[string]string{"autoscaling": autoscaling, "maxInstances": "8"}, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewServiceAutoscaling(ctx, "scaling", &infra.ServiceAutoscalingArgs{
			ClusterName:           pulumi.String("cluster-1"),
			ServiceName:           pulumi.String("api-1"),
			LoadBalancerArnSuffix: pulumi.String("app/web/50dc6c495c0c9188"),
			TargetGroupArnSuffix:  pulumi.String("targetgroup/web-tg/73e2d6bc24d8a067"),
			Config:                cfg.Autoscaling,
		})
		return err
	})
}

func TestScalingTargetBoundsTheServiceTaskCount(t *testing.T) {
	m := buildAutoscaling(t, autoscalingOn)
	target := one(t, m, scalingTargetType)
	if target.Str("serviceNamespace") != "ecs" || target.Str("scalableDimension") != "ecs:service:DesiredCount" {
		t.Errorf("target %s %s, want the ECS service's desired count", target.Str("serviceNamespace"), target.Str("scalableDimension"))
	}
	if target.Str("resourceId") != "service/cluster-1/api-1" {
		t.Errorf("resource id %q", target.Str("resourceId"))
	}
	if target.Num("minCapacity") != 2 || target.Num("maxCapacity") != 10 {
		t.Errorf("bounds %v-%v, want 2-10", target.Num("minCapacity"), target.Num("maxCapacity"))
	}
}

func TestScalingPoliciesTrackCPUMemoryAndRequests(t *testing.T) {
	m := buildAutoscaling(t, autoscalingOn)
	got := map[string]float64{}
	for _, p := range m.OfType(scalingPolicyType) {
		cfg := "targetTrackingScalingPolicyConfiguration."
		metric := p.Str(cfg + "predefinedMetricSpecification.predefinedMetricType")
		got[metric] = p.Num(cfg + "targetValue")
		if p.Str("policyType") != "TargetTrackingScaling" || p.Str("resourceId") != "service/cluster-1/api-1" {
			t.Errorf("%s: policy type %q on %q", p.Name, p.Str("policyType"), p.Str("resourceId"))
		}
		if p.Num(cfg+"scaleOutCooldown") != 30 || p.Num(cfg+"scaleInCooldown") != 240 {
			t.Errorf("%s: cooldowns out %v in %v, want 30/240", p.Name, p.Num(cfg+"scaleOutCooldown"), p.Num(cfg+"scaleInCooldown"))
		}
		label := p.Str(cfg + "predefinedMetricSpecification.resourceLabel")
		if metric == "ALBRequestCountPerTarget" && label != "app/web/50dc6c495c0c9188/targetgroup/web-tg/73e2d6bc24d8a067" {
			t.Errorf("request count label %q, want <lb arn suffix>/<target group arn suffix>", label)
		}
		if metric != "ALBRequestCountPerTarget" && label != "" {
			t.Errorf("%s has a resource label %q", metric, label)
		}
	}
	want := map[string]float64{"ECSServiceAverageCPUUtilization": 55, "ECSServiceAverageMemoryUtilization": 70, "ALBRequestCountPerTarget": 800}
	if len(got) != len(want) {
		t.Errorf("policies %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s target %v, want %v", k, got[k], v)
		}
	}

	cpuOnly := buildAutoscaling(t, `{"enabled":true,"minTasks":2,"maxTasks":4}`)
	policies := cpuOnly.OfType(scalingPolicyType)
	if len(policies) != 1 || policies[0].Num("targetTrackingScalingPolicyConfiguration.targetValue") != 60 {
		t.Errorf("with defaults want one CPU policy at 60%%, got %d", len(policies))
	}
}

func TestScheduledActionsRaiseAndRestoreBounds(t *testing.T) {
	m := buildAutoscaling(t, autoscalingOn)
	var got []string
	for _, a := range m.OfType(scheduledActionType) {
		got = append(got, a.Str("name")+" "+a.Str("schedule")+" "+a.Str("timezone")+" "+
			itoa(int(a.Num("scalableTargetAction.minCapacity")))+"-"+itoa(int(a.Num("scalableTargetAction.maxCapacity"))))
		if a.Str("resourceId") != "service/cluster-1/api-1" {
			t.Errorf("%s acts on %q", a.Name, a.Str("resourceId"))
		}
	}
	sort.Strings(got)
	want := []string{
		"sale-end cron(0 0 3 12 ? *) America/New_York 2-10",
		"sale-start cron(0 0 22 11 ? *) America/New_York 6-12",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("scheduled actions %v, want %v", got, want)
	}
}

func TestServiceIgnoresDesiredCountOnlyWhenAutoscaled(t *testing.T) {
	for _, autoscaled := range []bool{false, true} {
		m := build(t, nil, func(ctx *pulumi.Context, cfg *config.Config) error {
			args := serviceArgs(ctx, t, cfg)
			args.Autoscaled = autoscaled
			_, err := infra.NewAppService(ctx, "api", args)
			return err
		})
		svc := one(t, m, "aws:ecs/service:Service")
		ignores := strings.Join(svc.IgnoreChanges, ",") == "desiredCount"
		if ignores != autoscaled {
			t.Errorf("autoscaled=%v but ignoreChanges=%v", autoscaled, svc.IgnoreChanges)
		}
	}
}

func TestAlarmsAreWiredIntoDeploymentRollback(t *testing.T) {
	alarms := `{"enabled":true,"rollback":true,"target5xxPercent":2,"p99LatencySeconds":1.5,"unhealthyHosts":1,"periodSeconds":60,"evaluationPeriods":2}`
	m := build(t, map[string]string{"alarms": alarms}, func(ctx *pulumi.Context, cfg *config.Config) error {
		args := serviceArgs(ctx, t, cfg)
		args.Alarms = cfg.Alarms
		_, err := infra.NewAppService(ctx, "api", args)
		return err
	})
	byName := map[string]*pulumitest.Resource{}
	for _, a := range m.OfType(alarmType) {
		byName[a.Name] = a
	}
	if len(byName) != 3 {
		t.Fatalf("%d alarms, want 3", len(byName))
	}
	svc := one(t, m, "aws:ecs/service:Service")
	if !svc.Bool("alarms.enable") || !svc.Bool("alarms.rollback") {
		t.Errorf("deployment alarms %v, want enabled with rollback", svc.Inputs["alarms"])
	}
	var wired []string
	for _, n := range svc.Strs("alarms.alarmNames") {
		wired = append(wired, n)
	}
	var created []string
	for _, a := range byName {
		created = append(created, a.Out("name"))
	}
	if strings.Join(sorted(wired), ",") != strings.Join(sorted(created), ",") {
		t.Errorf("service watches %v, want exactly the alarms %v", wired, created)
	}

	rate := byName["api-5xx-rate"]
	if rate.Num("threshold") != 2 || rate.Str("comparisonOperator") != "GreaterThanThreshold" || rate.Num("evaluationPeriods") != 2 {
		t.Errorf("5xx alarm threshold %v %s over %v", rate.Num("threshold"), rate.Str("comparisonOperator"), rate.Num("evaluationPeriods"))
	}
	if !strings.Contains(rate.Str("metricQueries.2.expression"), "errors") || rate.Str("metricQueries.0.metric.metricName") != "HTTPCode_Target_5XX_Count" ||
		rate.Str("metricQueries.1.metric.metricName") != "RequestCount" {
		t.Errorf("5xx alarm is not errors / requests: %v", rate.Inputs["metricQueries"])
	}
	for _, q := range []string{"metricQueries.0.metric.dimensions", "metricQueries.1.metric.dimensions"} {
		if rate.Str(q+".LoadBalancer") != "app/web/1" || rate.Str(q+".TargetGroup") != "targetgroup/tg/1" {
			t.Errorf("5xx alarm %s dimensions %v", q, policy.Get(rate.Inputs, q))
		}
	}
	latency := byName["api-p99-latency"]
	if latency.Str("extendedStatistic") != "p99" || latency.Str("metricName") != "TargetResponseTime" || latency.Num("threshold") != 1.5 {
		t.Errorf("latency alarm %v", latency.Inputs)
	}
	unhealthy := byName["api-unhealthy-hosts"]
	if unhealthy.Str("metricName") != "UnHealthyHostCount" || unhealthy.Str("dimensions.TargetGroup") != "targetgroup/tg/1" ||
		unhealthy.Str("comparisonOperator") != "GreaterThanOrEqualToThreshold" || unhealthy.Num("threshold") != 1 {
		t.Errorf("unhealthy hosts alarm %v", unhealthy.Inputs)
	}
	for _, a := range byName {
		if a.Str("treatMissingData") != "notBreaching" {
			t.Errorf("%s treats missing data as %q: an idle service would block deploys", a.Name, a.Str("treatMissingData"))
		}
	}

	off := buildService(t, nil)
	if n := len(off.OfType(alarmType)); n != 0 || one(t, off, "aws:ecs/service:Service").Has("alarms") {
		t.Errorf("alarms off, yet %d alarms exist or the service watches some", n)
	}
}

func TestCapacityProviderFollowsCapacityConfig(t *testing.T) {
	m := buildCluster(t, map[string]string{"capacity": `{"targetCapacity":80,"minScalingStep":2,"maxScalingStep":6,"instanceWarmup":120}`})
	cp := one(t, m, "aws:ecs/capacityProvider:CapacityProvider")
	p := "autoScalingGroupProvider.managedScaling."
	for path, want := range map[string]float64{"targetCapacity": 80, "minimumScalingStepSize": 2, "maximumScalingStepSize": 6, "instanceWarmupPeriod": 120} {
		if got := cp.Num(p + path); got != want {
			t.Errorf("managed scaling %s = %v, want %v", path, got, want)
		}
	}
	if one(t, m, "aws:autoscaling/group:Group").Has("warmPool") {
		t.Error("warm pool present without being configured")
	}
	if n := len(m.OfType("aws:autoscaling/group:Group")); n != 1 {
		t.Errorf("%d Auto Scaling groups without Spot, want 1", n)
	}
}

func TestWarmPoolOnlyWhenConfigured(t *testing.T) {
	m := buildCluster(t, map[string]string{"capacity": `{"warmPool":{"enabled":true,"minSize":1,"maxPreparedCapacity":5}}`})
	asg := one(t, m, "aws:autoscaling/group:Group")
	if asg.Str("warmPool.poolState") != "Stopped" || asg.Num("warmPool.minSize") != 1 || asg.Num("warmPool.maxGroupPreparedCapacity") != 5 {
		t.Errorf("warm pool %v", asg.Inputs["warmPool"])
	}
	// "Configuring pre-initialized instances for your Amazon ECS Auto Scaling group": a warm pool for
	// ECS cannot set ReuseOnScaleIn.
	if asg.Has("warmPool.instanceReusePolicy") {
		t.Errorf("warm pool sets an instance reuse policy, which ECS does not support: %v", asg.Inputs["warmPool"])
	}
	script, _ := base64.StdEncoding.DecodeString(one(t, m, "aws:ec2/launchTemplate:LaunchTemplate").Str("userData"))
	if !strings.Contains(string(script), "ECS_WARM_POOLS_CHECK=true\n") {
		t.Error("instances in the warm pool would register with the cluster: ECS_WARM_POOLS_CHECK is missing")
	}
	plain := buildCluster(t, nil)
	script, _ = base64.StdEncoding.DecodeString(one(t, plain, "aws:ec2/launchTemplate:LaunchTemplate").Str("userData"))
	if strings.Contains(string(script), "ECS_WARM_POOLS_CHECK") {
		t.Error("warm pool check set without a warm pool")
	}
}

func TestSpotCapacityOnlyWhenConfigured(t *testing.T) {
	spot := `{"spot":{"enabled":true,"instanceTypes":["m6i.large","m5.large","m6a.large"],"maxInstances":6,"onDemandBase":2,"onDemandWeight":1,"spotWeight":3}}`
	m := buildCluster(t, map[string]string{"capacity": spot, "instanceType": "m6i.large"})
	spotASG := named(t, m, "aws:autoscaling/group:Group", "cluster-spot-asg")
	mip := "mixedInstancesPolicy."
	if spotASG.Str(mip+"instancesDistribution.spotAllocationStrategy") != "price-capacity-optimized" ||
		spotASG.Num(mip+"instancesDistribution.onDemandPercentageAboveBaseCapacity") != 0 {
		t.Errorf("spot distribution %v", policy.Get(spotASG.Inputs, mip+"instancesDistribution"))
	}
	var types []string
	for i := 0; i < spotASG.Len(mip+"launchTemplate.overrides"); i++ {
		types = append(types, spotASG.Str(mip+"launchTemplate.overrides."+itoa(i)+".instanceType"))
	}
	if strings.Join(types, ",") != "m6i.large,m5.large,m6a.large" {
		t.Errorf("spot instance types %v", types)
	}
	if spotASG.Num("maxSize") != 6 || !spotASG.Bool("capacityRebalance") || !spotASG.Bool("forceDelete") {
		t.Errorf("spot group max %v rebalance %v", spotASG.Num("maxSize"), spotASG.Bool("capacityRebalance"))
	}
	lt := one(t, m, "aws:ec2/launchTemplate:LaunchTemplate")
	if spotASG.Str(mip+"launchTemplate.launchTemplateSpecification.launchTemplateId") != lt.ID {
		t.Error("spot group does not use the hardened launch template")
	}
	spotCP := named(t, m, "aws:ecs/capacityProvider:CapacityProvider", "cluster-spot-capacity")
	if spotCP.Str("autoScalingGroupProvider.autoScalingGroupArn") != spotASG.Out("arn") {
		t.Error("spot capacity provider does not scale the spot group")
	}
	ccp := one(t, m, "aws:ecs/clusterCapacityProviders:ClusterCapacityProviders")
	if got := ccp.Strs("capacityProviders"); len(got) != 2 || got[1] != spotCP.Out("name") {
		t.Errorf("cluster capacity providers %v", got)
	}
	d := "defaultCapacityProviderStrategies."
	if ccp.Num(d+"0.base") != 2 || ccp.Num(d+"0.weight") != 1 || ccp.Num(d+"1.base") != 0 || ccp.Num(d+"1.weight") != 3 {
		t.Errorf("default strategy %v, want on-demand base 2 weight 1, spot weight 3", ccp.Inputs["defaultCapacityProviderStrategies"])
	}

	svc := build(t, map[string]string{"capacity": spot, "instanceType": "m6i.large"}, func(ctx *pulumi.Context, cfg *config.Config) error {
		args := serviceArgs(ctx, t, cfg)
		args.SpotCapacityProviderName = pulumi.String("spot-cp")
		args.Spot = cfg.Cluster.Capacity.Spot
		_, err := infra.NewAppService(ctx, "api", args)
		return err
	})
	s := one(t, svc, "aws:ecs/service:Service")
	c := "capacityProviderStrategies."
	if s.Str(c+"0.capacityProvider") != "cluster-capacity-1" || s.Num(c+"0.base") != 2 ||
		s.Str(c+"1.capacityProvider") != "spot-cp" || s.Num(c+"1.weight") != 3 || s.Num(c+"1.base") != 0 {
		t.Errorf("service strategy %v, want the base on on-demand", s.Inputs["capacityProviderStrategies"])
	}
}
