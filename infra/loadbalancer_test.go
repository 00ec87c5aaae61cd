package infra_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const testCertificate = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"

func buildLoadBalancer(t *testing.T, overrides map[string]string) *pulumitest.Mocks {
	t.Helper()
	return build(t, overrides, func(ctx *pulumi.Context, cfg *config.Config) error {
		_, err := infra.NewLoadBalancer(ctx, "web", &infra.LoadBalancerArgs{
			VpcID:           pulumi.String("vpc-1"),
			PublicSubnetIDs: pulumi.ToStringArray([]string{"subnet-public-0", "subnet-public-1"}),
			ContainerPort:   3000,
			Config:          cfg.LoadBalancer,
			Domain:          cfg.Domain,
			// The retention passed in is the stack's logRetentionDays (30 by default).
			AccessLogRetentionDays: 30,
			Region:                 cfg.Region,
			Partition:              cfg.Partition(),
		})
		return err
	})
}

// ingressSummary renders each ingress rule as "port cidr" for comparison.
func ingressSummary(rules []*pulumitest.Resource) []string {
	var out []string
	for _, r := range rules {
		source := r.Str("cidrIpv4") + r.Str("cidrIpv6") + r.Str("referencedSecurityGroupId")
		out = append(out, r.Str("ipProtocol")+" "+itoa(int(r.Num("fromPort")))+"-"+itoa(int(r.Num("toPort")))+" "+source)
	}
	sort.Strings(out)
	return out
}

func TestLoadBalancerAdmitsOnlyHTTPFromTheInternet(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	sg := named(t, m, sgType, "web-sg")
	if sg.Len("ingress") != 0 || sg.Len("egress") != 0 {
		t.Error("load balancer security group has inline rules; rules must be separate resources")
	}
	rules := m.OfType(ingressRuleType)
	for _, r := range rules {
		if r.Str("securityGroupId") != "sg-web-sg" {
			t.Errorf("rule %s is on %q, want the load balancer's group", r.Name, r.Str("securityGroupId"))
		}
	}
	want := []string{"tcp 80-80 0.0.0.0/0", "tcp 80-80 ::/0"}
	if got := ingressSummary(rules); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ingress %v, want %v", got, want)
	}
	if n := len(m.OfType(egressRuleType)); n != 0 {
		t.Errorf("load balancer adds %d egress rules itself; egress to the instances belongs to EcsCluster", n)
	}
}

func TestLoadBalancerAddsHTTPSWithACertificate(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"certificateArn": testCertificate})
	want := []string{"tcp 443-443 0.0.0.0/0", "tcp 443-443 ::/0", "tcp 80-80 0.0.0.0/0", "tcp 80-80 ::/0"}
	if got := ingressSummary(m.OfType(ingressRuleType)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ingress %v, want %v", got, want)
	}

	https := named(t, m, listenerType, "web-https")
	if https.Num("port") != 443 || https.Str("protocol") != "HTTPS" {
		t.Errorf("HTTPS listener on %v/%s", https.Num("port"), https.Str("protocol"))
	}
	if https.Str("sslPolicy") != infra.TLSPolicy || !strings.Contains(infra.TLSPolicy, "TLS13") {
		t.Errorf("HTTPS policy %q, want a TLS 1.3 policy", https.Str("sslPolicy"))
	}
	if https.Str("certificateArn") != testCertificate {
		t.Errorf("HTTPS certificate %q", https.Str("certificateArn"))
	}
	if https.Str("defaultActions.0.type") != "forward" || https.Str("defaultActions.0.targetGroupArn") == "" {
		t.Errorf("HTTPS listener does not forward to the target group: %v", https.Inputs["defaultActions"])
	}

	http := named(t, m, listenerType, "web-http")
	if got := http.Str("defaultActions.0.type"); got != "redirect" {
		t.Fatalf("HTTP listener action %q, want redirect when HTTPS is on", got)
	}
	if http.Str("defaultActions.0.redirect.protocol") != "HTTPS" || http.Str("defaultActions.0.redirect.port") != "443" ||
		http.Str("defaultActions.0.redirect.statusCode") != "HTTP_301" {
		t.Errorf("HTTP redirect %v, want a permanent redirect to HTTPS:443", http.Inputs["defaultActions"])
	}
}

