package config

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/acme/ecs-api/policy/controlid"
)

// Config is the whole stack configuration, loaded once and validated before any resource exists.
// Defaults live in one place, Pulumi.yaml, which the Pulumi CLI merges into every stack's config.
type Config struct {
	Project string
	Stack   string
	Region  string
	// Tags are the user's cost-allocation tags; AllTags adds the ones every resource must carry.
	Tags map[string]string

	Network      NetworkConfig
	LoadBalancer LoadBalancerConfig
	Cluster      ClusterConfig
	Service      ServiceConfig
	Autoscaling  AutoscalingConfig
	Alarms       AlarmsConfig
	Jobs         []JobConfig
	Worker       WorkerConfig
	Database     DatabaseConfig
	Cache        CacheConfig
	Domain       DomainConfig
	Alerts       AlertsConfig
	Repository   RepositoryConfig
	Migrate      MigrateConfig
	// PolicyWaivers maps a policy control id to the reason this stack does not meet it.
	PolicyWaivers map[string]string
	// RunbookURL is where docs/runbooks.md of this repository opens in a browser; every alarm and
	// alert links to its section there. Empty: the links are the page's path in the repository.
	RunbookURL string
}

// NetworkConfig shapes the VPC, or names an existing one.
type NetworkConfig struct {
	CIDR        string
	AZCount     int
	NatGateways string // Single, OnePerAz, Instance or None
	Settings    NetworkSettings
}

// LoadBalancerConfig shapes the ALB, its listeners and its target group.
type LoadBalancerConfig struct {
	CertificateArn     string // empty: HTTP only
	IdleTimeout        int
	DeletionProtection bool
	AccessLogs         bool
	// WebACLArn is an existing regional WAF web ACL to associate; empty for none.
	WebACLArn           string
	DeregistrationDelay int
	HealthCheck         HealthCheckConfig
}

// HealthCheckConfig is the target group's health check; it decides which tasks receive traffic.
type HealthCheckConfig struct {
	Path               string
	Matcher            string
	Interval           int
	Timeout            int
	HealthyThreshold   int
	UnhealthyThreshold int
}

// ClusterConfig shapes the EC2 capacity behind the ECS cluster.
type ClusterConfig struct {
	InstanceType     string
	MinInstances     int
	MaxInstances     int
	DesiredInstances int
	RootVolumeSize   int
	Capacity         CapacityConfig
	// Shape is derived from InstanceType during validation.
	Shape InstanceShape
}

// ServiceConfig shapes the app's task definition and ECS service.
type ServiceConfig struct {
	Image                  string
	ContainerPort          int
	CPU                    int
	Memory                 int
	DesiredCount           int
	Env                    map[string]string
	Secrets                map[string]string
	HealthCheckGracePeriod int
	StopTimeout            int
	LogRetentionDays       int
	EnableExecuteCommand   bool
	ReadonlyRootFilesystem bool
	// User runs the container as this user (name, uid or uid:gid); empty keeps the image's.
	User string
	// CronFlag is the variable that switches the app's in-process scheduler: false in the API's
	// replicas, true in scheduled job tasks.
	CronFlag string
}

// AllTags is what every taggable resource carries: the user's tags plus project, stack and managed-by,
// which win over user tags of the same name so cost reports cannot be mislabelled.
func (c *Config) AllTags() map[string]string {
	tags := map[string]string{}
	for k, v := range c.Tags {
		tags[k] = v
	}
	tags["project"] = c.Project
	tags["stack"] = c.Stack
	tags["managed-by"] = "pulumi"
	return tags
}

