package infra

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	awsec2 "github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// NatInstanceTag marks a NAT instance group's instances, volumes, network interfaces, launch
// template, group and Elastic IP, with a value that names the stack and the group: the role policy
// lets an instance act only on what carries its own, and the policy suite knows these instances sit
// in public subnets on purpose.
const NatInstanceTag = "nat-instance"

// Amazon Linux 2023's public SSM parameters: NAT instances run plain AL2023 (AWS's NAT AMI is AL1).
const (
	al2023ParameterX86   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
	al2023ParameterArm64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
)

// natInstanceArgs: the network's VPC, public subnets (in AZ order) and private route tables.
type natInstanceArgs struct {
	Config               config.NetworkConfig
	VpcID                pulumi.StringInput
	PublicSubnetIDs      pulumi.StringArrayOutput
	PrivateRouteTableIDs pulumi.StringArray
	Region, Partition    string
}

// newNatInstances runs the private subnets' way out on NAT instances instead of NAT gateways, as
// AWS's "NAT instances" guide sets one up, each in an Auto Scaling group of one that replaces it
// when it fails: AL2023 forwarding with iptables masquerading, source/destination check off, the
// group's Elastic IP, and a 0.0.0.0/0 route to itself in the route tables it serves, which the
// instance keeps every minute from boot (so a replacement takes the routes, then the address). No
// key pair and no inbound but the VPC: shell access is Session Manager's. It returns the groups,
// which the ECS instances wait for.
func newNatInstances(ctx *pulumi.Context, name string, args *natInstanceArgs, parent pulumi.ResourceOrInvokeOption) ([]pulumi.Resource, error) {
	cfg := args.Config
	shape, err := config.ParseInstanceType(cfg.Settings.NatInstanceType)
	if err != nil {
		return nil, fmt.Errorf("nat instance type: %w", err)
	}
	parameter := al2023ParameterX86
	if shape.Arm64 {
		parameter = al2023ParameterArm64
	}
	ami, err := ssm.LookupParameter(ctx, &ssm.LookupParameterArgs{Name: parameter}, parent)
	if err != nil {
		return nil, fmt.Errorf("nat instance AMI from %s: %w", parameter, err)
	}
	caller, err := aws.GetCallerIdentity(ctx, nil, parent)
	if err != nil {
		return nil, fmt.Errorf("nat instance: account: %w", err)
	}

	sg, err := awsec2.NewSecurityGroup(ctx, name+"-nat-sg", &awsec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("NAT instances: all traffic from the VPC out to the internet; nothing in from it"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("nat security group: %w", err)
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, name+"-nat-from-vpc", &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: sg.ID(),
		Description:     pulumi.String("Traffic of the private subnets on its way out"),
		CidrIpv4:        pulumi.String(cfg.CIDR),
		IpProtocol:      pulumi.String("-1"),
	}, parent); err != nil {
		return nil, fmt.Errorf("nat ingress rule: %w", err)
	}
	if _, err := vpc.NewSecurityGroupEgressRule(ctx, name+"-nat-to-internet", &vpc.SecurityGroupEgressRuleArgs{
		SecurityGroupId: sg.ID(),
		Description:     pulumi.String("The private subnets' traffic, forwarded to the internet"),
		CidrIpv4:        pulumi.String("0.0.0.0/0"),
		IpProtocol:      pulumi.String("-1"),
	}, parent); err != nil {
		return nil, fmt.Errorf("nat egress rule: %w", err)
	}

	count, perAZ := 1, cfg.Settings.NatInstancePerAz
	if perAZ {
		count = cfg.AZCount
	}
	var groups []pulumi.Resource
	for i := 0; i < count; i++ {
		// One instance serves every private route table, or one per AZ serves its AZ's table.
		tables := args.PrivateRouteTableIDs
		if perAZ {
			tables = pulumi.StringArray{args.PrivateRouteTableIDs[i]}
		}
		group, err := natInstance(ctx, fmt.Sprintf("%s-nat-%d", name, i+1), &natInstanceSpec{
			args: args, ami: ami.Value, account: caller.AccountId, securityGroup: sg.ID(),
			subnet: args.PublicSubnetIDs.Index(pulumi.Int(i)), routeTables: tables.ToStringArrayOutput(),
		}, parent)
		if err != nil {
			return nil, err
		}
		groups = append(groups, group)
	}
	return groups, nil
}