func TestLoadBalancerForwardsHTTPWithoutACertificate(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	if n := len(m.OfType(listenerType)); n != 1 {
		t.Fatalf("%d listeners, want only HTTP", n)
	}
	http := named(t, m, listenerType, "web-http")
	tg := named(t, m, "aws:lb/targetGroup:TargetGroup", "web-tg")
	if http.Num("port") != 80 || http.Str("protocol") != "HTTP" {
		t.Errorf("listener on %v/%s, want 80/HTTP", http.Num("port"), http.Str("protocol"))
	}
	if http.Str("defaultActions.0.type") != "forward" || http.Str("defaultActions.0.targetGroupArn") != tg.Out("arn") {
		t.Errorf("HTTP listener does not forward to the target group: %v", http.Inputs["defaultActions"])
	}
}

func TestLoadBalancerIsPublicAndHardened(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"idleTimeout": "120", "deletionProtection": "true"})
	alb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
	if alb.Str("loadBalancerType") != "application" || alb.Bool("internal") {
		t.Errorf("want an internet-facing application load balancer, got type %q internal %v", alb.Str("loadBalancerType"), alb.Bool("internal"))
	}
	if got := strings.Join(alb.Strs("subnets"), ","); got != "subnet-public-0,subnet-public-1" {
		t.Errorf("subnets %q, want the public subnets", got)
	}
	if got := alb.Strs("securityGroups"); len(got) != 1 || got[0] != "sg-web-sg" {
		t.Errorf("security groups %v, want only the load balancer's", got)
	}
	if !alb.Bool("dropInvalidHeaderFields") {
		t.Error("invalid header fields are not dropped")
	}
	if alb.Str("desyncMitigationMode") != "defensive" {
		t.Errorf("desync mitigation %q", alb.Str("desyncMitigationMode"))
	}
	if !alb.Bool("enableDeletionProtection") || alb.Num("idleTimeout") != 120 {
		t.Errorf("deletion protection %v, idle timeout %v", alb.Bool("enableDeletionProtection"), alb.Num("idleTimeout"))
	}
	if alb.Has("name") {
		t.Errorf("ALB has a fixed name %q; let Pulumi auto-name it (32-character limit)", alb.Str("name"))
	}
}

