package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// Services that publish the stack's alerts: CloudWatch for alarms, EventBridge for rules.
const (
	cloudWatchPrincipal  = "cloudwatch.amazonaws.com"
	eventBridgePrincipal = "events.amazonaws.com"
)

// AlertTopic is where the stack's alerts go: an SNS topic encrypted with a key of its own, the
// e-mail subscriptions, and (with a cache) the topic ElastiCache publishes its events to.
type AlertTopic struct {
	pulumi.ResourceState

	TopicArn pulumi.StringOutput `pulumi:"topicArn"`
	KeyArn   pulumi.StringOutput `pulumi:"keyArn"`
	// CacheEventsTopicArn is set when CacheEvents was asked for.
	CacheEventsTopicArn pulumi.StringOutput `pulumi:"cacheEventsTopicArn"`
	// PendingConfirmations are the e-mail subscriptions nobody has confirmed yet, as
	// "<topic>: <address>", as of the last `pulumi up` or `pulumi refresh`.
	PendingConfirmations pulumi.StringArrayOutput `pulumi:"pendingConfirmations"`
	// Destinations are the topics every alarm and rule notifies: the stack's, and the configured one.
	Destinations pulumi.StringArray
}

// AlertTopicArgs: the alerts config and where the stack runs.
type AlertTopicArgs struct {
	Config    config.AlertsConfig
	Region    string
	Partition string
	// CacheEvents adds the topic for ElastiCache's own events (failover, node replacement).
	CacheEvents bool
}