type natInstanceSpec struct {
	args          *natInstanceArgs
	ami, account  string
	securityGroup pulumi.IDOutput
	subnet        pulumi.StringInput
	routeTables   pulumi.StringArrayOutput
}

// natInstanceTagValue is the nat-instance tag of one NAT instance group: its role may touch only
// what carries it, so it names the stack, and one stack's NAT role cannot touch another stack's NAT
// in the same account and region (review 2026-12-A, A10). Project and stack names cannot hold "/".
func natInstanceTagValue(project, stack, name string) string {
	return project + "/" + stack + "/" + name
}

// NatInstanceWarmupSeconds is how long a new NAT instance runs beside the one it replaces (an AMI
// release, a failed health check): longer than the route keeper's natUnhealthyAfter failed runs a
// minute apart after boot, so a new instance that cannot route reports itself unhealthy and is
// replaced before the old one may go.
const NatInstanceWarmupSeconds = 420

// natUnhealthyAfter failed keeper runs in a row report a NAT instance unhealthy.
const natUnhealthyAfter = 5

// natInstance is one NAT instance: its role, its Elastic IP, launch template and group of one.
func natInstance(ctx *pulumi.Context, name string, spec *natInstanceSpec, parent pulumi.ResourceOrInvokeOption) (*autoscaling.Group, error) {
	args := spec.args
	tag := natInstanceTagValue(ctx.Project(), ctx.Stack(), name)
	role, err := newServiceRole(ctx, name+"-role", ec2Instances, pulumi.String("NAT instance: turn off its source/destination check, hold its Elastic IP, route the private subnets through itself, Session Manager"), parent)
	if err != nil {
		return nil, fmt.Errorf("%s role: %w", name, err)
	}
	ssmCore, err := iam.NewRolePolicyAttachment(ctx, name+"-ssm", &iam.RolePolicyAttachmentArgs{
		Role:      role.Name,
		PolicyArn: pulumi.String(managedPolicyArn(args.Partition, "AmazonSSMManagedInstanceCore")),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s session manager policy: %w", name, err)
	}
	// The egress address: one Elastic IP per group, which the instance holding the routes associates
	// with itself, so an allow-list of it survives every replacement. It replaces the address the
	// instance launched with (AWS releases that one), so it costs what that one did.
	eip, err := awsec2.NewEip(ctx, name+"-eip", &awsec2.EipArgs{
		Domain: pulumi.String("vpc"),
		Tags:   pulumi.StringMap{NatInstanceTag: pulumi.String(tag), "Name": pulumi.String(name)},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s elastic ip: %w", name, err)
	}
	routing, err := iam.NewRolePolicy(ctx, name+"-routing", &iam.RolePolicyArgs{
		Role: role.Name,
		// An Elastic IP's id is its allocation id (`pulumi import aws:ec2/eip:Eip x eipalloc-...`).
		Policy: pulumi.All(spec.routeTables, eip.ID()).ApplyT(func(v []any) string {
			return PolicyDocument{Statement: NatInstanceStatements(NatInstanceScope{
				Partition: args.Partition, Region: args.Region, Account: spec.account,
				Tag: tag, AllocationID: string(v[1].(pulumi.ID)), RouteTables: v[0].([]string),
			})}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s routing policy: %w", name, err)
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-profile", &iam.InstanceProfileArgs{Role: role.Name}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s instance profile: %w", name, err)
	}

	tags := pulumi.StringMap{NatInstanceTag: pulumi.String(tag)}
	lt, err := awsec2.NewLaunchTemplate(ctx, name+"-lt", &awsec2.LaunchTemplateArgs{
		Description:  pulumi.String("NAT instance of the private subnets"),
		ImageId:      pulumi.String(spec.ami),
		InstanceType: pulumi.String(args.Config.Settings.NatInstanceType),
		IamInstanceProfile: &awsec2.LaunchTemplateIamInstanceProfileArgs{
			Arn: profile.Arn,
		},
		UserData: spec.routeTables.ApplyT(func(tables []string) string {
			return base64.StdEncoding.EncodeToString([]byte(NatUserData(tables)))
		}).(pulumi.StringOutput),
		MetadataOptions: imdsV2Only(),
		// AL2023's own root volume size: the AMI refuses a smaller one.
		BlockDeviceMappings: encryptedRootVolume(NatRootVolumeGiB),
		NetworkInterfaces: awsec2.LaunchTemplateNetworkInterfaceArray{&awsec2.LaunchTemplateNetworkInterfaceArgs{
			DeviceIndex: pulumi.Int(0),
			// A NAT instance is the one instance with a public address: it is the private subnets'
			// way out (Security Hub AutoScaling.5 knows it by its tag). It needs it at boot, to reach
			// the EC2 API before it holds its Elastic IP.
			AssociatePublicIpAddress: pulumi.String("true"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{spec.securityGroup},
		}},
		// The interface carries the tag too: associating the Elastic IP is authorized on it.
		TagSpecifications: awsec2.LaunchTemplateTagSpecificationArray{
			&awsec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: tags},
			&awsec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: tags},
			&awsec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("network-interface"), Tags: tags},
		},
		Tags:                 tags,
		UpdateDefaultVersion: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s launch template: %w", name, err)
	}
	// Launch before terminate, for a new template version (a new AMI, other route tables) and for a
	// failed health check alike: the new instance boots beside the old one and takes the routes, then
	// the Elastic IP, when its keeper first runs; the old one leaves them to the newer instance, and
	// goes once the new one has run for NatInstanceWarmupSeconds. The AMI is still read on every
	// deploy, so each AL2023 release reaches the NAT (security fixes) without an outage.
	minHealthy, maxHealthy := pulumi.Int(100), pulumi.Int(200)
	group, err := autoscaling.NewGroup(ctx, name, &autoscaling.GroupArgs{
		VpcZoneIdentifiers: pulumi.StringArray{spec.subnet},
		MinSize:            pulumi.Int(1),
		// Room for the replacement beside the old instance: AWS documents the healthy percentages
		// against the desired capacity (one) and says nothing of the maximum, so a maximum of one
		// could stall launch-before-terminate. Nothing scales this group: desired stays one.
		MaxSize:         pulumi.Int(2),
		DesiredCapacity: pulumi.Int(1),
		LaunchTemplate: &autoscaling.GroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
		},
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(120),
		DefaultInstanceWarmup:  pulumi.Int(NatInstanceWarmupSeconds),
		InstanceMaintenancePolicy: &autoscaling.GroupInstanceMaintenancePolicyArgs{
			MinHealthyPercentage: minHealthy,
			MaxHealthyPercentage: maxHealthy,
		},
		// The refresh names both percentages: the provider sends its own defaults (90, 100) for any
		// it is not given (hashicorp/terraform-provider-aws#39872), not the maintenance policy's.
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: minHealthy,
				MaxHealthyPercentage: maxHealthy,
			},
		},
		Tags: autoscaling.GroupTagArray{
			&autoscaling.GroupTagArgs{Key: pulumi.String(NatInstanceTag), Value: pulumi.String(tag), PropagateAtLaunch: pulumi.Bool(true)},
			&autoscaling.GroupTagArgs{Key: pulumi.String("Name"), Value: pulumi.String(name), PropagateAtLaunch: pulumi.Bool(true)},
		},
	}, parent, pulumi.DependsOn([]pulumi.Resource{ssmCore, routing}))
	if err != nil {
		return nil, fmt.Errorf("%s group: %w", name, err)
	}
	return group, nil
}