func TestTargetGroupRegistersInstancesAndChecksHealthFromConfig(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{
		"healthCheckPath": "/ready", "healthCheckMatcher": "200-299", "healthCheckInterval": "15",
		"healthCheckTimeout": "6", "healthyThreshold": "3", "unhealthyThreshold": "4", "deregistrationDelay": "20",
	})
	tg := one(t, m, "aws:lb/targetGroup:TargetGroup")
	for path, want := range map[string]string{
		"targetType": "instance", "protocol": "HTTP", "vpcId": "vpc-1",
		"healthCheck.path": "/ready", "healthCheck.matcher": "200-299",
		"healthCheck.port": "traffic-port", "healthCheck.protocol": "HTTP",
	} {
		if got := tg.Str(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	for path, want := range map[string]float64{
		"healthCheck.interval": 15, "healthCheck.timeout": 6, "healthCheck.healthyThreshold": 3,
		"healthCheck.unhealthyThreshold": 4, "deregistrationDelay": 20,
	} {
		if got := tg.Num(path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if !tg.Bool("healthCheck.enabled") {
		t.Error("health check disabled")
	}
}

func TestTargetGroupDefaultsDrainFasterThanAWS(t *testing.T) {
	m := buildLoadBalancer(t, nil)
	tg := one(t, m, "aws:lb/targetGroup:TargetGroup")
	if got := tg.Num("deregistrationDelay"); got != 30 {
		t.Errorf("default deregistration delay %v, want 30 (AWS's 300 makes every rollout slow)", got)
	}
	if got := tg.Str("healthCheck.path"); got != "/health" {
		t.Errorf("default health check path %q, want /health", got)
	}
}

func TestAccessLogsGoToAPrivateEncryptedBucketOfTheStack(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"deletionProtection": "true", "logRetentionDays": "90"})
	bucket := one(t, m, "aws:s3/bucketV2:BucketV2")
	alb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
	if alb.Str("accessLogs.bucket") != bucket.ID || !alb.Bool("accessLogs.enabled") || alb.Str("accessLogs.prefix") != infra.AccessLogPrefix {
		t.Errorf("access logs %v, want enabled into the stack's bucket", alb.Inputs["accessLogs"])
	}
	if bucket.Bool("forceDestroy") {
		t.Error("a protected stack's log bucket is force-destroyable")
	}
	pab := one(t, m, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
	for _, k := range []string{"blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"} {
		if !pab.Bool(k) || pab.Str("bucket") != bucket.ID {
			t.Errorf("public access block %s is off", k)
		}
	}
	sse := one(t, m, "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2")
	if sse.Str("rules.0.applyServerSideEncryptionByDefault.sseAlgorithm") != "AES256" {
		t.Errorf("bucket encryption %v, want SSE-S3 (the only kind ELB writes to)", sse.Inputs["rules"])
	}
	if days := one(t, m, "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2").Num("rules.0.expiration.days"); days != 30 {
		t.Errorf("access logs expire after %v days, want the stack's 30-day log retention", days)
	}
	policy := one(t, m, "aws:s3/bucketPolicy:BucketPolicy")
	var doc infra.PolicyDocument
	if err := policy.JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	principals := map[string]string{}
	for _, st := range doc.Statement {
		for k, v := range st.Principal {
			principals[st.Effect+" "+k] = v
		}
		if st.Effect == "Allow" && (len(st.Action) != 1 || st.Action[0] != "s3:PutObject" || len(st.Resource) != 1 ||
			st.Resource[0] != bucket.Out("arn")+"/alb/AWSLogs/"+pulumitest.Account+"/*") {
			t.Errorf("log delivery may %v on %v", st.Action, st.Resource)
		}
	}
	if principals["Allow Service"] != "logdelivery.elasticloadbalancing.amazonaws.com" || principals["Allow AWS"] != "arn:aws:iam::127311923021:root" {
		t.Errorf("bucket policy principals %v, want ELB log delivery (and us-east-1's ELB account)", principals)
	}
	if principals["Deny AWS"] != "*" {
		t.Error("bucket policy does not refuse requests without TLS")
	}
	if !alb.DependsOn(policy) {
		t.Error("the load balancer enables logging before it may write to the bucket")
	}

	off := buildLoadBalancer(t, map[string]string{"accessLogs": "false"})
	if len(off.OfType("aws:s3/bucketV2:BucketV2")) != 0 || one(t, off, "aws:lb/loadBalancer:LoadBalancer").Has("accessLogs") {
		t.Error("accessLogs=false still creates logging")
	}
	dev := buildLoadBalancer(t, map[string]string{"deletionProtection": "false"})
	if !one(t, dev, "aws:s3/bucketV2:BucketV2").Bool("forceDestroy") {
		t.Error("a stack without deletion protection cannot be destroyed while its log bucket has objects")
	}
}

func TestWebACLIsAssociatedOnlyWhenConfigured(t *testing.T) {
	acl := "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/api/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
	m := buildLoadBalancer(t, map[string]string{"webAclArn": acl})
	assoc := one(t, m, "aws:wafv2/webAclAssociation:WebAclAssociation")
	if assoc.Str("resourceArn") != one(t, m, "aws:lb/loadBalancer:LoadBalancer").Out("arn") || assoc.Str("webAclArn") != acl {
		t.Errorf("association %v, want the web ACL on the load balancer", assoc.Inputs)
	}
	if parentType(assoc) != project+":infra:LoadBalancer" {
		t.Errorf("association parent %q", parentType(assoc))
	}
	if n := len(buildLoadBalancer(t, nil).OfType("aws:wafv2/webAclAssociation:WebAclAssociation")); n != 0 {
		t.Errorf("%d associations without webAclArn", n)
	}
}

const (
	certType       = "aws:acm/certificate:Certificate"
	validationType = "aws:acm/certificateValidation:CertificateValidation"
	recordType     = "aws:route53/record:Record"
	testDomain     = `{"name":"api.example.com","zoneName":"example.com","aliases":["www.example.com"]}`
)

// TestDomainServesHTTPSWithAnIssuedCertificate follows every link from the domain to the HTTPS
// listener: ACM certificate for the names, one validation record per name (found by name: the
// provider keeps domainValidationOptions as a set), the validation that waits for issuance with a
// bound, the listener that waits for it, alias records to the load balancer, redirect and HSTS.
func TestDomainServesHTTPSWithAnIssuedCertificate(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"domain": testDomain})
	names := []string{"api.example.com", "www.example.com"}
	cert := one(t, m, certType)
	if cert.Str("domainName") != names[0] || strings.Join(cert.Strs("subjectAlternativeNames"), ",") != names[1] || cert.Str("validationMethod") != "DNS" {
		t.Errorf("certificate for %q + %v by %s", cert.Str("domainName"), cert.Strs("subjectAlternativeNames"), cert.Str("validationMethod"))
	}
	validation := one(t, m, validationType)
	if validation.Str("certificateArn") != cert.Out("arn") {
		t.Error("the validation waits for another certificate")
	}
	if validation.CreateTimeout != infra.CertificateValidationTimeout {
		t.Errorf("validation waits %q, want %s, not the provider's 75 minutes", validation.CreateTimeout, infra.CertificateValidationTimeout)
	}
	fqdns := map[string]bool{}
	for _, f := range validation.Strs("validationRecordFqdns") {
		fqdns[f] = true
	}
	records := map[string]*pulumitest.Resource{}
	for _, r := range m.OfType(recordType) {
		if r.Str("zoneId") != pulumitest.ZoneID {
			t.Errorf("record %s is in zone %q, want the domain's", r.Name, r.Str("zoneId"))
		}
		records[r.Str("type")+" "+r.Str("name")] = r
	}
	alb := one(t, m, "aws:lb/loadBalancer:LoadBalancer")
	for _, host := range names {
		record := records["CNAME _x1."+host+"."]
		if record == nil || strings.Join(record.Strs("records"), ",") != "_x2."+host+".acm-validations.aws." {
			t.Errorf("%s: no validation record with ACM's value for this name (%v)", host, record)
			continue
		}
		if !fqdns[record.Out("fqdn")] {
			t.Errorf("%s: the validation does not wait for its record", host)
		}
		alias := records["A "+host]
		if alias == nil || alias.Str("aliases.0.name") != alb.Out("dnsName") || alias.Str("aliases.0.zoneId") != alb.Out("zoneId") {
			t.Errorf("%s: no alias record to the load balancer (%v)", host, alias)
		}
	}
	if len(fqdns) != len(names) {
		t.Errorf("validation waits for %d records, want %d", len(fqdns), len(names))
	}

	var https, http *pulumitest.Resource
	for _, l := range m.OfType(listenerType) {
		if l.Str("protocol") == "HTTPS" {
			https = l
		} else {
			http = l
		}
	}
	if https == nil || https.Str("certificateArn") != validation.Out("certificateArn") || !https.DependsOn(validation) {
		t.Fatal("the HTTPS listener does not wait for the issued certificate")
	}
	if https.Str("sslPolicy") != infra.TLSPolicy || https.Str("routingHttpResponseStrictTransportSecurityHeaderValue") != "max-age=31536000" {
		t.Errorf("HTTPS listener policy %q, HSTS %q", https.Str("sslPolicy"), https.Str("routingHttpResponseStrictTransportSecurityHeaderValue"))
	}
	if http.Str("defaultActions.0.type") != "redirect" || http.Str("defaultActions.0.redirect.protocol") != "HTTPS" ||
		http.Str("defaultActions.0.redirect.statusCode") != "HTTP_301" {
		t.Errorf("port 80 does not only redirect: %v", http.Inputs["defaultActions"])
	}
	want := []string{"tcp 443-443 0.0.0.0/0", "tcp 443-443 ::/0", "tcp 80-80 0.0.0.0/0", "tcp 80-80 ::/0"}
	if got := ingressSummary(m.OfType(ingressRuleType)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ingress %v, want %v", got, want)
	}

	custom := buildLoadBalancer(t, map[string]string{"domain": `{"name":"api.example.com","zoneId":"Z0123456789ABCDEFGHIJ","hstsMaxAge":600}`})
	for _, l := range custom.OfType(listenerType) {
		if l.Str("protocol") == "HTTPS" && l.Str("routingHttpResponseStrictTransportSecurityHeaderValue") != "max-age=600" {
			t.Errorf("HSTS %q, want the configured max-age", l.Str("routingHttpResponseStrictTransportSecurityHeaderValue"))
		}
	}
	if n := len(custom.OfType(recordType)); n != 2 {
		t.Errorf("one name makes %d records, want its validation record and its alias", n)
	}
}

