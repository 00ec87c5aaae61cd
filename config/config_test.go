package config_test

import (
	"strings"
	"testing"

	"github.com/acme/ecs-api/config"
)

func TestConfigRejectsBadInputNamingTheKey(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stack     string
		overrides map[string]string
		key       string
	}{
		{name: "missing image", overrides: map[string]string{"image": ""}, key: "image:"},
		{name: "image without tag", overrides: map[string]string{"image": "ghcr.io/acme/api"}, key: "image:"},
		{name: "image with registry port but no tag", overrides: map[string]string{"image": "localhost:5000/api"}, key: "image:"},
		{name: "latest in prod", stack: "prod", overrides: map[string]string{"image": "ghcr.io/acme/api:latest"}, key: "image:"},
		{name: "desired count zero", overrides: map[string]string{"desiredCount": "0"}, key: "desiredCount:"},
		{name: "desired count not a number", overrides: map[string]string{"desiredCount": "three"}, key: "desiredCount:"},
		{name: "min instances zero", overrides: map[string]string{"minInstances": "0"}, key: "minInstances:"},
		{name: "max instances zero", overrides: map[string]string{"maxInstances": "0"}, key: "maxInstances:"},
		{name: "min above max", overrides: map[string]string{"minInstances": "5", "maxInstances": "4"}, key: "minInstances:"},
		{name: "desired instances above max", overrides: map[string]string{"desiredInstances": "9"}, key: "desiredInstances:"},
		{name: "container port zero", overrides: map[string]string{"containerPort": "0"}, key: "containerPort:"},
		{name: "container port too high", overrides: map[string]string{"containerPort": "70000"}, key: "containerPort:"},
		{name: "env name not an identifier", overrides: map[string]string{"env": `{"1BAD":"x"}`}, key: "env:"},
		{name: "env name with dash", overrides: map[string]string{"env": `{"LOG-LEVEL":"x"}`}, key: "env:"},
		{name: "env value under a secret name", overrides: map[string]string{"env": `{"API_TOKEN":"abc"}`}, key: "env:"},
		{name: "env password", overrides: map[string]string{"env": `{"DB_PASSWORD":"hunter2"}`}, key: "env:"},
		{name: "env not a map", overrides: map[string]string{"env": `["A=1"]`}, key: "env:"},
		{name: "env nested value", overrides: map[string]string{"env": `{"A":{"b":1}}`}, key: "env:"},
		{name: "name in env and secrets", overrides: map[string]string{
			"env": `{"DB_HOST":"db"}`, "secrets": `{"DB_HOST":"arn:aws:ssm:us-east-1:123456789012:parameter/db-host"}`}, key: "env:"},
		{name: "plaintext secret", overrides: map[string]string{"secrets": `{"DB_PASSWORD":"hunter2"}`}, key: "secrets:"},
		{name: "malformed secret ARN", overrides: map[string]string{"secrets": `{"DB_PASSWORD":"arn:aws:secretsmanager:us-east-1:12345:secret:db"}`}, key: "secrets:"},
		{name: "secret name not an identifier", overrides: map[string]string{"secrets": `{"db-password":"arn:aws:ssm:us-east-1:123456789012:parameter/x"}`}, key: "secrets:"},
		{name: "health path without slash", overrides: map[string]string{"healthCheckPath": "health"}, key: "healthCheckPath:"},
		{name: "health path with space", overrides: map[string]string{"healthCheckPath": "/he alth"}, key: "healthCheckPath:"},
		{name: "one AZ", overrides: map[string]string{"azCount": "1"}, key: "azCount:"},
		{name: "seven AZs", overrides: map[string]string{"azCount": "7"}, key: "azCount:"},
		{name: "malformed certificate", overrides: map[string]string{"certificateArn": "arn:aws:acm:us-east-1:123456789012:cert/abc"}, key: "certificateArn:"},
		{name: "task memory above instance", overrides: map[string]string{"instanceType": "t3.small", "memory": "4096"}, key: "memory:"},
		{name: "task cpu above instance", overrides: map[string]string{"instanceType": "t3.small", "cpu": "4096"}, key: "cpu:"},
		{name: "tasks cannot fit on max instances", overrides: map[string]string{
			"instanceType": "t3.small", "memory": "512", "maxInstances": "2", "minInstances": "2", "desiredCount": "4"}, key: "desiredCount:"},
		{name: "unknown instance type shape", overrides: map[string]string{"instanceType": "banana"}, key: "instanceType:"},
		{name: "old burstable generation", overrides: map[string]string{"instanceType": "t2.micro"}, key: "instanceType:"},
		{name: "unsupported family", overrides: map[string]string{"instanceType": "x1.16xlarge"}, key: "instanceType:"},
		{name: "medium on x86", overrides: map[string]string{"instanceType": "m6i.medium"}, key: "instanceType:"},
		{name: "health timeout not below interval", overrides: map[string]string{"healthCheckTimeout": "10", "healthCheckInterval": "10"}, key: "healthCheckTimeout:"},
		{name: "health interval too short", overrides: map[string]string{"healthCheckInterval": "4"}, key: "healthCheckInterval:"},
		{name: "healthy threshold too low", overrides: map[string]string{"healthyThreshold": "1"}, key: "healthyThreshold:"},
		{name: "unhealthy threshold too high", overrides: map[string]string{"unhealthyThreshold": "11"}, key: "unhealthyThreshold:"},
		{name: "matcher out of range", overrides: map[string]string{"healthCheckMatcher": "600"}, key: "healthCheckMatcher:"},
		{name: "matcher not codes", overrides: map[string]string{"healthCheckMatcher": "ok"}, key: "healthCheckMatcher:"},
		{name: "stop timeout not above deregistration delay", overrides: map[string]string{"stopTimeout": "30", "deregistrationDelay": "30"}, key: "stopTimeout:"},
		{name: "deregistration delay too long", overrides: map[string]string{"deregistrationDelay": "3601", "stopTimeout": "4000"}, key: "deregistrationDelay:"},
		{name: "log retention not a CloudWatch value", overrides: map[string]string{"logRetentionDays": "10"}, key: "logRetentionDays:"},
		{name: "unknown NAT choice", overrides: map[string]string{"natGateways": "Double"}, key: "natGateways:"},
		{name: "no NAT without endpoints", overrides: map[string]string{"natGateways": "None"}, key: "network.endpoints:"},
		{name: "no NAT with an image outside ECR", overrides: map[string]string{"natGateways": "None", "image": "ghcr.io/acme/api:1.0",
			"network": `{"endpoints":["ecr.api","ecr.dkr","logs","ecs","ecs-agent","ecs-telemetry"]}`}, key: "image:"},
		{name: "no NAT with an image in another region", overrides: map[string]string{"natGateways": "None", "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1.0",
			"network": `{"endpoints":["ecr.api","ecr.dkr","logs","ecs","ecs-agent","ecs-telemetry"]}`}, key: "image:"},
		{name: "no NAT with a database but no secrets endpoint", overrides: map[string]string{"natGateways": "None", "database": `{"enabled":true}`,
			"network": `{"endpoints":["ecr.api","ecr.dkr","logs","ecs","ecs-agent","ecs-telemetry"]}`}, key: "network.endpoints:"},
		{name: "unknown endpoint", overrides: map[string]string{"network": `{"endpoints":["s3"]}`}, key: "network.endpoints:"},
		{name: "endpoint twice", overrides: map[string]string{"network": `{"endpoints":["logs","logs"]}`}, key: "network.endpoints:"},
		{name: "NAT instance of an unknown type", overrides: map[string]string{"natGateways": "Instance", "network": `{"natInstanceType":"x1.nano"}`}, key: "network.natInstanceType:"},
		{name: "NAT instance too large", overrides: map[string]string{"natGateways": "Instance", "network": `{"natInstanceType":"c7g.4xlarge"}`}, key: "network.natInstanceType:"},
		{name: "subnets without a VPC", overrides: map[string]string{"network": `{"privateSubnetIds":["subnet-1a00000000000000a","subnet-1b00000000000000b"]}`}, key: "network:"},
		{name: "existing VPC id malformed", overrides: map[string]string{"network": `{"vpcId":"vpc-xyz","publicSubnetIds":["subnet-0a00000000000000a","subnet-0b00000000000000b"],"privateSubnetIds":["subnet-1a00000000000000a","subnet-1b00000000000000b"]}`}, key: "network.vpcId:"},
		{name: "existing VPC with one private subnet", overrides: map[string]string{"network": `{"vpcId":"vpc-0e1d2c3b4a5968778","publicSubnetIds":["subnet-0a00000000000000a","subnet-0b00000000000000b"],"privateSubnetIds":["subnet-1a00000000000000a"]}`}, key: "network.privateSubnetIds:"},
		{name: "existing VPC with a subnet both public and private", overrides: map[string]string{"network": `{"vpcId":"vpc-0e1d2c3b4a5968778","publicSubnetIds":["subnet-0a00000000000000a","subnet-0b00000000000000b"],"privateSubnetIds":["subnet-0a00000000000000a","subnet-1b00000000000000b"]}`}, key: "network.privateSubnetIds:"},
		{name: "existing VPC with a malformed subnet", overrides: map[string]string{"network": `{"vpcId":"vpc-0e1d2c3b4a5968778","publicSubnetIds":["subnet-0a00000000000000a","sn-1"],"privateSubnetIds":["subnet-1a00000000000000a","subnet-1b00000000000000b"]}`}, key: "network.publicSubnetIds:"},
		{name: "CIDR with host bits", overrides: map[string]string{"vpcCidr": "10.0.0.1/16"}, key: "vpcCidr:"},
		{name: "CIDR too large", overrides: map[string]string{"vpcCidr": "10.0.0.0/8"}, key: "vpcCidr:"},
		{name: "CIDR not parseable", overrides: map[string]string{"vpcCidr": "10.0.0/16"}, key: "vpcCidr:"},
		{name: "CIDR too small for the AZs", overrides: map[string]string{"vpcCidr": "10.0.0.0/26", "azCount": "3"}, key: "vpcCidr:"},
		{name: "idle timeout zero", overrides: map[string]string{"idleTimeout": "0"}, key: "idleTimeout:"},
		{name: "root volume below the AMI", overrides: map[string]string{"rootVolumeSize": "20"}, key: "rootVolumeSize:"},
		{name: "deletion protection not a bool", overrides: map[string]string{"deletionProtection": "maybe"}, key: "deletionProtection:"},
		{name: "missing region", overrides: map[string]string{"aws:region": ""}, key: "aws:region:"},
		{name: "reserved tag prefix", overrides: map[string]string{"tags": `{"aws:team":"x"}`}, key: "tags:"},
		{name: "defaulted key removed", overrides: map[string]string{"healthCheckPath": ""}, key: "healthCheckPath:"},
		{name: "autoscaling typo", overrides: map[string]string{"autoscaling": `{"enabled":true,"cpuTargt":50}`}, key: "autoscaling:"},
		{name: "autoscaling wrong type", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":"two"}`}, key: "autoscaling.minTasks: must be a whole number"},
		{name: "autoscaling field in the wrong case", overrides: map[string]string{"autoscaling": `{"enabled":true,"mintasks":3,"maxTasks":4}`}, key: `autoscaling: unknown field "mintasks"; did you mean "minTasks"?`},
		{name: "capacity nested typo", overrides: map[string]string{"capacity": `{"spot":{"enabled":true,"instanceType":["m6i.large"]}}`}, key: `capacity.spot: unknown field "instanceType"; the fields are enabled, instanceTypes,`},
		{name: "autoscaling max below min", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":4,"maxTasks":3}`}, key: "autoscaling.maxTasks:"},
		{name: "desired outside autoscaling bounds", overrides: map[string]string{"desiredCount": "2", "autoscaling": `{"enabled":true,"minTasks":3,"maxTasks":6}`, "maxInstances": "8"}, key: "desiredCount:"},
		{name: "cpu target out of range", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"cpuTarget":95}`}, key: "autoscaling.cpuTarget:"},
		{name: "negative requests target", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"requestsPerTarget":-1}`}, key: "autoscaling.requestsPerTarget:"},
		{name: "scale in faster than out", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"scaleOutCooldown":300,"scaleInCooldown":60}`}, key: "autoscaling.scaleOutCooldown:"},
		{name: "cron with five fields", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"scheduled":[{"name":"sale","schedule":"cron(0 6 * * ?)","timezone":"UTC","minTasks":2,"maxTasks":4}]}`}, key: "autoscaling.scheduled[sale].schedule:"},
		{name: "unknown time zone", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"scheduled":[{"name":"sale","schedule":"rate(1 day)","timezone":"Mars/Olympus","minTasks":2,"maxTasks":4}]}`}, key: "autoscaling.scheduled[sale].timezone:"},
		{name: "duplicate schedule names", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"scheduled":[{"name":"s","schedule":"rate(1 day)","timezone":"UTC","minTasks":2,"maxTasks":4},{"name":"s","schedule":"rate(2 days)","timezone":"UTC","minTasks":2,"maxTasks":4}]}`}, key: "autoscaling.scheduled[s].name:"},
		{name: "scheduled min above max", overrides: map[string]string{"autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":4,"scheduled":[{"name":"s","schedule":"rate(1 day)","timezone":"UTC","minTasks":5,"maxTasks":4}]}`}, key: "autoscaling.scheduled[s]:"},
		{name: "max tasks never fit", overrides: map[string]string{"instanceType": "t3.small", "maxInstances": "2", "autoscaling": `{"enabled":true,"minTasks":2,"maxTasks":20}`}, key: "autoscaling.maxTasks:"},
		{name: "target capacity zero", overrides: map[string]string{"capacity": `{"targetCapacity":0}`}, key: "capacity.targetCapacity:"},
		{name: "scaling steps inverted", overrides: map[string]string{"capacity": `{"minScalingStep":5,"maxScalingStep":2}`}, key: "capacity.maxScalingStep:"},
		{name: "warm pool larger than the group", overrides: map[string]string{"capacity": `{"warmPool":{"enabled":true,"minSize":9}}`}, key: "capacity.warmPool.minSize:"},
		{name: "spot with one type", overrides: map[string]string{"capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large"],"maxInstances":3}}`}, key: "capacity.spot.instanceTypes:"},
		{name: "spot of another architecture", overrides: map[string]string{"capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large","m7g.large"],"maxInstances":3}}`}, key: "capacity.spot.instanceTypes:"},
		{name: "spot type too small", overrides: map[string]string{"memory": "3000", "capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large","t3.small"],"maxInstances":3}}`}, key: "capacity.spot.instanceTypes:"},
		{name: "spot without instances", overrides: map[string]string{"capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large","m5.large"]}}`}, key: "capacity.spot.maxInstances:"},
		{name: "spot weights both zero", overrides: map[string]string{"capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large","m5.large"],"maxInstances":2,"onDemandWeight":0,"spotWeight":0}}`}, key: "capacity.spot:"},
		{name: "job name with capitals", overrides: map[string]string{"jobs": `[{"name":"Cleanup","schedule":"rate(1 day)","command":["x"]}]`}, key: "jobs[Cleanup].name:"},
		{name: "job name too long", overrides: map[string]string{"jobs": `[{"name":"` + strings.Repeat("a", 33) + `","schedule":"rate(1 day)","command":["x"]}]`}, key: "jobs[" + strings.Repeat("a", 33) + "].name:"},
		{name: "job names twice", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"]},{"name":"a","schedule":"rate(2 days)","command":["y"]}]`}, key: "jobs[a].name:"},
		{name: "job cron with five fields", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"cron(0 3 * * ?)","command":["x"]}]`}, key: "jobs[a].schedule:"},
		{name: "job rate of zero", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(0 hours)","command":["x"]}]`}, key: "jobs[a].schedule:"},
		{name: "job bad time zone", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","timezone":"CEST","command":["x"]}]`}, key: "jobs[a].timezone:"},
		{name: "job without command", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)"}]`}, key: "jobs[a].command:"},
		{name: "job timeout too long", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"],"timeout":90000}]`}, key: "jobs[a].timeout:"},
		{name: "job retries beyond the cap", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"],"retries":6}]`}, key: "jobs[a].retries:"},
		{name: "job memory beyond instance", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"],"memory":65536}]`}, key: "jobs[a].memory:"},
		{name: "job env sets the cron flag", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"],"env":{"CRON_ENABLED":"false"}}]`}, key: "jobs[a].env:"},
		{name: "job unknown field", overrides: map[string]string{"jobs": `[{"name":"a","schedule":"rate(1 day)","command":["x"],"cmd":["y"]}]`}, key: `jobs[0]: unknown field "cmd"; the fields are command,`},
		{name: "env sets the cron flag", overrides: map[string]string{"env": `{"CRON_ENABLED":"true"}`}, key: "env:"},
		{name: "cron flag not a name", overrides: map[string]string{"cronFlag": "cron-enabled"}, key: "cronFlag:"},
		{name: "worker without command", overrides: map[string]string{"worker": `{"enabled":true}`}, key: "worker.command:"},
		{name: "alerts email malformed", overrides: map[string]string{"alerts": `{"enabled":true,"emails":["oncall"]}`}, key: "alerts.emails:"},
		{name: "alerts email with display name", overrides: map[string]string{"alerts": `{"enabled":true,"emails":["On Call <oncall@example.com>"]}`}, key: "alerts.emails:"},
		{name: "alerts email twice", overrides: map[string]string{"alerts": `{"enabled":true,"emails":["a@example.com","A@example.com"]}`}, key: "alerts.emails:"},
		{name: "alerts too many emails", overrides: map[string]string{"alerts": `{"enabled":true,"emails":["a1@x.io","a2@x.io","a3@x.io","a4@x.io","a5@x.io","a6@x.io","a7@x.io","a8@x.io","a9@x.io","a10@x.io","a11@x.io"]}`}, key: "alerts.emails:"},
		{name: "alerts topic not an ARN", overrides: map[string]string{"alerts": `{"enabled":true,"topicArn":"chatbot-alerts"}`}, key: "alerts.topicArn:"},
		{name: "alerts topic is FIFO", overrides: map[string]string{"alerts": `{"enabled":true,"topicArn":"arn:aws:sns:us-east-1:123456789012:alerts.fifo"}`}, key: "alerts.topicArn:"},
		{name: "alerts unknown field", overrides: map[string]string{"alerts": `{"enabled":true,"email":"a@example.com"}`}, key: "alerts:"},
		{name: "alerts shortfall over a day", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"taskShortfallMinutes":1441}}`}, key: "alerts.thresholds.taskShortfallMinutes:"},
		{name: "alerts capacity wait zero", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"capacityWaitMinutes":0}}`}, key: "alerts.thresholds.capacityWaitMinutes:"},
		{name: "alerts stops negative", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"unexpectedStops":-1}}`}, key: "alerts.thresholds.unexpectedStops:"},
		{name: "alerts cpu above 100", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"databaseCpuPercent":101}}`}, key: "alerts.thresholds.databaseCpuPercent:"},
		{name: "alerts free storage 100", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"databaseFreeStoragePercent":100}}`}, key: "alerts.thresholds.databaseFreeStoragePercent:"},
		{name: "alerts cache memory zero", overrides: map[string]string{"alerts": `{"enabled":true,"thresholds":{"cacheMemoryPercent":0}}`}, key: "alerts.thresholds.cacheMemoryPercent:"},
		{name: "alerts connections unknown for the class", overrides: map[string]string{
			"alerts": `{"enabled":true}`, "database": `{"enabled":true,"instanceClass":"db.x2g.large"}`}, key: "alerts.thresholds.databaseConnections:"},
		{name: "repository name uppercase", overrides: map[string]string{"repository": `{"enabled":true,"name":"Api"}`}, key: "repository.name:"},
		{name: "repository name with double slash", overrides: map[string]string{"repository": `{"enabled":true,"name":"team//api"}`}, key: "repository.name:"},
		{name: "repository keeps nothing", overrides: map[string]string{"repository": `{"enabled":true,"keepImages":0}`}, key: "repository.keepImages:"},
		{name: "repository keeps too many deployed", overrides: map[string]string{"repository": `{"enabled":true,"keepDeployed":10001}`}, key: "repository.keepDeployed:"},
		{name: "repository push role is a user", overrides: map[string]string{"repository": `{"enabled":true,"pushRoleArns":["arn:aws:iam::123456789012:user/ci"]}`}, key: "repository.pushRoleArns:"},
		{name: "repository push role twice", overrides: map[string]string{"repository": `{"enabled":true,"pushRoleArns":["arn:aws:iam::123456789012:role/ci","arn:aws:iam::123456789012:role/ci"]}`}, key: "repository.pushRoleArns:"},
		{name: "database version too old", overrides: map[string]string{"database": `{"enabled":true,"engineVersion":"11"}`}, key: "database.engineVersion:"},
		{name: "database version not a version", overrides: map[string]string{"database": `{"enabled":true,"engineVersion":"latest"}`}, key: "database.engineVersion:"},
		{name: "database class malformed", overrides: map[string]string{"database": `{"enabled":true,"instanceClass":"t4g.micro"}`}, key: "database.instanceClass:"},
		{name: "database class previous generation", overrides: map[string]string{"database": `{"enabled":true,"instanceClass":"db.t2.micro"}`}, key: "database.instanceClass:"},
		{name: "database storage below minimum", overrides: map[string]string{"database": `{"enabled":true,"allocatedStorage":10}`}, key: "database.allocatedStorage:"},
		{name: "database max storage below storage", overrides: map[string]string{"database": `{"enabled":true,"allocatedStorage":100,"maxAllocatedStorage":50}`}, key: "database.maxAllocatedStorage:"},
		{name: "database backups off", overrides: map[string]string{"database": `{"enabled":true,"backupRetentionDays":0}`}, key: "database.backupRetentionDays:"},
		{name: "database backups too long", overrides: map[string]string{"database": `{"enabled":true,"backupRetentionDays":36}`}, key: "database.backupRetentionDays:"},
		{name: "database reserved user", overrides: map[string]string{"database": `{"enabled":true,"username":"rdsadmin"}`}, key: "database.username:"},
		{name: "database name with dash", overrides: map[string]string{"database": `{"enabled":true,"name":"my-app"}`}, key: "database.name:"},
		{name: "database typo", overrides: map[string]string{"database": `{"enabled":true,"multiAZ2":true}`}, key: "database:"},
		{name: "env overrides database host", overrides: map[string]string{"database": dbOn, "env": `{"DB_HOST":"localhost"}`}, key: "env:"},
		{name: "cache engine unknown", overrides: map[string]string{"cache": `{"enabled":true,"engine":"memcached"}`}, key: "cache.engine:"},
		{name: "redis too old for TLS auth", overrides: map[string]string{"cache": `{"enabled":true,"engine":"redis","engineVersion":"5.0"}`}, key: "cache.engineVersion:"},
		{name: "cache node type malformed", overrides: map[string]string{"cache": `{"enabled":true,"nodeType":"t4g.small"}`}, key: "cache.nodeType:"},
		{name: "cache failover without replica", overrides: map[string]string{"cache": `{"enabled":true,"replicas":0,"automaticFailover":true}`}, key: "cache.automaticFailover:"},
		{name: "cache too many replicas", overrides: map[string]string{"cache": `{"enabled":true,"replicas":6}`}, key: "cache.replicas:"},
		{name: "secret overrides redis password", overrides: map[string]string{"cache": cacheOn, "secrets": `{"REDIS_PASSWORD":"` + ssmSecret + `"}`}, key: "secrets:"},
		{name: "web ACL of WAF classic", overrides: map[string]string{"webAclArn": "arn:aws:waf::123456789012:webacl/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"}, key: "webAclArn:"},
		{name: "global web ACL", overrides: map[string]string{"webAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/api/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"}, key: "webAclArn:"},
		{name: "container user root", overrides: map[string]string{"containerUser": "root"}, key: "containerUser:"},
		{name: "container user uid 0", overrides: map[string]string{"containerUser": "0:0"}, key: "containerUser:"},
		{name: "container user with spaces", overrides: map[string]string{"containerUser": "app user"}, key: "containerUser:"},
		{name: "waiver of unknown control", overrides: map[string]string{"policyWaivers": `{"ELB.99":"a typo of ELB.6 that would waive nothing"}`}, key: "policyWaivers:"},
		{name: "waiver without reason", overrides: map[string]string{"policyWaivers": `{"ELB.6":"no"}`}, key: "policyWaivers:"},
		{name: "domain and certificate both", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneName":"example.com"}`, "certificateArn": testCertificate}, key: "domain:"},
		{name: "domain outside its zone", overrides: map[string]string{"domain": `{"name":"api.example.org","zoneName":"example.com"}`}, key: "domain.name:"},
		{name: "alias outside the zone", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneName":"example.com","aliases":["api.example.net"]}`}, key: "domain.aliases:"},
		{name: "domain wildcard", overrides: map[string]string{"domain": `{"name":"*.example.com","zoneName":"example.com"}`}, key: "domain.name:"},
		{name: "domain uppercase", overrides: map[string]string{"domain": `{"name":"API.example.com","zoneName":"example.com"}`}, key: "domain.name:"},
		{name: "domain without zone", overrides: map[string]string{"domain": `{"name":"api.example.com"}`}, key: "domain:"},
		{name: "domain with both zones", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneName":"example.com","zoneId":"Z0123456789ABCDEFGHIJ"}`}, key: "domain:"},
		{name: "domain zone id malformed", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneId":"example.com"}`}, key: "domain.zoneId:"},
		{name: "domain alias twice", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneName":"example.com","aliases":["api.example.com"]}`}, key: "domain.aliases:"},
		{name: "HSTS too short", overrides: map[string]string{"domain": `{"name":"api.example.com","zoneName":"example.com","hstsMaxAge":60}`}, key: "domain.hstsMaxAge:"},
		{name: "domain zone without name", overrides: map[string]string{"domain": `{"zoneName":"example.com"}`}, key: "domain.name:"},
		{name: "domain field typo", overrides: map[string]string{"domain": `{"name":"api.example.com","zone":"example.com"}`}, key: "domain:"},
		{name: "alarm period not allowed", overrides: map[string]string{"alarms": `{"enabled":true,"periodSeconds":45}`}, key: "alarms.periodSeconds:"},
		{name: "alarm 5xx rate zero", overrides: map[string]string{"alarms": `{"enabled":true,"target5xxPercent":0}`}, key: "alarms.target5xxPercent:"},
		{name: "alarm evaluation too long", overrides: map[string]string{"alarms": `{"enabled":true,"periodSeconds":3600,"evaluationPeriods":48}`}, key: "alarms.evaluationPeriods:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := tc.stack
			if stack == "" {
				stack = "dev"
			}
			cfg, m, err := loadConfig(t, stack, tc.overrides)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			if !strings.Contains(err.Error(), "\n"+tc.key) {
				t.Errorf("error does not name %s:\n%v", strings.TrimSuffix(tc.key, ":"), err)
			}
			if !strings.Contains(err.Error(), `stack "`+stack+`"`) {
				t.Errorf("error does not name the stack: %v", err)
			}
			if n := len(m.Resources()); n != 0 {
				t.Errorf("%d resources registered for an invalid config", n)
			}
		})
	}
}

func TestScheduleExpressions(t *testing.T) {
	for expr, ok := range map[string]bool{
		"cron(0 6 * * ? *)":           true,
		"cron(0 0 22 11 ? *)":         true,
		"cron(15 10 ? * MON-FRI *)":   true,
		"cron(0 18 ? * 6L 2026-2030)": true,
		"rate(5 minutes)":             true,
		"rate(1 hour)":                true,
		"at(2026-11-27T06:00:00)":     true,
		"cron(0 6 * * *)":             false,
		"cron(0 6 * * * *)":           false,
		"cron(0 6 1 * MON *)":         false,
		"cron(0 6 $ * ? *)":           false,
		"rate(0 minutes)":             false,
		"rate(1 hours)":               false,
		"rate(2 hour)":                false,
		"rate(5 weeks)":               false,
		"at(2026-11-27 06:00)":        false,
		"0 6 * * ? *":                 false,
		"":                            false,
	} {
		if err := config.ValidateSchedule(expr); (err == nil) != ok {
			t.Errorf("%q: error %v, want valid=%v", expr, err, ok)
		}
	}
}

func TestConfigReportsEveryProblemAtOnce(t *testing.T) {
	_, _, err := loadConfig(t, "dev", map[string]string{
		"image": "", "azCount": "9", "containerPort": "0", "healthCheckPath": "x", "logRetentionDays": "2",
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, key := range []string{"image:", "azCount:", "containerPort:", "healthCheckPath:", "logRetentionDays:"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error misses %s:\n%v", key, err)
		}
	}
}

func TestConfigAcceptsGoodInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stack     string
		overrides map[string]string
	}{
		{name: "defaults", overrides: nil},
		{name: "latest outside prod", overrides: map[string]string{"image": "ghcr.io/acme/api:latest"}},
		{name: "digest in prod", stack: "prod", overrides: map[string]string{
			"image": "ghcr.io/acme/api@sha256:" + strings.Repeat("ab", 32)}},
		{name: "registry with port and tag", overrides: map[string]string{"image": "registry.local:5000/team/api:2.0.1"}},
		{name: "https", overrides: map[string]string{"certificateArn": testCertificate}},
		{name: "secrets of both kinds", overrides: map[string]string{"secrets": `{"A":"` + ssmSecret + `","B":"` + managedSecret + `","C":"` + partialSecret + `"}`}},
		{name: "numbers in env", overrides: map[string]string{"env": `{"WORKERS":4,"DEBUG":false}`}},
		{name: "graviton", overrides: map[string]string{"instanceType": "c7g.xlarge"}},
		{name: "database and cache", overrides: map[string]string{"database": dbOn, "cache": cacheOn}},
		{name: "redis 7 without failover", overrides: map[string]string{"cache": `{"enabled":true,"engine":"redis","engineVersion":"7.1","replicas":0,"automaticFailover":false}`}},
		{name: "non-root user", overrides: map[string]string{"containerUser": "1000:1000"}},
		{name: "a reasoned waiver", overrides: map[string]string{"policyWaivers": `{"ELB.1":"no domain yet, HTTPS comes with it"}`}},
		{name: "six AZs in a /23", overrides: map[string]string{"azCount": "6", "vpcCidr": "10.0.0.0/23"}},
		{name: "two AZs in a /25", overrides: map[string]string{"azCount": "2", "vpcCidr": "10.0.0.0/25"}},
		{name: "web ACL of the stack's region", overrides: map[string]string{"webAclArn": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/api/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stack := tc.stack
			if stack == "" {
				stack = "dev"
			}
			if _, _, err := loadConfig(t, stack, tc.overrides); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func TestConfigDerivesDesiredInstancesAndTags(t *testing.T) {
	cfg, _, err := loadConfig(t, "dev", map[string]string{"minInstances": "3", "maxInstances": "5", "tags": `{"team":"payments","project":"spoofed"}`})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cluster.DesiredInstances != 3 {
		t.Errorf("desired instances %d, want minInstances (3) when unset", cfg.Cluster.DesiredInstances)
	}
	tags := cfg.AllTags()
	want := map[string]string{"team": "payments", "project": "ecs-api", "stack": "dev", "managed-by": "pulumi"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if len(tags) != len(want) {
		t.Errorf("tags %v, want %v", tags, want)
	}
}

func TestInstanceTypeShapes(t *testing.T) {
	for _, tc := range []struct {
		instanceType string
		vcpus, mib   int
		arm          bool
	}{
		{"t3.small", 2, 2048, false},
		{"t3.medium", 2, 4096, false},
		{"t4g.micro", 2, 1024, true},
		{"t3a.2xlarge", 8, 32768, false},
		{"m6i.large", 2, 8192, false},
		{"m7g.medium", 1, 4096, true},
		{"c6gn.2xlarge", 8, 16384, true},
		{"r6i.4xlarge", 16, 131072, false},
		{"m5dn.xlarge", 4, 16384, false},
		{"m7i-flex.large", 2, 8192, false},
	} {
		shape, err := config.ParseInstanceType(tc.instanceType)
		if err != nil {
			t.Errorf("%s: %v", tc.instanceType, err)
			continue
		}
		if shape.VCPUs != tc.vcpus || shape.MemoryMiB != tc.mib || shape.Arm64 != tc.arm {
			t.Errorf("%s: got %+v, want %d vCPU %d MiB arm64=%v", tc.instanceType, shape, tc.vcpus, tc.mib, tc.arm)
		}
		if shape.TaskMemoryMiB() >= shape.MemoryMiB || shape.TaskMemoryMiB() <= 0 {
			t.Errorf("%s: task memory %d of %d", tc.instanceType, shape.TaskMemoryMiB(), shape.MemoryMiB)
		}
	}
}

// TestPeakRolloutRoom: at the highest task count the service can reach, a rollout (minimum
// healthy 100 %) must still place a tenth of that peak in new tasks, besides the worker and a run of
// each job, or the hotfix waits in PROVISIONING until the circuit breaker rolls it back. On an
// m6i.large, 4 tasks of 512 CPU units / 1024 MiB fit (2048 units; 8192 MiB x 0.9 - 256 = 7116 MiB).
func TestPeakRolloutRoom(t *testing.T) {
	sized := map[string]string{"instanceType": "m6i.large", "cpu": "512", "memory": "1024", "desiredCount": "3", "minInstances": "3"}
	sale := `{"enabled":true,"minTasks":3,"maxTasks":24,"scheduled":[{"name":"sale","schedule":"cron(0 0 22 11 ? *)","timezone":"UTC","minTasks":12,"maxTasks":36}]}`
	worker := `{"enabled":true,"command":["node","worker.js"]}`
	for _, tc := range []struct {
		name      string
		overrides map[string]string
		key       string // "" when valid
	}{
		{name: "36 tasks on 9 instances that hold exactly 36", overrides: map[string]string{"maxInstances": "9", "autoscaling": sale}, key: "autoscaling.scheduled[sale].maxTasks:"},
		{name: "room for 4 more at the peak", overrides: map[string]string{"maxInstances": "10", "autoscaling": sale}},
		{name: "a worker takes the last slot", overrides: map[string]string{"maxInstances": "10", "autoscaling": sale, "worker": worker}, key: "autoscaling.scheduled[sale].maxTasks:"},
		{name: "a job twice the size takes two", overrides: map[string]string{"maxInstances": "10", "autoscaling": sale,
			"jobs": `[{"name":"big","schedule":"rate(1 day)","command":["x"],"memory":2048}]`}, key: "autoscaling.scheduled[sale].maxTasks:"},
		{name: "spot instances add room", overrides: map[string]string{"maxInstances": "9", "autoscaling": sale,
			"capacity": `{"spot":{"enabled":true,"instanceTypes":["m6i.large","m5.large"],"maxInstances":1}}`}},
		{name: "autoscaling maximum is the peak", overrides: map[string]string{"maxInstances": "6", "autoscaling": `{"enabled":true,"minTasks":3,"maxTasks":24}`}, key: "autoscaling.maxTasks:"},
		{name: "without autoscaling desiredCount is the peak", overrides: map[string]string{"maxInstances": "3", "desiredCount": "11"}, key: "desiredCount:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			overrides := map[string]string{}
			for k, v := range sized {
				overrides[k] = v
			}
			for k, v := range tc.overrides {
				overrides[k] = v
			}
			_, _, err := loadConfig(t, "test", overrides)
			switch {
			case tc.key == "" && err != nil:
				t.Errorf("valid config refused: %v", err)
			case tc.key != "" && (err == nil || !strings.Contains(err.Error(), tc.key)):
				t.Errorf("error %v, want one naming %s", err, tc.key)
			}
		})
	}
}

// TestDatabaseConnectionsThreshold: RDS for PostgreSQL's default max_connections is
// LEAST({DBInstanceClassMemory/9531392}, 5000) ("Quotas and constraints for Amazon RDS", RDS User
// Guide); the alarm fires at 80 % of it, or at the configured number.
func TestDatabaseConnectionsThreshold(t *testing.T) {
	for _, tc := range []struct {
		class      string
		configured int
		want       int
	}{
		{class: "db.t4g.micro", want: 101 * 8 / 10},     // 1 GiB: 966367641 / 9531392 = 101
		{class: "db.t4g.small", want: 202 * 8 / 10},     // 2 GiB
		{class: "db.m7g.large", want: 811 * 8 / 10},     // 8 GiB
		{class: "db.r6g.16xlarge", want: 5000 * 8 / 10}, // 512 GiB: capped at 5000
		{class: "db.m7g.large", configured: 300, want: 300},
	} {
		c := &config.Config{Database: config.DatabaseConfig{Enabled: true, InstanceClass: tc.class}}
		c.Alerts.Thresholds.DatabaseConnections = tc.configured
		if got := c.DatabaseConnectionsThreshold(); got != tc.want {
			t.Errorf("%s (configured %d): threshold %d, want %d", tc.class, tc.configured, got, tc.want)
		}
	}
	if _, ok := config.DatabaseMaxConnections("db.x2g.large"); ok {
		t.Error("a class whose memory the program does not know got an estimate")
	}
}

// TestLoadBalancerSubnetsAreAtLeastSlash27 (review A11): "To ensure that your load balancer can
// scale properly, verify that each subnet for your load balancer has a CIDR block with at least a
// /27 bitmask (for example, 10.0.0.0/27) and has at least 8 free IP addresses" ("Subnets for your
// load balancer", ALB User Guide). awsx's Auto strategy halves each AZ's power-of-two slice into a
// public and a private subnet (pulumi-awsx subnetDistributorNew.ts), so a /26 in two AZs gives /28
// public subnets, which AWS itself would accept.
func TestLoadBalancerSubnetsAreAtLeastSlash27(t *testing.T) {
	for _, tc := range []struct {
		cidr, azs string
		public    string // "" when the layout is accepted
	}{
		{cidr: "10.0.0.0/26", azs: "2", public: "/28"},
		{cidr: "10.0.0.0/24", azs: "5", public: "/28"},
		{cidr: "10.0.0.0/24", azs: "6", public: "/28"},
		{cidr: "10.0.0.0/25", azs: "3", public: "/28"},
		{cidr: "10.0.0.0/25", azs: "2"},
		{cidr: "10.0.0.0/24", azs: "4"},
		{cidr: "10.0.0.0/23", azs: "6"},
	} {
		t.Run(tc.cidr+" in "+tc.azs+" AZs", func(t *testing.T) {
			_, m, err := loadConfig(t, "prod", map[string]string{"vpcCidr": tc.cidr, "azCount": tc.azs})
			if tc.public == "" {
				if err != nil {
					t.Errorf("public subnets of /27 or larger refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted public subnets of %s", tc.public)
			}
			msg := err.Error()
			for _, want := range []string{"\nvpcCidr: ", `stack "prod"`, "public subnets would be " + tc.public, "/27"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if n := len(m.Resources()); n != 0 {
				t.Errorf("%d resources registered before the refusal", n)
			}
		})
	}
}

// TestCertificateAndWebACLAreInTheStacksRegion (review A12): "Certificates in ACM are regional
// resources. To use a certificate with Elastic Load Balancing ... in more than one AWS region, you
// must request or import a certificate for each region" (ACM User Guide, Supported Regions); "The
// web ACL and any AWS WAF resources that it uses must be located in the Region where the associated
// resource is located" (AWS WAF Developer Guide, Resources that you can protect). Either mistake
// passes the ARN's format and fails only at CreateListener or AssociateWebACL, after the load
// balancer exists; the stack's region here is us-east-1.
func TestCertificateAndWebACLAreInTheStacksRegion(t *testing.T) {
	const (
		id  = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
		acl = "regional/webacl/api/" + id
	)
	for _, tc := range []struct {
		name, key, arn, want string
	}{
		{name: "certificate in another region", key: "certificateArn", arn: "arn:aws:acm:eu-west-1:123456789012:certificate/" + id, want: "in region eu-west-1, but stack dev deploys to us-east-1"},
		{name: "web ACL in another region", key: "webAclArn", arn: "arn:aws:wafv2:eu-west-1:123456789012:" + acl, want: "in region eu-west-1, but stack dev deploys to us-east-1"},
		{name: "certificate of another partition", key: "certificateArn", arn: "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/" + id, want: "partition aws-us-gov"},
		{name: "web ACL of another partition", key: "webAclArn", arn: "arn:aws-cn:wafv2:us-east-1:123456789012:" + acl, want: "partition aws-cn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, err := loadConfig(t, "dev", map[string]string{tc.key: tc.arn})
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, "\n"+tc.key+": ") || !strings.Contains(msg, tc.want) || !strings.Contains(msg, `stack "dev"`) {
				t.Errorf("error does not name %s, the stack and %q:\n%v", tc.key, tc.want, err)
			}
			if n := len(m.Resources()); n != 0 {
				t.Errorf("%d resources registered before the refusal", n)
			}
		})
	}
}

// TestObjectKeysReportEveryProblemAtOnce: a stack's object values report each unknown or
// wrong-cased field and each wrong-typed value, with its path, in one error, rather than the
// decoder's first one; encoding/json alone would read "maxtasks" as maxTasks without a word.
func TestObjectKeysReportEveryProblemAtOnce(t *testing.T) {
	_, _, err := loadConfig(t, "dev", map[string]string{
		"autoscaling": `{"enabled":true,"minTasks":"two","maxtasks":4,"cpuTraget":60,"scheduled":[{"name":"a","schedule":"rate(1 day)","minTasks":1,"maxTasks":"x"}]}`,
		"alerts":      `{"enabled":true,"emails":"oncall@example.com","thresholds":{"cacheEvictions":true}}`,
	})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"\nautoscaling.minTasks: must be a whole number (got \"two\")",
		"\nautoscaling: unknown field \"maxtasks\"; did you mean \"maxTasks\"?",
		"\nautoscaling: unknown field \"cpuTraget\"; the fields are ",
		"\nautoscaling.scheduled[0].maxTasks: must be a whole number (got \"x\")",
		"\nalerts.emails: must be a list of strings (got \"oncall@example.com\")",
		"\nalerts.thresholds.cacheEvictions: must be a whole number (got true)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