// NatRootVolumeGiB is AL2023's root volume size.
const NatRootVolumeGiB = 8

// NatInstanceScope is what one NAT instance group's role may touch.
type NatInstanceScope struct {
	Partition, Region, Account string
	// Tag is the group's nat-instance tag value, which names the stack: its instances, their
	// interfaces, its group and its Elastic IP carry it.
	Tag string
	// AllocationID is the group's Elastic IP.
	AllocationID string
	// RouteTables are the route tables the group serves.
	RouteTables []string
}

// NatInstanceStatements let a NAT instance turn off the source/destination check of an instance of
// its own group (that attribute only, and only off), hold its group's Elastic IP, put the default
// route of exactly its route tables through itself, and report an instance of its own group
// unhealthy. Everything it changes is named by ARN or by the group's tag, which names the stack.
func NatInstanceStatements(s NatInstanceScope) []PolicyStatement {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", s.Partition, service, s.Region, s.Account, resource)
	}
	var tables []string
	for _, rt := range s.RouteTables {
		tables = append(tables, arn("ec2", "route-table/"+rt))
	}
	ownGroup := map[string]string{"aws:ResourceTag/" + NatInstanceTag: s.Tag}
	return []PolicyStatement{
		// "ec2:Attribute/${AttributeName}" filters by the value being set, for attributes that are a
		// primitive or an object with only a Value ("Condition keys for Amazon EC2", EC2 User Guide);
		// the CLI's --no-source-dest-check sends SourceDestCheck.Value=false. The key is under
		// StringEqualsIfExists: it is reported absent from the request context of some
		// Modify*Attribute calls, and StringEquals on an absent key denies, which would deny every new
		// NAT its own check and have it replaced in a loop (review R2). If absent, the tag alone holds
		// the statement to the group's own instances; if present, it still allows "false" only.
		{
			Sid: "TurnOffItsOwnSourceDestCheck", Effect: "Allow", Action: []string{"ec2:ModifyInstanceAttribute"},
			Resource: []string{arn("ec2", "instance/*")},
			Condition: map[string]map[string]string{
				"StringEquals":         ownGroup,
				"StringEqualsIfExists": {"ec2:Attribute/SourceDestCheck": "false"},
			},
		},
		// AssociateAddress is authorized on the address, the instance and its network interface
		// ("Actions, resources, and condition keys for Amazon EC2").
		{Sid: "HoldItsElasticIp", Effect: "Allow", Action: []string{"ec2:AssociateAddress"}, Resource: []string{arn("ec2", "elastic-ip/"+s.AllocationID)}},
		{
			Sid: "OnItself", Effect: "Allow", Action: []string{"ec2:AssociateAddress"},
			Resource:  []string{arn("ec2", "instance/*"), arn("ec2", "network-interface/*")},
			Condition: map[string]map[string]string{"StringEquals": ownGroup},
		},
		{Sid: "RouteThroughItself", Effect: "Allow", Action: []string{"ec2:CreateRoute", "ec2:ReplaceRoute"}, Resource: tables},
		// SetInstanceHealth is authorized on the instance's group (autoScalingGroup, with the
		// aws:ResourceTag key): the group is auto-named, so its tag scopes it.
		{
			Sid: "ReportItselfUnhealthy", Effect: "Allow", Action: []string{"autoscaling:SetInstanceHealth"},
			Resource:  []string{arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*")},
			Condition: map[string]map[string]string{"StringEquals": ownGroup},
		},
		// Describe calls take no resource ARN ("Actions, resources, and condition keys for Amazon EC2").
		{
			Sid: "SeeRoutesInstancesAndAddresses", Effect: "Allow",
			Action:   []string{"ec2:DescribeRouteTables", "ec2:DescribeInstances", "ec2:DescribeAddresses"},
			Resource: []string{"*"},
		},
	}
}