// TestDomainOutsideItsZoneFailsBeforeAnythingIsCreated: with a zone id, only the zone's real name
// (looked up at deploy time) shows that the certificate could never validate.
func TestDomainOutsideItsZoneFailsBeforeAnythingIsCreated(t *testing.T) {
	_, err := pulumitest.Run(project, "test", withOverrides(t, map[string]string{"domain": `{"name":"api.other.org","zoneId":"Z0123456789ABCDEFGHIJ"}`}), func(ctx *pulumi.Context) error {
		cfg, err := config.LoadConfig(ctx)
		if err != nil {
			return err
		}
		_, err = infra.NewLoadBalancer(ctx, "web", &infra.LoadBalancerArgs{VpcID: pulumi.String("vpc-1"), Config: cfg.LoadBalancer, Domain: cfg.Domain,
			PublicSubnetIDs: pulumi.ToStringArray([]string{"a", "b"}), ContainerPort: 3000, AccessLogRetentionDays: 30, Region: cfg.Region, Partition: "aws"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "api.other.org is not in the hosted zone example.com") || !strings.Contains(err.Error(), "could never validate") {
		t.Errorf("error %v, want the name, the zone and why", err)
	}
}

// accessLogPolicy is the access-log bucket policy of a load balancer built with overrides, as sent,
// and the bucket's ARN.
func accessLogPolicy(t *testing.T, overrides map[string]string) (infra.PolicyDocument, string) {
	t.Helper()
	m := buildLoadBalancer(t, overrides)
	var doc infra.PolicyDocument
	if err := one(t, m, "aws:s3/bucketPolicy:BucketPolicy").JSON("policy", &doc); err != nil {
		t.Fatal(err)
	}
	return doc, one(t, m, "aws:s3/bucketV2:BucketV2").Out("arn")
}

// TestAccessLogsAdmitOnlyThisAccountsLoadBalancers (review A13): ELB writes to
// bucket/prefix/AWSLogs/<the load balancer's account>/..., and AWS's policy names that account in
// the resource: "Always include the account ID of the account with the load balancer in the resource
// path of the S3 bucket ARN. This ensures that only load balancers from the specified account can
// write access logs to the S3 bucket" ("Enable access logs for your Application Load Balancer", ALB
// User Guide, step 2). With AWSLogs/* any account's load balancer could log into this stack's bucket.
func TestAccessLogsAdmitOnlyThisAccountsLoadBalancers(t *testing.T) {
	doc, bucket := accessLogPolicy(t, nil)
	allows := 0
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			continue
		}
		allows++
		if want := bucket + "/" + infra.AccessLogPrefix + "/AWSLogs/" + pulumitest.Account + "/*"; len(st.Resource) != 1 || st.Resource[0] != want {
			t.Errorf("%s admits %v, want only %s", st.Sid, st.Resource, want)
		}
		if len(st.Action) != 1 || st.Action[0] != "s3:PutObject" {
			t.Errorf("%s allows %v, want only s3:PutObject", st.Sid, st.Action)
		}
	}
	if allows == 0 {
		t.Fatal("the bucket policy admits no log delivery")
	}
}

// TestAccessLogDeliveryResolvesInEveryRegionAWSLists (review A9): "Enable access logs for your
// Application Load Balancer" (ALB User Guide) gives the logdelivery.elasticloadbalancing.amazonaws.com
// policy for every region and lists the ELB account of each region that supports the legacy policy,
// Jakarta among them ("Asia Pacific (Jakarta) – 589379963580"); "Regions that are not in this list do
// not support the legacy policy". Every listed region gets its account as well as the service
// principal; regions opened since (Hyderabad, Melbourne, Spain, Zurich, UAE, Tel Aviv, Calgary,
// Malaysia, Thailand, Mexico, Taipei) get the service principal only.
func TestAccessLogDeliveryResolvesInEveryRegionAWSLists(t *testing.T) {
	// The guide's list, in its order.
	listed := []struct{ region, account string }{
		{"us-east-1", "127311923021"},      // US East (N. Virginia)
		{"us-east-2", "033677994240"},      // US East (Ohio)
		{"us-west-1", "027434742980"},      // US West (N. California)
		{"us-west-2", "797873946194"},      // US West (Oregon)
		{"af-south-1", "098369216593"},     // Africa (Cape Town)
		{"ap-east-1", "754344448648"},      // Asia Pacific (Hong Kong)
		{"ap-southeast-3", "589379963580"}, // Asia Pacific (Jakarta)
		{"ap-south-1", "718504428378"},     // Asia Pacific (Mumbai)
		{"ap-northeast-3", "383597477331"}, // Asia Pacific (Osaka)
		{"ap-northeast-2", "600734575887"}, // Asia Pacific (Seoul)
		{"ap-southeast-1", "114774131450"}, // Asia Pacific (Singapore)
		{"ap-southeast-2", "783225319266"}, // Asia Pacific (Sydney)
		{"ap-northeast-1", "582318560864"}, // Asia Pacific (Tokyo)
		{"ca-central-1", "985666609251"},   // Canada (Central)
		{"eu-central-1", "054676820928"},   // Europe (Frankfurt)
		{"eu-west-1", "156460612806"},      // Europe (Ireland)
		{"eu-west-2", "652711504416"},      // Europe (London)
		{"eu-south-1", "635631232127"},     // Europe (Milan)
		{"eu-west-3", "009996457667"},      // Europe (Paris)
		{"eu-north-1", "897822967062"},     // Europe (Stockholm)
		{"me-south-1", "076674570225"},     // Middle East (Bahrain)
		{"sa-east-1", "507241528517"},      // South America (São Paulo)
		{"us-gov-east-1", "190560391635"},  // AWS GovCloud (US-East)
		{"us-gov-west-1", "048591011584"},  // AWS GovCloud (US-West)
	}
	later := []string{"ap-south-2", "ap-southeast-4", "eu-south-2", "eu-central-2", "me-central-1", "il-central-1",
		"ca-west-1", "ap-southeast-5", "ap-southeast-7", "mx-central-1", "ap-east-2"}
	principals := func(t *testing.T, region string) (service bool, accounts []string) {
		doc, _ := accessLogPolicy(t, map[string]string{"aws:region": region})
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				continue
			}
			if st.Principal["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com" {
				service = true
			}
			if a, ok := st.Principal["AWS"]; ok {
				accounts = append(accounts, a)
			}
		}
		return service, accounts
	}
	for _, r := range listed {
		t.Run(r.region, func(t *testing.T) {
			partition := "aws"
			if strings.HasPrefix(r.region, "us-gov-") {
				partition = "aws-us-gov"
			}
			service, accounts := principals(t, r.region)
			if want := "arn:" + partition + ":iam::" + r.account + ":root"; len(accounts) != 1 || accounts[0] != want || !service {
				t.Errorf("log delivery admitted as service principal %v and accounts %v, want the service principal and %s", service, accounts, want)
			}
		})
	}
	for _, region := range later {
		t.Run(region, func(t *testing.T) {
			if service, accounts := principals(t, region); !service || len(accounts) != 0 {
				t.Errorf("log delivery admitted as service principal %v and accounts %v, want the service principal only", service, accounts)
			}
		})
	}
}

