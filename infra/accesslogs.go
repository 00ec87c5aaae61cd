package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AccessLogPrefix is where the load balancer writes in its bucket.
const AccessLogPrefix = "alb"

// elbLogAccounts are the Elastic Load Balancing accounts of the legacy bucket policy, by region:
// every region of the list in "Enable access logs for your Application Load Balancer" (ALB User
// Guide: "Previously, for Regions available before August 2022, we required a policy that granted
// permissions to an ELB account that was specific to the Region. This legacy policy is still
// supported ... Regions that are not in this list do not support the legacy policy"), and China's
// two (terraform-provider-aws, aws_elb_service_account). For every region, listed or not, the guide
// gives the policy for the logdelivery.elasticloadbalancing.amazonaws.com service principal, which
// the bucket policy always carries; the legacy statement is added where the region has an account.
var elbLogAccounts = map[string]string{
	"us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980", "us-west-2": "797873946194",
	"af-south-1": "098369216593", "ap-east-1": "754344448648", "ap-southeast-3": "589379963580", "ap-south-1": "718504428378",
	"ap-northeast-3": "383597477331", "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450",
	"ap-southeast-2": "783225319266", "ap-northeast-1": "582318560864", "ca-central-1": "985666609251",
	"eu-central-1": "054676820928", "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
	"eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225", "sa-east-1": "507241528517",
	"us-gov-east-1": "190560391635", "us-gov-west-1": "048591011584",
	"cn-north-1": "638102146993", "cn-northwest-1": "037604701340",
}

// accessLogBucket creates the private, encrypted bucket the load balancer writes its access logs to
// (Security Hub ELB.5), with a policy that lets only ELB's log delivery write, only over TLS.
// It returns the bucket and the policy, which must exist before the load balancer enables logging.
func accessLogBucket(ctx *pulumi.Context, name string, args *LoadBalancerArgs, parent pulumi.ResourceOrInvokeOption) (*s3.BucketV2, *s3.BucketPolicy, error) {
	// ELB writes under <prefix>/AWSLogs/<the load balancer's account>/: the policy admits that path
	// of this account only.
	caller, err := aws.GetCallerIdentity(ctx, nil, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("access log bucket: account: %w", err)
	}
	bucket, err := s3.NewBucketV2(ctx, name+"-access-logs", &s3.BucketV2Args{
		// A stack without deletion protection must be destroyable, logs and all.
		ForceDestroy: pulumi.Bool(!args.Config.DeletionProtection),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("access log bucket: %w", err)
	}
	if _, err := s3.NewBucketPublicAccessBlock(ctx, name+"-access-logs-private", &s3.BucketPublicAccessBlockArgs{
		Bucket:                bucket.ID(),
		BlockPublicAcls:       pulumi.Bool(true),
		BlockPublicPolicy:     pulumi.Bool(true),
		IgnorePublicAcls:      pulumi.Bool(true),
		RestrictPublicBuckets: pulumi.Bool(true),
	}, parent); err != nil {
		return nil, nil, fmt.Errorf("access log bucket public access block: %w", err)
	}
	if _, err := s3.NewBucketOwnershipControls(ctx, name+"-access-logs-owner", &s3.BucketOwnershipControlsArgs{
		Bucket: bucket.ID(),
		Rule:   &s3.BucketOwnershipControlsRuleArgs{ObjectOwnership: pulumi.String("BucketOwnerEnforced")},
	}, parent); err != nil {
		return nil, nil, fmt.Errorf("access log bucket ownership: %w", err)
	}
	// ELB writes access logs only to buckets encrypted with S3-managed keys.
	if _, err := s3.NewBucketServerSideEncryptionConfigurationV2(ctx, name+"-access-logs-sse", &s3.BucketServerSideEncryptionConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketServerSideEncryptionConfigurationV2RuleArray{&s3.BucketServerSideEncryptionConfigurationV2RuleArgs{
			ApplyServerSideEncryptionByDefault: &s3.BucketServerSideEncryptionConfigurationV2RuleApplyServerSideEncryptionByDefaultArgs{
				SseAlgorithm: pulumi.String("AES256"),
			},
		}},
	}, parent); err != nil {
		return nil, nil, fmt.Errorf("access log bucket encryption: %w", err)
	}
	if _, err := s3.NewBucketLifecycleConfigurationV2(ctx, name+"-access-logs-expiry", &s3.BucketLifecycleConfigurationV2Args{
		Bucket: bucket.ID(),
		Rules: s3.BucketLifecycleConfigurationV2RuleArray{&s3.BucketLifecycleConfigurationV2RuleArgs{
			Id:         pulumi.String("expire-access-logs"),
			Status:     pulumi.String("Enabled"),
			Filter:     &s3.BucketLifecycleConfigurationV2RuleFilterArgs{Prefix: pulumi.String(AccessLogPrefix + "/")},
			Expiration: &s3.BucketLifecycleConfigurationV2RuleExpirationArgs{Days: pulumi.Int(args.AccessLogRetentionDays)},
		}},
	}, parent); err != nil {
		return nil, nil, fmt.Errorf("access log bucket lifecycle: %w", err)
	}
	elbAccount := elbLogAccounts[args.Region]
	policy, err := s3.NewBucketPolicy(ctx, name+"-access-logs-policy", &s3.BucketPolicyArgs{
		Bucket: bucket.ID(),
		Policy: bucket.Arn.ApplyT(func(arn string) string {
			return accessLogBucketPolicy(arn, args.Partition, caller.AccountId, elbAccount)
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, nil, fmt.Errorf("access log bucket policy: %w", err)
	}
	return bucket, policy, nil
}

// accessLogBucketPolicy admits ELB's log delivery to this account's logs under the prefix, and
// refuses any request without TLS. The resource names the account because that is what keeps other
// accounts' load balancers out: "Always include the account ID of the account with the load
// balancer in the resource path of the S3 bucket ARN. This ensures that only load balancers from
// the specified account can write access logs to the S3 bucket" (ALB User Guide). AWS documents no
// aws:SourceAccount for ELB log delivery, so the policy does not rely on one. elbAccount is the
// region's legacy ELB account, "" where there is none.
func accessLogBucketPolicy(bucketArn, partition, account, elbAccount string) string {
	logs := []string{fmt.Sprintf("%s/%s/AWSLogs/%s/*", bucketArn, AccessLogPrefix, account)}
	statements := []PolicyStatement{{
		Sid:       "ElbLogDelivery",
		Effect:    "Allow",
		Principal: map[string]string{"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
		Action:    []string{"s3:PutObject"},
		Resource:  logs,
	}}
	if elbAccount != "" {
		statements = append(statements, PolicyStatement{
			Sid:       "ElbLogDeliveryLegacyRegion",
			Effect:    "Allow",
			Principal: map[string]string{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", partition, elbAccount)},
			Action:    []string{"s3:PutObject"},
			Resource:  logs,
		})
	}
	statements = append(statements, PolicyStatement{
		Sid:       "DenyInsecureTransport",
		Effect:    "Deny",
		Principal: map[string]string{"AWS": "*"},
		Action:    []string{"s3:*"},
		Resource:  []string{bucketArn, bucketArn + "/*"},
		Condition: map[string]map[string]string{"Bool": {"aws:SecureTransport": "false"}},
	})
	return PolicyDocument{Statement: statements}.JSON()
}