// NatUserData installs the NAT instance's route keeper and its timer, and starts the timer before
// anything that can fail: the keeper sets the host up as AWS's "NAT instances" guide does
// (forwarding on, masquerading out of the primary interface, FORWARD chain flushed, saved across
// reboots), turns the source/destination check off, keeps the route tables' 0.0.0.0/0 on this
// instance and then holds the group's Elastic IP. The timer runs it a minute after each run, so whatever
// fails (a first run before the role's policy has propagated, throttling, a package mirror) is
// retried, and a route taken away (a deploy deleting a NAT gateway's route) comes back.
func NatUserData(routeTables []string) string {
	return strings.NewReplacer(
		"__ROUTE_TABLES__", strings.Join(routeTables, " "),
		"__TAG_KEY__", NatInstanceTag,
		"__UNHEALTHY_AFTER__", strconv.Itoa(natUnhealthyAfter),
	).Replace(natUserData)
}

const natUserData = `#!/bin/bash
set -euo pipefail

cat > /usr/local/sbin/nat-routes <<'SCRIPT'
#!/bin/bash
# Keeps this instance the NAT of its route tables; nat-routes.timer runs it a minute after each run.
# Every step checks before it changes, so a run that failed half-way is finished by the next.
# The routes and the Elastic IP go to the newest running NAT instance that wants them: a replacement
# takes over when it boots, and the instance it replaces never takes them back. Failed runs in a row
# report this instance unhealthy to its Auto Scaling group, which replaces it.
set -euo pipefail
shopt -s inherit_errexit

# No call may hang the run: a oneshot run that never ends keeps nat-routes.service activating, and
# the timer never starts another (systemd#28698). TimeoutStartSec= ends a stuck run; these bound each
# call well inside it: the CLI's own retries, its connect and read timeouts, curl's --max-time.
export AWS_MAX_ATTEMPTS=3 AWS_RETRY_MODE=standard
aws() { command aws "$@" --cli-connect-timeout 5 --cli-read-timeout 15; }
# systemd stops a run that overstays with SIGTERM: it counts as a failed run.
trap 'exit 143' TERM

FAILURES="${RUNTIME_DIRECTORY:-/run/nat-routes}/failures"
INSTANCE_ID=""
finish() {
  if [ "$1" -eq 0 ]; then
    rm -f "$FAILURES"
    return
  fi
  local count
  count=$(($(cat "$FAILURES" 2>/dev/null || echo 0) + 1))
  mkdir -p "$(dirname "$FAILURES")"
  echo "$count" > "$FAILURES"
  echo "nat-routes: $count failed run(s) in a row" >&2
  if [ "$count" -ge __UNHEALTHY_AFTER__ ] && [ -n "$INSTANCE_ID" ]; then
    aws autoscaling set-instance-health --instance-id "$INSTANCE_ID" --health-status Unhealthy ||
      echo "nat-routes: could not report this instance unhealthy" >&2
  fi
}
trap 'finish $?' EXIT

# The host, as the VPC User Guide's "NAT instances" sets up AL2023. The rules are saved before
# iptables.service first starts, so it never loads the package's default REJECT rules.
if ! rpm -q iptables-services >/dev/null 2>&1; then
  dnf install -y iptables-services
fi
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat-instance.conf
sysctl -q -p /etc/sysctl.d/90-nat-instance.conf
IFACE=$(ip -o -4 route show to default | awk '{print $5; exit}')
if [ -z "$IFACE" ]; then
  echo "nat-routes: no default route yet" >&2
  exit 1
fi
if ! iptables -t nat -C POSTROUTING -o "$IFACE" -j MASQUERADE 2>/dev/null; then
  iptables -t nat -A POSTROUTING -o "$IFACE" -j MASQUERADE
  iptables -F FORWARD
fi
if ! grep -qxF -- "-A POSTROUTING -o $IFACE -j MASQUERADE" /etc/sysconfig/iptables 2>/dev/null; then
  iptables-save > /etc/sysconfig/iptables
fi
systemctl enable --now iptables

IMDS_SESSION=$(curl -sSf --connect-timeout 2 --max-time 5 -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
md() { curl -sSf --connect-timeout 2 --max-time 5 -H "X-aws-ec2-metadata-token: $IMDS_SESSION" "http://169.254.169.254/latest/meta-data/$1"; }
INSTANCE_ID=$(md instance-id)
AWS_DEFAULT_REGION=$(md placement/region)
export AWS_DEFAULT_REGION

# launched prints "<launch time> <id>" of a pending or running instance, and nothing for any other
# (None: no instance; a stopped or terminated one). Launch times sort as text, the id breaks ties.
launched() {
  if [ "$1" = None ]; then
    return
  fi
  aws ec2 describe-instances --filters "Name=instance-id,Values=$1" "Name=instance-state-name,Values=pending,running" \
    --query 'Reservations[].Instances[].[LaunchTime, InstanceId]' --output text | tr '\t' ' '
}

SELF=$(aws ec2 describe-instances --instance-ids "$INSTANCE_ID" \
  --query "Reservations[0].Instances[0].[LaunchTime, SourceDestCheck, Tags[?Key=='__TAG_KEY__'].Value | [0]]" --output text)
read -r LAUNCHED CHECKING GROUP <<<"$SELF"
ME="$LAUNCHED $INSTANCE_ID"
if [ "$CHECKING" != False ]; then
  if ! OUT=$(aws ec2 modify-instance-attribute --instance-id "$INSTANCE_ID" --no-source-dest-check 2>&1); then
    case "$OUT" in
    *UnauthorizedOperation*)
      echo "nat-routes: UnauthorizedOperation turning off the source/destination check: the role's TurnOffItsOwnSourceDestCheck statement does not match the request (its nat-instance tag or ec2:Attribute/SourceDestCheck condition)" >&2 ;;
    esac
    echo "$OUT" >&2
    exit 1
  fi
fi

# The routes first, then the group's Elastic IP: while the routes still lead to the instance this
# one replaces, that instance keeps the address they go out through. Taken the other way round, the
# private subnets would route through an instance that has just lost its public address. Each step
# stops the run when it fails, so the address never moves ahead of the routes.
for RT in __ROUTE_TABLES__; do
  TARGET=$(aws ec2 describe-route-tables --route-table-ids "$RT" \
    --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].InstanceId | [0]" --output text)
  if [ "$TARGET" = "$INSTANCE_ID" ]; then
    continue
  fi
  HOLDER=$(launched "$TARGET")
  if [[ "$HOLDER" > "$ME" ]]; then
    continue
  fi
  echo "nat-routes: routing $RT through $INSTANCE_ID instead of $TARGET"
  aws ec2 replace-route --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --instance-id "$INSTANCE_ID" ||
    aws ec2 create-route --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --instance-id "$INSTANCE_ID"
done

# The group's Elastic IP (tagged like the group): the egress address users allow-list.
ADDRESS=$(aws ec2 describe-addresses --filters "Name=tag:__TAG_KEY__,Values=$GROUP" \
  --query 'Addresses[0].[AllocationId, InstanceId]' --output text)
read -r ALLOCATION HOLDER_ID <<<"$ADDRESS"
if [ "$ALLOCATION" = None ]; then
  echo "nat-routes: no Elastic IP tagged __TAG_KEY__=$GROUP" >&2
  exit 1
fi
if [ "$HOLDER_ID" != "$INSTANCE_ID" ]; then
  HOLDER=$(launched "$HOLDER_ID")
  if [[ ! "$HOLDER" > "$ME" ]]; then
    echo "nat-routes: taking $ALLOCATION from $HOLDER_ID"
    aws ec2 associate-address --allocation-id "$ALLOCATION" --instance-id "$INSTANCE_ID" --allow-reassociation > /dev/null
  fi
fi
SCRIPT
chmod 0755 /usr/local/sbin/nat-routes

cat > /etc/systemd/system/nat-routes.service <<'UNIT'
[Unit]
Description=Keep this instance the NAT of the private subnets
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/nat-routes
# A run that hangs would stay activating, and the timer would start no other (systemd#28698: "if
# the service remains in 'activating' state we'll not trigger another run"): stop it, as a failure.
TimeoutStartSec=180
# The count of failed runs lives here between runs, and not across a reboot.
RuntimeDirectory=nat-routes
RuntimeDirectoryPreserve=yes
UNIT

cat > /etc/systemd/system/nat-routes.timer <<'UNIT'
[Unit]
Description=Keep the private subnets routed through this NAT instance

[Timer]
OnBootSec=5
OnUnitActiveSec=60

[Install]
WantedBy=timers.target
UNIT

# The timer first, and nothing after it that can fail: its OnBootSec is past, so systemd runs the
# keeper at once, and again a minute after every run, failed or not.
systemctl daemon-reload
systemctl enable --now nat-routes.timer
`
