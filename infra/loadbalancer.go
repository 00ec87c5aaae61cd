package infra

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// TLSPolicy is the HTTPS listener's security policy: TLS 1.3 with TLS 1.2 for older clients.
const TLSPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// LoadBalancer is the public entry point: an internet-facing ALB, its security group, the target
// group the ECS service registers tasks in, and the listeners.
type LoadBalancer struct {
	pulumi.ResourceState

	SecurityGroupID      pulumi.IDOutput     `pulumi:"securityGroupId"`
	TargetGroupArn       pulumi.StringOutput `pulumi:"targetGroupArn"`
	TargetGroupArnSuffix pulumi.StringOutput `pulumi:"targetGroupArnSuffix"`
	ArnSuffix            pulumi.StringOutput `pulumi:"arnSuffix"`
	DNSName              pulumi.StringOutput `pulumi:"dnsName"`
	URL                  pulumi.StringOutput `pulumi:"url"`
	// CertificateArn is the HTTPS listener's certificate, issued for the domain or given in config.
	CertificateArn pulumi.StringOutput `pulumi:"certificateArn"`

	// Listeners must exist before an ECS service uses the target group: ECS rejects a target
	// group that no load balancer forwards to.
	Listeners []pulumi.Resource
}

// LoadBalancerArgs: ids from Network, plain values from config.
type LoadBalancerArgs struct {
	VpcID           pulumi.StringInput
	PublicSubnetIDs pulumi.StringArrayInput
	ContainerPort   int
	Config          config.LoadBalancerConfig
	// Domain, when set, brings a certificate, its validation, the alias records and HTTPS.
	Domain config.DomainConfig
	// Access logs: how long they are kept, and where (the ELB delivery account depends on the region).
	AccessLogRetentionDays int
	Region                 string
	Partition              string
}

