package infra

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// webACLAssociationType is pulumi-aws's wafv2.WebAclAssociation. The resource is registered by its
// type token so the program does not compile the whole wafv2 package (about 12 MB of generated Go,
// most of it rule statements) for two string inputs.
const webACLAssociationType = "aws:wafv2/webAclAssociation:WebAclAssociation"

type webACLAssociation struct {
	pulumi.CustomResourceState
}

// associateWebACL puts an existing WAF web ACL (Security Hub ELB.16) in front of the load balancer.
func associateWebACL(ctx *pulumi.Context, name string, loadBalancerArn pulumi.StringInput, webACLArn string, opts ...pulumi.ResourceOption) error {
	var res webACLAssociation
	return ctx.RegisterResource(webACLAssociationType, name, pulumi.Map{
		"resourceArn": loadBalancerArn,
		"webAclArn":   pulumi.String(webACLArn),
	}, &res, opts...)
}