// Partition is the AWS partition of the stack's region, for AWS-managed policy ARNs.
func (c *Config) Partition() string {
	switch {
	case strings.HasPrefix(c.Region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(c.Region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// IsProduction is true for production stacks, where stricter rules apply.
func (c *Config) IsProduction() bool { return IsProductionStack(c.Stack) }

// IsProductionStack is true for stacks named prod, production or prod-<something>.
func IsProductionStack(stack string) bool {
	return stack == "prod" || stack == "production" || strings.HasPrefix(stack, "prod-")
}

// Keys lists every key LoadConfig reads from the project namespace; Pulumi.yaml must declare each.
var Keys = []string{
	"image", "containerPort", "cpu", "memory", "desiredCount", "env", "secrets",
	"healthCheckPath", "healthCheckMatcher", "healthCheckInterval", "healthCheckTimeout",
	"healthyThreshold", "unhealthyThreshold", "healthCheckGracePeriod", "deregistrationDelay",
	"stopTimeout", "logRetentionDays", "enableExecuteCommand", "readonlyRootFilesystem",
	"instanceType", "minInstances", "maxInstances", "desiredInstances", "rootVolumeSize",
	"vpcCidr", "azCount", "natGateways", "certificateArn", "idleTimeout", "deletionProtection", "accessLogs", "webAclArn", "tags",
	"autoscaling", "capacity", "alarms", "cronFlag", "jobs", "worker", "database", "cache",
	"containerUser", "policyWaivers", "domain", "alerts", "repository", "network", "migrate", "runbookUrl",
}

// Source is where Pulumi hands a program its stack configuration; *pulumi.Context is one. Taking
// it as an interface keeps this package free of the Pulumi SDK, so the fuzzer and tools that only
// need the settings compile in seconds.
type Source interface {
	Project() string
	Stack() string
	// GetConfig returns the value of a "<namespace>:<key>" key, as pulumi/config's Get reads it.
	GetConfig(key string) (string, bool)
}

// LoadConfig reads the stack's configuration and validates it, returning every problem at once.
func LoadConfig(src Source) (*Config, error) {
	region, _ := src.GetConfig("aws:region")
	get := func(key string) string {
		v, _ := src.GetConfig(src.Project() + ":" + key)
		return v
	}
	return ParseConfig(src.Project(), src.Stack(), region, get)
}

// ParseConfig builds and validates the configuration from a lookup of the project's keys; it is
// LoadConfig without Pulumi's runtime, so it can be fuzzed.
func ParseConfig(project, stack, region string, get func(key string) string) (*Config, error) {
	l := &loader{get: get, stack: stack}
	c := &Config{
		Project: project,
		Stack:   stack,
		Region:  region,
		Tags:    l.stringMap("tags"),
		Network: NetworkConfig{
			CIDR:        l.str("vpcCidr"),
			AZCount:     l.integer("azCount"),
			NatGateways: l.str("natGateways"),
		},
		LoadBalancer: LoadBalancerConfig{
			CertificateArn:      l.optionalStr("certificateArn"),
			IdleTimeout:         l.integer("idleTimeout"),
			DeletionProtection:  l.boolean("deletionProtection"),
			AccessLogs:          l.boolean("accessLogs"),
			WebACLArn:           l.optionalStr("webAclArn"),
			DeregistrationDelay: l.integer("deregistrationDelay"),
			HealthCheck: HealthCheckConfig{
				Path:               l.str("healthCheckPath"),
				Matcher:            l.str("healthCheckMatcher"),
				Interval:           l.integer("healthCheckInterval"),
				Timeout:            l.integer("healthCheckTimeout"),
				HealthyThreshold:   l.integer("healthyThreshold"),
				UnhealthyThreshold: l.integer("unhealthyThreshold"),
			},
		},
		Cluster: ClusterConfig{
			InstanceType:     l.str("instanceType"),
			MinInstances:     l.integer("minInstances"),
			MaxInstances:     l.integer("maxInstances"),
			DesiredInstances: l.optionalInt("desiredInstances"),
			RootVolumeSize:   l.integer("rootVolumeSize"),
		},
		Service: ServiceConfig{
			Image:                  l.optionalStr("image"),
			ContainerPort:          l.integer("containerPort"),
			CPU:                    l.integer("cpu"),
			Memory:                 l.integer("memory"),
			DesiredCount:           l.integer("desiredCount"),
			Env:                    l.stringMap("env"),
			Secrets:                l.stringMap("secrets"),
			HealthCheckGracePeriod: l.integer("healthCheckGracePeriod"),
			StopTimeout:            l.integer("stopTimeout"),
			LogRetentionDays:       l.integer("logRetentionDays"),
			EnableExecuteCommand:   l.boolean("enableExecuteCommand"),
			ReadonlyRootFilesystem: l.boolean("readonlyRootFilesystem"),
			CronFlag:               l.str("cronFlag"),
			User:                   l.optionalStr("containerUser"),
		},
	}
	c.Autoscaling = defaultAutoscaling()
	l.object("autoscaling", &c.Autoscaling)
	c.Cluster.Capacity = defaultCapacity()
	l.object("capacity", &c.Cluster.Capacity)
	c.Alarms = defaultAlarms()
	l.object("alarms", &c.Alarms)
	l.object("jobs", &c.Jobs)
	l.object("worker", &c.Worker)
	c.Database = defaultDatabase()
	l.object("database", &c.Database)
	c.Cache = defaultCache()
	l.object("cache", &c.Cache)
	c.Domain = defaultDomain()
	l.object("domain", &c.Domain)
	c.Network.Settings = defaultNetworkSettings()
	l.object("network", &c.Network.Settings)
	c.Alerts = defaultAlerts()
	l.object("alerts", &c.Alerts)
	c.Repository = defaultRepository()
	l.object("repository", &c.Repository)
	c.Migrate = defaultMigrate()
	l.object("migrate", &c.Migrate)
	c.PolicyWaivers = l.stringMap("policyWaivers")
	c.RunbookURL = l.optionalStr("runbookUrl")
	if c.Cluster.DesiredInstances == 0 {
		c.Cluster.DesiredInstances = c.Cluster.MinInstances
	}
	// Type errors first: range checks on a value that failed to parse would only add noise.
	if err := errors.Join(l.errs...); err != nil {
		return nil, fmt.Errorf("invalid configuration for stack %q:\n%w", stack, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration for stack %q:\n%w", stack, err)
	}
	return c, nil
}

// loader reads typed values, collecting a key-naming error for each one that does not parse.
type loader struct {
	get   func(key string) string
	stack string
	errs  []error
}

func (l *loader) fail(key, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (l *loader) optionalStr(key string) string { return strings.TrimSpace(l.get(key)) }

// str reads a key that Pulumi.yaml gives a default; missing means the program runs outside the project.
func (l *loader) str(key string) string {
	v := l.optionalStr(key)
	if v == "" {
		l.fail(key, "is required (Pulumi.yaml declares its default; set it with `pulumi config set %s <value> --stack %s`)", key, l.stack)
	}
	return v
}

func (l *loader) optionalInt(key string) int {
	raw := l.optionalStr(key)
	if raw == "" {
		return 0
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		l.fail(key, "must be a whole number (got %q)", raw)
	}
	return n
}

func (l *loader) integer(key string) int {
	if l.str(key) == "" {
		return 0
	}
	return l.optionalInt(key)
}

func (l *loader) boolean(key string) bool {
	raw := l.str(key)
	if raw == "" {
		return false
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		l.fail(key, "must be true or false (got %q)", raw)
	}
	return b
}

func (l *loader) stringMap(key string) map[string]string {
	out := map[string]string{}
	raw := l.optionalStr(key)
	if raw == "" {
		return out
	}
	var values map[string]any
	if err := json.Unmarshal([]byte(raw), &values); err != nil {
		l.fail(key, "must be a map of names to strings (got %q)", raw)
		return out
	}
	for k, v := range values {
		switch v := v.(type) {
		case string:
			out[k] = v
		case float64, bool:
			// YAML writes `PORT: 3000` as a number; the container sees text either way.
			out[k] = fmt.Sprint(v)
		default:
			l.fail(key, "value of %q must be a string (got %v)", k, v)
		}
	}
	return out
}

// object decodes a JSON value over target, which holds the field defaults. Every field name must be
// one of the target's exactly (a typo such as cpuTraget or cputarget is an error, not ignored), and
// every such problem and wrong-typed value is reported with its path (fieldProblems); only then
// does the decoder fill target.
func (l *loader) object(key string, target any) {
	raw := l.optionalStr(key)
	if raw == "" {
		return
	}
	if json.Valid([]byte(raw)) {
		problems := fieldProblems(key, json.RawMessage(raw), reflect.TypeOf(target))
		for _, p := range problems {
			l.errs = append(l.errs, errors.New(p))
		}
		if len(problems) > 0 {
			return
		}
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		l.fail(key, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
}

var (
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// A tag or digest is required so a deploy is reproducible; registry ports make a plain ":" test wrong.
	imageRef          = regexp.MustCompile(`^[a-z0-9][a-z0-9._\-/:]*[a-z0-9](:[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}|@sha256:[a-f0-9]{64})$`)
	imageTag          = regexp.MustCompile(`:([A-Za-z0-9_][A-Za-z0-9_.\-]{0,127})$`)
	secretLookingName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL)`)
	webACLArn         = regexp.MustCompile(`^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]{1,128}/[0-9a-f-]{36}$`)
	certificateArn    = regexp.MustCompile(`^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}$`)
	SSMParameterARN   = regexp.MustCompile(`^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9_.\-/]+$`)
	// Secrets Manager ARNs may carry ECS's ":json-key:version-stage:version-id" suffix; "!" appears in
	// the names of secrets that services such as RDS manage.
	SecretsManagerARN = regexp.MustCompile(`^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!\-]+)(:[^:]*:[^:]*:[^:]*)?$`)
	healthMatcher     = regexp.MustCompile(`^[0-9]{3}(-[0-9]{3})?(,[0-9]{3}(-[0-9]{3})?)*$`)
	containerUser     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)
	healthPath        = regexp.MustCompile(`^/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*$`)
)

// LogRetentionDays are the values CloudWatch Logs accepts.
var LogRetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Validate checks every value and their combinations, gathering all problems into one error.
func (c *Config) Validate() error {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	between := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			fail(key, "must be between %d and %d (got %d)", lo, hi, v)
		}
	}

	if c.Region == "" {
		fail("aws:region", "is required (got nothing; run `pulumi config set aws:region <region> --stack %s`)", c.Stack)
	}
	validateTags(c.Tags, fail)

	validateNetwork(c, fail)

	// Load balancer.
	lb := c.LoadBalancer
	switch {
	case lb.CertificateArn == "":
	case !certificateArn.MatchString(lb.CertificateArn):
		fail("certificateArn", "must be an ACM certificate ARN like arn:aws:acm:<region>:<account>:certificate/<id> (got %q)", lb.CertificateArn)
	default:
		// "Certificates in ACM are regional resources" (ACM, Supported Regions): a certificate of
		// another region fails only at CreateListener, after the load balancer exists.
		validateSameRegion(c, "certificateArn", lb.CertificateArn, "an ACM certificate",
			"a load balancer uses only certificates of its own region; request or import the certificate there", fail)
	}
	switch {
	case lb.WebACLArn == "":
	case !webACLArn.MatchString(lb.WebACLArn):
		fail("webAclArn", "must be a regional WAFv2 web ACL ARN like arn:aws:wafv2:<region>:<account>:regional/webacl/<name>/<id> (got %q)", lb.WebACLArn)
	default:
		// "The web ACL ... must be located in the Region where the associated resource is located"
		// (AWS WAF, Resources that you can protect): otherwise AssociateWebACL fails after the
		// load balancer exists.
		validateSameRegion(c, "webAclArn", lb.WebACLArn, "a regional web ACL",
			"a web ACL protects only resources of its own region; create one there", fail)
	}
	between("idleTimeout", lb.IdleTimeout, 1, 4000)
	between("deregistrationDelay", lb.DeregistrationDelay, 0, 3600)
	hc := lb.HealthCheck
	if !strings.HasPrefix(hc.Path, "/") || !healthPath.MatchString(hc.Path) || len(hc.Path) > 1024 {
		fail("healthCheckPath", "must be a URL path starting with / (got %q)", hc.Path)
	}
	validateMatcher(hc.Matcher, fail)
	between("healthCheckInterval", hc.Interval, 5, 300)
	between("healthCheckTimeout", hc.Timeout, 2, 120)
	if hc.Timeout >= hc.Interval {
		fail("healthCheckTimeout", "must be less than healthCheckInterval (got %d, interval %d)", hc.Timeout, hc.Interval)
	}
	between("healthyThreshold", hc.HealthyThreshold, 2, 10)
	between("unhealthyThreshold", hc.UnhealthyThreshold, 2, 10)

	// Cluster capacity.
	cl := &c.Cluster
	shape, err := ParseInstanceType(cl.InstanceType)
	if err != nil {
		fail("instanceType", "%v (got %q)", err, cl.InstanceType)
	}
	cl.Shape = shape
	if cl.MinInstances < 1 {
		fail("minInstances", "must be at least 1 (got %d)", cl.MinInstances)
	}
	if cl.MaxInstances < 1 {
		fail("maxInstances", "must be at least 1 (got %d)", cl.MaxInstances)
	}
	if cl.MinInstances > cl.MaxInstances {
		fail("minInstances", "must not exceed maxInstances (got %d > %d)", cl.MinInstances, cl.MaxInstances)
	}
	if cl.DesiredInstances < cl.MinInstances || cl.DesiredInstances > cl.MaxInstances {
		fail("desiredInstances", "must be between minInstances and maxInstances (got %d, range %d-%d)", cl.DesiredInstances, cl.MinInstances, cl.MaxInstances)
	}
	between("rootVolumeSize", cl.RootVolumeSize, 30, 16384)

	// Service.
	s := c.Service
	validateImage(s.Image, c.IsProduction(), c.Stack, fail)
	between("containerPort", s.ContainerPort, 1, 65535)
	between("cpu", s.CPU, 128, 10240)
	between("memory", s.Memory, 128, 120*1024)
	if s.DesiredCount < 1 {
		fail("desiredCount", "must be at least 1 (got %d)", s.DesiredCount)
	}
	between("healthCheckGracePeriod", s.HealthCheckGracePeriod, 0, 7200)
	between("stopTimeout", s.StopTimeout, 2, 7200)
	if s.StopTimeout <= lb.DeregistrationDelay {
		fail("stopTimeout", "must be longer than deregistrationDelay so in-flight requests finish before the container is killed (got %d, deregistrationDelay %d)", s.StopTimeout, lb.DeregistrationDelay)
	}
	if !containsInt(LogRetentionDays, s.LogRetentionDays) {
		fail("logRetentionDays", "must be one of CloudWatch's retention values %v (got %d)", LogRetentionDays, s.LogRetentionDays)
	}
	validateEnv(s.Env, s.Secrets, fail)
	if !envName.MatchString(s.CronFlag) {
		fail("cronFlag", "must be an environment variable name (got %q)", s.CronFlag)
	}
	if _, ok := s.Env[s.CronFlag]; ok {
		fail("env", "%q is set by the program (cronFlag): false in the API, true in job tasks", s.CronFlag)
	}
	if _, ok := s.Secrets[s.CronFlag]; ok {
		fail("secrets", "%q is set by the program (cronFlag)", s.CronFlag)
	}
	validateSecrets(s.Secrets, fail)
	validateAutoscaling(c, fail)
	validateCapacity(c, fail)
	validateAlarms(c.Alarms, fail)
	validateDatabase(c, fail)
	validateCache(c, fail)
	validateDomain(c, fail)
	validateAlerts(c, fail)
	validateRunbookURL(c.RunbookURL, fail)
	validateRepository(c, fail)
	validateMigrate(c, fail)
	if u := s.User; u != "" && !containerUser.MatchString(u) {
		fail("containerUser", "must be a user name or uid, optionally :group or :gid (got %q)", u)
	} else if u == "root" || u == "0" || strings.HasPrefix(u, "0:") || strings.HasPrefix(u, "root:") {
		fail("containerUser", "must not be root; leave it empty to keep the image's user (got %q)", u)
	}
	for _, id := range slices.Sorted(maps.Keys(c.PolicyWaivers)) {
		if !controlid.Known(id) {
			fail("policyWaivers", "%q is not a control of the policy suite (see docs/security.md)", id)
		}
		if len(strings.TrimSpace(c.PolicyWaivers[id])) < 10 {
			fail("policyWaivers", "%q needs a reason of at least 10 characters", id)
		}
	}
	if err == nil {
		validateFit(c, fail)
		validateJobs(c, fail)
	}
	return errors.Join(errs...)
}

func validateTags(tags map[string]string, fail func(string, string, ...any)) {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if k == "" || len(k) > 128 || strings.HasPrefix(strings.ToLower(k), "aws:") {
			fail("tags", "tag key %q must be 1-128 characters and not start with aws:", k)
		}
		if len(tags[k]) > 256 {
			fail("tags", "tag %q is longer than 256 characters", k)
		}
	}
}

func validateCIDR(cidr string, azCount int, fail func(string, string, ...any)) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() {
		fail("vpcCidr", "must be an IPv4 CIDR block like 10.0.0.0/16 (got %q)", cidr)
		return
	}
	if prefix.Masked() != prefix {
		fail("vpcCidr", "has host bits set; did you mean %s? (got %q)", prefix.Masked(), cidr)
	}
	if prefix.Bits() < 16 || prefix.Bits() > 28 {
		fail("vpcCidr", "prefix must be between /16 and /28, AWS's VPC limits (got %q)", cidr)
		return
	}
	// awsx's Auto strategy gives each AZ an equal power-of-two slice and splits it into a public
	// and a private subnet (subnetDistributorNew.ts: azBitmask + newBits(2)). The load balancer's
	// nodes take their addresses from the public subnets, and AWS asks for "a CIDR block with at
	// least a /27 bitmask ... and at least 8 free IP addresses" in each ("Subnets for your load
	// balancer", ALB User Guide): a /28 has 11 usable addresses, before the NAT's.
	azBits := 0
	for 1<<azBits < azCount {
		azBits++
	}
	if subnetBits := prefix.Bits() + azBits + 1; subnetBits > MaxLoadBalancerSubnetBits {
		fail("vpcCidr", "is too small for azCount %d: the public subnets would be /%d, and each load balancer subnet needs at least a /%d with 8 free addresses; use a /%d or larger block, or fewer AZs (got %q)",
			azCount, subnetBits, MaxLoadBalancerSubnetBits, MaxLoadBalancerSubnetBits-azBits-1, cidr)
	}
}

// MaxLoadBalancerSubnetBits is the smallest subnet AWS asks for under a load balancer: a /27.
const MaxLoadBalancerSubnetBits = 27

// validateSameRegion refuses an ARN of another region or partition than the stack's. A regional
// resource of another region passes the ARN's format and every mock, and fails only when AWS is
// asked to use it, after the load balancer exists.
func validateSameRegion(c *Config, key, arn, what, why string, fail func(string, string, ...any)) {
	if c.Region == "" {
		return // reported as aws:region
	}
	switch partition, region := arnField(arn, 1), arnField(arn, 3); {
	case region != c.Region:
		fail(key, "is %s in region %s, but stack %s deploys to %s: %s (got %q)", what, region, c.Stack, c.Region, why, arn)
	case partition != c.Partition():
		fail(key, "is %s of partition %s, but stack %s deploys to %s, in %s (got %q)", what, partition, c.Stack, c.Region, c.Partition(), arn)
	}
}

func validateMatcher(matcher string, fail func(string, string, ...any)) {
	if !healthMatcher.MatchString(matcher) {
		fail("healthCheckMatcher", "must be HTTP codes like 200, 200,204 or 200-299 (got %q)", matcher)
		return
	}
	for _, part := range strings.FieldsFunc(matcher, func(r rune) bool { return r == ',' || r == '-' }) {
		if code, _ := strconv.Atoi(part); code < 200 || code > 499 {
			fail("healthCheckMatcher", "codes must be between 200 and 499 (got %q)", matcher)
			return
		}
	}
}

// IsImageReference reports whether image names a repository with a tag or a digest, as the
// image key requires.
func IsImageReference(image string) bool { return imageRef.MatchString(image) }

func validateImage(image string, production bool, stack string, fail func(string, string, ...any)) {
	switch {
	case image == "":
		fail("image", "is required: the container image URI to deploy (run `pulumi config set image <repo>:<tag> --stack %s`)", stack)
	case !imageRef.MatchString(image):
		fail("image", "must name a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:1.4.2 (got %q)", image)
	case production && !strings.Contains(image, "@sha256:") && imageTag.FindStringSubmatch(image)[1] == "latest":
		fail("image", "must not use the mutable tag latest in a production stack; pin a version or digest (got %q)", image)
	}
}

func validateEnv(env, secrets map[string]string, fail func(string, string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(env)) {
		if !envName.MatchString(name) {
			fail("env", "%q is not a valid environment variable name (letters, digits, underscores; not starting with a digit)", name)
		}
		if _, dup := secrets[name]; dup {
			fail("env", "%q is also in secrets; a variable comes from one place", name)
		}
		if secretLookingName.MatchString(name) {
			fail("env", "%q looks like a secret; move it to secrets as an SSM parameter or Secrets Manager ARN", name)
		}
	}
}

func validateSecrets(secrets map[string]string, fail func(string, string, ...any)) {
	for _, name := range slices.Sorted(maps.Keys(secrets)) {
		if !envName.MatchString(name) {
			fail("secrets", "%q is not a valid environment variable name", name)
		}
		if ref := secrets[name]; !SSMParameterARN.MatchString(ref) && !SecretsManagerARN.MatchString(ref) {
			fail("secrets", "%q must be an SSM parameter ARN or a Secrets Manager secret ARN, never a plaintext value (got a %d-character value that is neither)", name, len(ref))
		}
	}
}

// validateFit refuses a service that could never be placed: during a rollout ECS runs up to twice
// the desired count (maximum 200 %), and with minimum healthy at 100 % a rollout with no room stalls.
func validateFit(c *Config, fail func(string, string, ...any)) {
	shape, s, cl := c.Cluster.Shape, c.Service, c.Cluster
	if s.CPU < 1 || s.Memory < 1 || cl.MaxInstances < 1 {
		return // already reported by their range checks; there is nothing to divide by
	}
	if s.CPU > shape.CPUUnits() {
		fail("cpu", "%d units do not fit on one %s (%d units)", s.CPU, cl.InstanceType, shape.CPUUnits())
		return
	}
	if s.Memory > shape.TaskMemoryMiB() {
		fail("memory", "%d MiB does not fit on one %s (about %d MiB usable for tasks)", s.Memory, cl.InstanceType, shape.TaskMemoryMiB())
		return
	}
	capacity := capacityTasks(c)
	if needed := 2 * s.DesiredCount; capacity < needed {
		fail("desiredCount", "%d tasks need room for %d during a rollout, but maxInstances %d x %s hold only %d tasks of %d MiB / %d CPU units; raise maxInstances or use a larger instanceType",
			s.DesiredCount, needed, cl.MaxInstances, cl.InstanceType, capacity, s.Memory, s.CPU)
	}
	// At the peak the stack can reach, a rollout (minimum healthy 100 %) must still place new tasks
	// beside the old ones, or a hotfix waits in PROVISIONING until the circuit breaker rolls it back.
	peak, key := PeakTasks(c)
	room, others := RolloutRoom(peak), OtherTaskSlots(c)
	if needed := peak + room + others; capacity < needed {
		fail(key, "the service can reach %d tasks; a rollout at that peak needs room for %d new ones (a tenth, at least one) and %d for the worker and jobs: %d in all, but maxInstances %d x %s hold only %d tasks of %d MiB / %d CPU units; raise maxInstances to %d or lower %s",
			peak, room, others, needed, cl.MaxInstances, cl.InstanceType, capacity, s.Memory, s.CPU, instancesFor(c, needed), key)
	}
}

// PeakTasks is the highest task count the API service can reach, and the setting that allows it:
// desiredCount, or with autoscaling its maxTasks or a scheduled action's maxTasks.
func PeakTasks(c *Config) (int, string) {
	peak, key := c.Service.DesiredCount, "desiredCount"
	if a := c.Autoscaling; a.Enabled {
		if a.MaxTasks > peak {
			peak, key = a.MaxTasks, "autoscaling.maxTasks"
		}
		for _, sched := range a.Scheduled {
			if sched.MaxTasks > peak {
				peak, key = sched.MaxTasks, "autoscaling.scheduled["+sched.Name+"].maxTasks"
			}
		}
	}
	return peak, key
}

// RolloutRoom is how many new tasks must fit beside peak running ones for a rollout to progress:
// a tenth of the peak, rounded up, and at least one.
func RolloutRoom(peak int) int { return max(1, (peak+9)/10) }

// OtherTaskSlots counts the worker and one run of each job in API-task-sized slots, since they
// share the instances: a task twice the API's size takes two.
func OtherTaskSlots(c *Config) int {
	slots := func(cpu, memory int) int {
		cpu, memory = cmp.Or(cpu, c.Service.CPU), cmp.Or(memory, c.Service.Memory)
		return max((cpu+c.Service.CPU-1)/c.Service.CPU, (memory+c.Service.Memory-1)/c.Service.Memory)
	}
	n := 0
	if c.Worker.Enabled {
		n += slots(c.Worker.CPU, c.Worker.Memory)
	}
	for _, j := range c.Jobs {
		n += slots(j.CPU, j.Memory)
	}
	return n
}

// instancesFor is the maxInstances that holds tasks API tasks, for the error message.
func instancesFor(c *Config, tasks int) int {
	shape, s := c.Cluster.Shape, c.Service
	perInstance := max(1, min(shape.TaskMemoryMiB()/s.Memory, shape.CPUUnits()/s.CPU))
	spot := capacityTasks(c) - perInstance*c.Cluster.MaxInstances
	return max(c.Cluster.MinInstances, (tasks-spot+perInstance-1)/perInstance)
}

func containsInt(values []int, v int) bool {
	for _, x := range values {
		if x == v {
			return true
		}
	}
	return false
}