// TestPort80RedirectsOnlyOnceHTTPSServes (review A4): a listener is created or changed when the
// engine has every input of it, and the redirect's port is the HTTPS listener's own output. So when
// HTTPS is turned on (domain or certificateArn), port 80 goes on forwarding until the HTTPS listener
// exists, which with a domain is after ACM issues the certificate (up to
// CertificateValidationTimeout), and it never redirects at all if validation fails; likewise the
// names point at the load balancer only once it serves HTTPS. The mocks record the dependencies the
// engine orders by.
func TestPort80RedirectsOnlyOnceHTTPSServes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides map[string]string
	}{
		{"domain", map[string]string{"domain": testDomain}},
		{"certificateArn", map[string]string{"certificateArn": testCertificate}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := buildLoadBalancer(t, tc.overrides)
			https, http := named(t, m, listenerType, "web-https"), named(t, m, listenerType, "web-http")
			if !http.DependsOn(https) {
				t.Errorf("port 80 switches to redirecting without waiting for the HTTPS listener (depends on %v)", http.Dependencies)
			}
			if got := http.Str("defaultActions.0.redirect.port"); got != "443" || https.Num("port") != 443 {
				t.Errorf("redirect to port %q, HTTPS listener on %v", got, https.Num("port"))
			}
			if tc.name == "domain" && !https.DependsOn(one(t, m, validationType)) {
				t.Error("the HTTPS listener does not wait for the certificate's validation")
			}
			for _, r := range m.OfType(recordType) {
				if r.Str("type") == "A" && !r.DependsOn(https) {
					t.Errorf("%s points at the load balancer before it serves HTTPS", r.Str("name"))
				}
			}
		})
	}
}