// NewLoadBalancer builds the ALB. Its security group admits HTTP (and HTTPS with a certificate) from
// the internet; its egress to the instances is added by EcsCluster, where both group ids are known.
func NewLoadBalancer(ctx *pulumi.Context, name string, args *LoadBalancerArgs, opts ...pulumi.ResourceOption) (*LoadBalancer, error) {
	if args == nil {
		return nil, fmt.Errorf("load balancer %s: args are required", name)
	}
	l := &LoadBalancer{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "LoadBalancer"), name, l, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(l)
	cfg := args.Config
	https := cfg.CertificateArn != "" || args.Domain.Enabled()
	// The zone is checked before anything is created: a certificate it cannot validate must fail now.
	var zoneID string
	if args.Domain.Enabled() {
		var err error
		if zoneID, err = hostedZone(ctx, args.Domain, pulumi.Parent(l)); err != nil {
			return nil, fmt.Errorf("load balancer %s: %w", name, err)
		}
	}

	// No inline rules: the provider then removes AWS's default allow-all egress, and every rule is
	// a separate resource, so the two groups can reference each other.
	sg, err := ec2.NewSecurityGroup(ctx, name+"-sg", &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("Application load balancer: HTTP(S) from the internet"),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("load balancer %s: security group: %w", name, err)
	}
	ports := []int{80}
	if https {
		ports = append(ports, 443)
	}
	for _, port := range ports {
		for _, source := range []struct{ suffix, v4, v6 string }{
			{"ipv4", "0.0.0.0/0", ""},
			{"ipv6", "", "::/0"},
		} {
			ruleArgs := &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId: sg.ID(),
				Description:     pulumi.Sprintf("%d from the internet (%s)", port, source.suffix),
				IpProtocol:      pulumi.String("tcp"),
				FromPort:        pulumi.Int(port),
				ToPort:          pulumi.Int(port),
			}
			if source.v4 != "" {
				ruleArgs.CidrIpv4 = pulumi.String(source.v4)
			} else {
				ruleArgs.CidrIpv6 = pulumi.String(source.v6)
			}
			if _, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("%s-in-%d-%s", name, port, source.suffix), ruleArgs, parent); err != nil {
				return nil, fmt.Errorf("load balancer %s: ingress %d: %w", name, port, err)
			}
		}
	}

	albArgs := &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(false),
		SecurityGroups:           pulumi.StringArray{sg.ID()},
		Subnets:                  args.PublicSubnetIDs,
		DropInvalidHeaderFields:  pulumi.Bool(true),
		DesyncMitigationMode:     pulumi.String("defensive"),
		EnableDeletionProtection: pulumi.Bool(cfg.DeletionProtection),
		EnableHttp2:              pulumi.Bool(true),
		IdleTimeout:              pulumi.Int(cfg.IdleTimeout),
	}
	albOpts := []pulumi.ResourceOption{parent}
	if cfg.AccessLogs {
		bucket, policy, err := accessLogBucket(ctx, name, args, parent)
		if err != nil {
			return nil, fmt.Errorf("load balancer %s: %w", name, err)
		}
		albArgs.AccessLogs = &lb.LoadBalancerAccessLogsArgs{
			Bucket:  bucket.ID(),
			Prefix:  pulumi.String(AccessLogPrefix),
			Enabled: pulumi.Bool(true),
		}
		// ELB checks that it may write to the bucket when logging is switched on.
		albOpts = append(albOpts, pulumi.DependsOn([]pulumi.Resource{policy}))
	}
	alb, err := lb.NewLoadBalancer(ctx, name, albArgs, albOpts...)
	if err != nil {
		return nil, fmt.Errorf("load balancer %s: alb: %w", name, err)
	}

	if cfg.WebACLArn != "" {
		if err := associateWebACL(ctx, name+"-waf", alb.Arn, cfg.WebACLArn, parent); err != nil {
			return nil, fmt.Errorf("load balancer %s: web ACL: %w", name, err)
		}
	}

	hc := cfg.HealthCheck
	tg, err := lb.NewTargetGroup(ctx, name+"-tg", &lb.TargetGroupArgs{
		// With target type instance, ECS registers each task's dynamic host port; this port is unused.
		TargetType:          pulumi.String("instance"),
		Protocol:            pulumi.String("HTTP"),
		Port:                pulumi.Int(args.ContainerPort),
		VpcId:               args.VpcID,
		DeregistrationDelay: pulumi.Int(cfg.DeregistrationDelay),
		HealthCheck: &lb.TargetGroupHealthCheckArgs{
			Enabled:            pulumi.Bool(true),
			Protocol:           pulumi.String("HTTP"),
			Port:               pulumi.String("traffic-port"),
			Path:               pulumi.String(hc.Path),
			Matcher:            pulumi.String(hc.Matcher),
			Interval:           pulumi.Int(hc.Interval),
			Timeout:            pulumi.Int(hc.Timeout),
			HealthyThreshold:   pulumi.Int(hc.HealthyThreshold),
			UnhealthyThreshold: pulumi.Int(hc.UnhealthyThreshold),
		},
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("load balancer %s: target group: %w", name, err)
	}

	forward := lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
		Type:           pulumi.String("forward"),
		TargetGroupArn: tg.Arn,
	}}
	httpActions := forward
	scheme := "http"
	if https {
		certificateArn := pulumi.String(cfg.CertificateArn).ToStringOutput()
		hstsMaxAge := config.DefaultHSTSMaxAge
		if d := args.Domain; d.Enabled() {
			if _, certificateArn, err = issuedCertificate(ctx, name, d, zoneID, parent); err != nil {
				return nil, fmt.Errorf("load balancer %s: %w", name, err)
			}
			hstsMaxAge = d.HSTSMaxAge
		}
		l.CertificateArn = certificateArn
		httpsListener, err := lb.NewListener(ctx, name+"-https", &lb.ListenerArgs{
			LoadBalancerArn: alb.Arn,
			Port:            pulumi.Int(443),
			Protocol:        pulumi.String("HTTPS"),
			SslPolicy:       pulumi.String(TLSPolicy),
			CertificateArn:  certificateArn,
			DefaultActions:  forward,
			// The load balancer adds HSTS to every HTTPS response, whatever the app sends.
			RoutingHttpResponseStrictTransportSecurityHeaderValue: pulumi.String(config.HSTS(hstsMaxAge)),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("load balancer %s: https listener: %w", name, err)
		}
		if d := args.Domain; d.Enabled() {
			if err := aliasRecords(ctx, name, d, zoneID, alb, httpsListener, parent); err != nil {
				return nil, fmt.Errorf("load balancer %s: %w", name, err)
			}
		}
		l.Listeners = append(l.Listeners, httpsListener)
		httpActions = redirectToHTTPS(httpsListener)
		scheme = "https"
	}
	httpListener, err := lb.NewListener(ctx, name+"-http", &lb.ListenerArgs{
		LoadBalancerArn: alb.Arn,
		Port:            pulumi.Int(80),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions:  httpActions,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("load balancer %s: http listener: %w", name, err)
	}
	l.Listeners = append(l.Listeners, httpListener)

	l.SecurityGroupID = sg.ID()
	l.TargetGroupArn = tg.Arn
	l.TargetGroupArnSuffix = tg.ArnSuffix
	l.ArnSuffix = alb.ArnSuffix
	l.DNSName = alb.DnsName
	l.URL = pulumi.Sprintf("%s://%s", scheme, alb.DnsName)
	if args.Domain.Enabled() {
		l.URL = pulumi.Sprintf("https://%s", args.Domain.Name).ToStringOutput()
	}
	return l, ctx.RegisterResourceOutputs(l, pulumi.Map{
		"securityGroupId":      l.SecurityGroupID,
		"targetGroupArn":       l.TargetGroupArn,
		"targetGroupArnSuffix": l.TargetGroupArnSuffix,
		"arnSuffix":            l.ArnSuffix,
		"dnsName":              l.DNSName,
		"url":                  l.URL,
		"certificateArn":       l.CertificateArn,
	})
}

// redirectToHTTPS is port 80's action once HTTPS is on: a permanent redirect to the HTTPS listener's
// port (host, path and query kept), read from that listener. Reading it is what orders the two: the
// engine registers port 80's listener, or switches a running one from forwarding to redirecting,
// only once the HTTPS listener exists. Turning the domain on therefore never sends plain-HTTP
// clients to a port nothing listens on while ACM validates (up to CertificateValidationTimeout),
// and if the certificate never validates, port 80 keeps forwarding.
func redirectToHTTPS(https *lb.Listener) lb.ListenerDefaultActionArray {
	port := https.Port.ApplyT(func(p *int) (string, error) {
		if p == nil {
			return "", errors.New("the HTTPS listener has no port")
		}
		return strconv.Itoa(*p), nil
	}).(pulumi.StringOutput)
	return lb.ListenerDefaultActionArray{&lb.ListenerDefaultActionArgs{
		Type: pulumi.String("redirect"),
		Redirect: &lb.ListenerDefaultActionRedirectArgs{
			Protocol:   pulumi.String("HTTPS"),
			Port:       port,
			StatusCode: pulumi.String("HTTP_301"),
		},
	}}
}