// NewAlertTopic creates the key, the topic, its policy and the subscriptions.
//
// The key is customer managed: CloudWatch cannot use the AWS-managed alias/aws/sns key, whose policy
// no one can change, and silently drops alarm notifications to a topic encrypted with it ("Amazon
// SNS: Encryption at rest", "Enable compatibility between event sources and encrypted topics").
func NewAlertTopic(ctx *pulumi.Context, name string, args *AlertTopicArgs, opts ...pulumi.ResourceOption) (*AlertTopic, error) {
	if args == nil || !args.Config.Enabled {
		return nil, fmt.Errorf("alert topic %s: alerts are not enabled in the config", name)
	}
	if args.Partition == "" || args.Region == "" {
		return nil, fmt.Errorf("alert topic %s: the region and partition are required: the policies name ARNs", name)
	}
	t := &AlertTopic{}
	if err := ctx.RegisterComponentResource(componentType(ctx, "AlertTopic"), name, t, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(t)
	caller, err := aws.GetCallerIdentity(ctx, nil, parent)
	if err != nil {
		return nil, fmt.Errorf("alert topic %s: account: %w", name, err)
	}

	key, err := kms.NewKey(ctx, name+"-key", &kms.KeyArgs{
		Description:          pulumi.Sprintf("Encrypts the %s/%s alert topic; CloudWatch and EventBridge may use it", ctx.Project(), ctx.Stack()),
		EnableKeyRotation:    pulumi.Bool(true),
		DeletionWindowInDays: pulumi.Int(30),
		Policy:               pulumi.String(AlertKeyPolicy(args.Partition, caller.AccountId)),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("alert topic %s: key: %w", name, err)
	}
	if _, err := kms.NewAlias(ctx, name+"-key-alias", &kms.AliasArgs{
		Name:        pulumi.String("alias/" + taskFamily(ctx.Project(), ctx.Stack(), name)),
		TargetKeyId: key.KeyId,
	}, parent); err != nil {
		return nil, fmt.Errorf("alert topic %s: key alias: %w", name, err)
	}

	topic, err := sns.NewTopic(ctx, name, &sns.TopicArgs{
		DisplayName:    pulumi.String(topicDisplayName(ctx.Project(), ctx.Stack(), "alerts")),
		KmsMasterKeyId: key.Arn,
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("alert topic %s: topic: %w", name, err)
	}
	policy, err := sns.NewTopicPolicy(ctx, name+"-policy", &sns.TopicPolicyArgs{
		Arn: topic.Arn,
		Policy: topic.Arn.ApplyT(func(arn string) string {
			return AlertTopicPolicy(args.Partition, args.Region, caller.AccountId, arn)
		}).(pulumi.StringOutput),
	}, parent)
	if err != nil {
		return nil, fmt.Errorf("alert topic %s: topic policy: %w", name, err)
	}
	pending, err := subscribeEmails(ctx, name, "alerts", topic.Arn, args.Config.Emails, nil, parent)
	if err != nil {
		return nil, fmt.Errorf("alert topic %s: %w", name, err)
	}

	// Alarms and rules that publish before the topic policy exists lose their first messages.
	t.TopicArn = pulumi.All(topic.Arn, policy.ID()).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
	t.KeyArn = key.Arn
	t.Destinations = pulumi.StringArray{t.TopicArn}
	if args.Config.TopicArn != "" {
		t.Destinations = append(t.Destinations, pulumi.String(args.Config.TopicArn))
	}
	outputs := pulumi.Map{"topicArn": t.TopicArn, "keyArn": t.KeyArn}

	if args.CacheEvents {
		// ElastiCache cannot publish to an encrypted topic: it shows one as inactive and drops its
		// events ("Event Notifications and Amazon SNS", ElastiCache User Guide), and node-based
		// clusters send failovers to SNS only, not to EventBridge. So the cache gets a topic of its
		// own, without customer data (event names and node ids), with the same subscribers.
		cacheTopic, err := sns.NewTopic(ctx, name+"-cache-events", &sns.TopicArgs{
			DisplayName: pulumi.String(topicDisplayName(ctx.Project(), ctx.Stack(), "cache events")),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("alert topic %s: cache events topic: %w", name, err)
		}
		// A topic's policy replaces SNS's default one, which newly created topics write with
		// aws:SourceAccount: "If the policy uses aws:SourceAccount (which is now the default for
		// newly created topics), ElastiCache cannot publish to the topic" ("Event Notifications and
		// Amazon SNS", ElastiCache User Guide).
		cachePolicy, err := sns.NewTopicPolicy(ctx, name+"-cache-events-policy", &sns.TopicPolicyArgs{
			Arn: cacheTopic.Arn,
			Policy: cacheTopic.Arn.ApplyT(func(arn string) string {
				return CacheEventsTopicPolicy(caller.AccountId, arn)
			}).(pulumi.StringOutput),
		}, parent)
		if err != nil {
			return nil, fmt.Errorf("alert topic %s: cache events topic policy: %w", name, err)
		}
		// Only failovers, replacements and failures reach people; ElastiCache also sends a
		// SnapshotComplete for every daily backup.
		cacheFilter := &cacheEventsFilter{Policy: CacheEventsFilterPolicy(), Scope: "MessageBody"}
		cachePending, err := subscribeEmails(ctx, name+"-cache-events", "cache events", cacheTopic.Arn, args.Config.Emails, cacheFilter, parent)
		if err != nil {
			return nil, fmt.Errorf("alert topic %s: cache events: %w", name, err)
		}
		pending = append(pending, cachePending...)
		// ElastiCache marks a topic it cannot publish to inactive: the cache gets its ARN once the
		// policy that admits it exists.
		t.CacheEventsTopicArn = pulumi.All(cacheTopic.Arn, cachePolicy.ID()).ApplyT(func(v []any) string { return v[0].(string) }).(pulumi.StringOutput)
		outputs["cacheEventsTopicArn"] = t.CacheEventsTopicArn
	}
	t.PendingConfirmations = pulumi.All(pending...).ApplyT(func(v []any) []string {
		out := []string{}
		for _, p := range v {
			if s := p.(string); s != "" {
				out = append(out, s)
			}
		}
		slices.Sort(out)
		return out
	}).(pulumi.StringArrayOutput)
	outputs["pendingConfirmations"] = t.PendingConfirmations
	return t, ctx.RegisterResourceOutputs(t, outputs)
}

// cacheEventsFilter is a subscription filter policy and the part of the message it applies to.
type cacheEventsFilter struct{ Policy, Scope string }

// subscribeEmails subscribes each address to the topic, each subscription named by its address so
// that removing or reordering addresses replaces no other subscription. Each gets a confirmation
// mail from AWS; nothing reaches it until someone follows its link, and SNS deletes it unconfirmed
// after 48 hours ("Deleting an Amazon SNS subscription and topic"). It returns, per address,
// "<topic>: <address>" while the subscription is pending confirmation, and "" once confirmed.
func subscribeEmails(ctx *pulumi.Context, prefix, topicLabel string, topicArn pulumi.StringInput, emails []string, filter *cacheEventsFilter,
	parent pulumi.ResourceOption) ([]any, error) {
	var pending []any
	for i, email := range emails {
		args := &sns.TopicSubscriptionArgs{
			Topic:    topicArn,
			Protocol: pulumi.String("email"),
			Endpoint: pulumi.String(email),
		}
		if filter != nil {
			args.FilterPolicy = pulumi.String(filter.Policy)
			args.FilterPolicyScope = pulumi.String(filter.Scope)
		}
		// Subscriptions were once named by position: the alias adopts each one under its address
		// when the list is unchanged, where a new subscription would get the confirmed one's ARN
		// back from SNS and deleting the old resource would unsubscribe it.
		previous := pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(fmt.Sprintf("%s-email-%d", prefix, i))}})
		// Whatever still replaces a subscription (an alias that does not apply, a change of topic or
		// filter scope) deletes the old one first. Pulumi creates the replacement first by default;
		// Subscribe to an endpoint that is already confirmed returns that subscription's ARN, so the
		// old resource's delete would then unsubscribe the address the new one stands for, and the
		// state would show it subscribed. Deleted first, the address is subscribed anew and shows up
		// in pendingConfirmations until someone confirms it again.
		sub, err := sns.NewTopicSubscription(ctx, EmailSubscriptionName(prefix, email), args, parent, previous,
			pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return nil, fmt.Errorf("subscription %s: %w", email, err)
		}
		label := topicLabel + ": " + email
		pending = append(pending, sub.PendingConfirmation.ApplyT(func(p bool) string {
			if p {
				return label
			}
			return ""
		}).(pulumi.StringOutput))
	}
	return pending, nil
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// maxEmailSlug keeps subscription names readable; the hash keeps them apart.
const maxEmailSlug = 40

// EmailSubscriptionName is the logical name of an address's subscription: the lower-cased address
// as a slug and a hash of it, so addresses that slug alike (a.b@x.io, a-b@x.io) stay apart.
func EmailSubscriptionName(prefix, email string) string {
	lower := strings.ToLower(email)
	slug := strings.Trim(nonSlug.ReplaceAllString(lower, "-"), "-")
	if len(slug) > maxEmailSlug {
		slug = strings.TrimRight(slug[:maxEmailSlug], "-")
	}
	sum := sha256.Sum256([]byte(lower))
	return fmt.Sprintf("%s-email-%s-%s", prefix, slug, hex.EncodeToString(sum[:4]))
}

// CacheEventsTopicPolicy is the statement ElastiCache documents for its notification topic: any
// principal may publish, on behalf of this account's resources only ("AWS:SourceOwner", not
// aws:SourceAccount, which ElastiCache does not send; "Managing ElastiCache Amazon SNS
// notifications").
func CacheEventsTopicPolicy(account, topicArn string) string {
	return PolicyDocument{Statement: []PolicyStatement{{
		Sid: "AllowElastiCachePublish", Effect: "Allow", Principal: map[string]string{"AWS": "*"},
		Action: []string{"sns:Publish"}, Resource: []string{topicArn},
		Condition: map[string]map[string]string{"StringEquals": {"AWS:SourceOwner": account}},
	}}}.JSON()
}

// MaxTopicDisplayName is SNS's limit on a topic's display name, the sender name of its e-mails: 100
// characters of letters, digits, hyphens, underscores and spaces (CreateTopic, DisplayName).
const MaxTopicDisplayName = 100

var displayNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9_ -]+`)

// topicDisplayName is "<project> <stack> <what>" in the characters SNS allows.
func topicDisplayName(project, stack, what string) string {
	name := displayNameUnsafe.ReplaceAllString(project+" "+stack+" "+what, "-")
	if len(name) > MaxTopicDisplayName {
		name = name[:MaxTopicDisplayName]
	}
	return name
}

// AlertKeyPolicy keeps the key administered by the account (IAM policies decide who may) and lets
// CloudWatch and EventBridge encrypt messages for the topic: SNS asks the key for a data key on the
// publisher's behalf, so each publisher needs kms:GenerateDataKey* and kms:Decrypt ("Enable
// compatibility between event sources from AWS services and encrypted topics", SNS Developer Guide).
func AlertKeyPolicy(partition, account string) string {
	publisher := func(sid, service string) PolicyStatement {
		return PolicyStatement{
			Sid: sid, Effect: "Allow", Principal: map[string]string{"Service": service},
			Action: []string{"kms:Decrypt", "kms:GenerateDataKey*"}, Resource: []string{"*"},
		}
	}
	return PolicyDocument{Statement: []PolicyStatement{
		{
			Sid: "AccountAdministersTheKey", Effect: "Allow",
			Principal: map[string]string{"AWS": fmt.Sprintf("arn:%s:iam::%s:root", partition, account)},
			Action:    []string{"kms:*"}, Resource: []string{"*"},
		},
		publisher("CloudWatchAlarmsEncrypt", cloudWatchPrincipal),
		publisher("EventBridgeRulesEncrypt", eventBridgePrincipal),
	}}.JSON()
}

// AlertTopicPolicy admits exactly CloudWatch, for this account's alarms in this region (aws:SourceAccount
// and aws:SourceArn guard against the confused deputy, "Amazon SNS topic policy for CloudWatch
// alarms"), and EventBridge, whose statement carries no condition: EventBridge does not support
// Condition blocks in SNS topic policies ("Amazon SNS permissions", EventBridge User Guide; CDK's
// SnsTopic target grants the same). Principals of the account are governed by their IAM policies.
func AlertTopicPolicy(partition, region, account, topicArn string) string {
	publish := func(sid, service string) PolicyStatement {
		return PolicyStatement{
			Sid: sid, Effect: "Allow", Principal: map[string]string{"Service": service},
			Action: []string{"sns:Publish"}, Resource: []string{topicArn},
		}
	}
	alarms := publish("CloudWatchAlarmsPublish", cloudWatchPrincipal)
	alarms.Condition = map[string]map[string]string{
		"StringEquals": {"aws:SourceAccount": account},
		"ArnLike":      {"aws:SourceArn": fmt.Sprintf("arn:%s:cloudwatch:%s:%s:alarm:*", partition, region, account)},
	}
	return PolicyDocument{Statement: []PolicyStatement{alarms, publish("EventBridgeRulesPublish", eventBridgePrincipal)}}.JSON()
}
