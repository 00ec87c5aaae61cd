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

// NatInstanceTag marks a NAT instance, its launch template and group: the role policy lets an
// instance change only its own attributes by this tag, and the policy suite knows these instances
// sit in public subnets on purpose.
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
// when it fails: AL2023 forwarding with iptables masquerading, source/destination check off, and a
// 0.0.0.0/0 route to itself in the route tables it serves, which the instance sets when it boots
// (so a replacement takes the routes over). No key pair and no inbound but the VPC: shell access is
// Session Manager's. It returns the groups, which the ECS instances wait for.
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

// natInstance is one NAT instance: its role, launch template and group of one.
func natInstance(ctx *pulumi.Context, name string, spec *natInstanceSpec, parent pulumi.ResourceOrInvokeOption) (*autoscaling.Group, error) {
	args := spec.args
	role, err := newServiceRole(ctx, name+"-role", ec2Instances, pulumi.String("NAT instance: turn off its source/destination check, route the private subnets through itself, Session Manager"), parent)
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
	routing, err := iam.NewRolePolicy(ctx, name+"-routing", &iam.RolePolicyArgs{
		Role: role.Name,
		Policy: spec.routeTables.ApplyT(func(tables []string) string {
			return PolicyDocument{Statement: NatInstanceStatements(args.Partition, args.Region, spec.account, name, tables)}.JSON()
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s routing policy: %w", name, err)
	}
	profile, err := iam.NewInstanceProfile(ctx, name+"-profile", &iam.InstanceProfileArgs{Role: role.Name}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s instance profile: %w", name, err)
	}

	tags := pulumi.StringMap{NatInstanceTag: pulumi.String(name)}
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
			// way out (Security Hub AutoScaling.5 knows it by its tag).
			AssociatePublicIpAddress: pulumi.String("true"),
			DeleteOnTermination:      pulumi.String("true"),
			SecurityGroups:           pulumi.StringArray{spec.securityGroup},
		}},
		TagSpecifications: awsec2.LaunchTemplateTagSpecificationArray{
			&awsec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("instance"), Tags: tags},
			&awsec2.LaunchTemplateTagSpecificationArgs{ResourceType: pulumi.String("volume"), Tags: tags},
		},
		Tags:                 tags,
		UpdateDefaultVersion: pulumi.Bool(true),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("%s launch template: %w", name, err)
	}
	group, err := autoscaling.NewGroup(ctx, name, &autoscaling.GroupArgs{
		VpcZoneIdentifiers: pulumi.StringArray{spec.subnet},
		MinSize:            pulumi.Int(1),
		MaxSize:            pulumi.Int(1),
		DesiredCapacity:    pulumi.Int(1),
		LaunchTemplate: &autoscaling.GroupLaunchTemplateArgs{
			Id:      lt.ID(),
			Version: lt.LatestVersion.ApplyT(strconv.Itoa).(pulumi.StringOutput),
		},
		HealthCheckType:        pulumi.String("EC2"),
		HealthCheckGracePeriod: pulumi.Int(120),
		// A new template version (a new AMI, other route tables) replaces the instance; the old one
		// goes first, since there is one, and the new one takes the routes over when it boots.
		InstanceRefresh: &autoscaling.GroupInstanceRefreshArgs{
			Strategy: pulumi.String("Rolling"),
			Preferences: &autoscaling.GroupInstanceRefreshPreferencesArgs{
				MinHealthyPercentage: pulumi.Int(0),
			},
		},
		Tags: autoscaling.GroupTagArray{
			&autoscaling.GroupTagArgs{Key: pulumi.String(NatInstanceTag), Value: pulumi.String(name), PropagateAtLaunch: pulumi.Bool(true)},
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

// NatInstanceStatements let a NAT instance turn off its own source/destination check (only an
// instance carrying its tag) and put the default route of exactly its route tables through itself.
func NatInstanceStatements(partition, region, account, name string, routeTables []string) []PolicyStatement {
	var tables []string
	for _, rt := range routeTables {
		tables = append(tables, fmt.Sprintf("arn:%s:ec2:%s:%s:route-table/%s", partition, region, account, rt))
	}
	return []PolicyStatement{
		{
			Sid: "TurnOffItsOwnSourceDestCheck", Effect: "Allow", Action: []string{"ec2:ModifyInstanceAttribute"},
			Resource:  []string{fmt.Sprintf("arn:%s:ec2:%s:%s:instance/*", partition, region, account)},
			Condition: map[string]map[string]string{"StringEquals": {"aws:ResourceTag/" + NatInstanceTag: name}},
		},
		{Sid: "RouteThroughItself", Effect: "Allow", Action: []string{"ec2:CreateRoute", "ec2:ReplaceRoute"}, Resource: tables},
		// Reading routes takes no resource ARN ("Actions, resources, and condition keys for Amazon EC2").
		{Sid: "SeeWhereTheRoutesGo", Effect: "Allow", Action: []string{"ec2:DescribeRouteTables"}, Resource: []string{"*"}},
	}
}

// NatUserData sets an AL2023 instance up as a NAT ("NAT instances" in the VPC User Guide: forwarding
// on, masquerading out of the primary interface, FORWARD chain flushed, saved across reboots), turns
// its source/destination check off, and keeps the route tables' 0.0.0.0/0 pointed at itself: a
// systemd timer checks every minute and puts the route back if anything else took it (a deploy that
// removes a NAT gateway's route deletes the destination, whichever target it has by then).
func NatUserData(routeTables []string) string {
	return strings.ReplaceAll(natUserData, "__ROUTE_TABLES__", strings.Join(routeTables, " "))
}

const natUserData = `#!/bin/bash
set -euo pipefail
dnf install -y iptables-services
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat-instance.conf
sysctl -p /etc/sysctl.d/90-nat-instance.conf
IFACE=$(ip -o -4 route show to default | awk '{print $5; exit}')
iptables -t nat -A POSTROUTING -o "$IFACE" -j MASQUERADE
iptables -F FORWARD
iptables-save > /etc/sysconfig/iptables
systemctl enable --now iptables

cat > /usr/local/sbin/nat-routes <<'SCRIPT'
#!/bin/bash
set -euo pipefail
IMDS_SESSION=$(curl -sS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
md() { curl -sS -H "X-aws-ec2-metadata-token: $IMDS_SESSION" "http://169.254.169.254/latest/meta-data/$1"; }
INSTANCE_ID=$(md instance-id)
REGION=$(md placement/region)
aws ec2 modify-instance-attribute --region "$REGION" --instance-id "$INSTANCE_ID" --no-source-dest-check
for RT in __ROUTE_TABLES__; do
  TARGET=$(aws ec2 describe-route-tables --region "$REGION" --route-table-ids "$RT" \
    --query "RouteTables[0].Routes[?DestinationCidrBlock=='0.0.0.0/0'].InstanceId | [0]" --output text)
  if [ "$TARGET" = "$INSTANCE_ID" ]; then
    continue
  fi
  aws ec2 replace-route --region "$REGION" --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --instance-id "$INSTANCE_ID" ||
    aws ec2 create-route --region "$REGION" --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --instance-id "$INSTANCE_ID"
done
SCRIPT
chmod 0755 /usr/local/sbin/nat-routes

cat > /etc/systemd/system/nat-routes.service <<'UNIT'
[Unit]
Description=Route the private subnets through this NAT instance
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/nat-routes
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

systemctl daemon-reload
systemctl start nat-routes.service
systemctl enable --now nat-routes.timer
`