// TestDomainRecordsAreNamedByHostAndOnlyValidationRecordsOverwrite (review A3): ACM gives every
// certificate of an account the same validation record for a name, in any region
// (hashicorp/terraform-provider-aws#13653), so a second stack or region finds it in the zone and a
// plain CREATE fails with "Tried to create resource record set ... but it already exists"
// (hashicorp/terraform-provider-aws#7918); allowOverwrite makes the CREATE an UPSERT of the same
// value. An alias A record never overwrites: a record at the name is another site. Each record is
// named by its host, so it is the same resource whatever the names' order.
func TestDomainRecordsAreNamedByHostAndOnlyValidationRecordsOverwrite(t *testing.T) {
	m := buildLoadBalancer(t, map[string]string{"domain": testDomain})
	for _, host := range []string{"api.example.com", "www.example.com"} {
		validation := named(t, m, recordType, infra.ValidationRecordName("web", host))
		if validation.Str("name") != "_x1."+host+"." || !validation.Bool("allowOverwrite") {
			t.Errorf("%s: validation record for %q, allowOverwrite %v", host, validation.Str("name"), validation.Bool("allowOverwrite"))
		}
		alias := named(t, m, recordType, infra.AliasRecordName("web", host))
		if alias.Str("name") != host || alias.Bool("allowOverwrite") {
			t.Errorf("%s: alias record for %q, allowOverwrite %v", host, alias.Str("name"), alias.Bool("allowOverwrite"))
		}
	}
	if infra.AliasRecordName("web", "a-b.c.example.com") == infra.AliasRecordName("web", "a.b-c.example.com") {
		t.Error("two hosts share a record name")
	}
}
