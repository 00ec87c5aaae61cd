package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/config"
)

// CertificateValidationTimeout bounds the wait for ACM to issue the certificate. DNS validation
// usually takes a few minutes once the records exist; a certificate that cannot validate fails here
// instead of after the provider's 75 minutes.
const CertificateValidationTimeout = "20m"

// issuedCertificate requests an ACM certificate for the domain's names, writes the DNS validation
// record of each name into the hosted zone, and waits until ACM issues it. The ARN it returns
// resolves only once the certificate is issued, so the HTTPS listener is created after that.
func issuedCertificate(ctx *pulumi.Context, name string, d config.DomainConfig, zoneID string, parent pulumi.ResourceOption) (*acm.Certificate, pulumi.StringOutput, error) {
	cert, err := acm.NewCertificate(ctx, name+"-cert", &acm.CertificateArgs{
		DomainName:              pulumi.String(d.Name),
		SubjectAlternativeNames: pulumi.ToStringArray(d.Aliases),
		ValidationMethod:        pulumi.String("DNS"),
	}, parent)
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("certificate: %w", err)
	}
	var fqdns pulumi.StringArray
	for i, host := range d.Names() {
		// domainValidationOptions is a set: each name's record is looked up by its name, never by
		// position (pulumi/pulumi-terraform-bridge#2478).
		option := cert.DomainValidationOptions.ApplyT(func(options []acm.CertificateDomainValidationOption) (acm.CertificateDomainValidationOption, error) {
			for _, o := range options {
				if o.DomainName != nil && *o.DomainName == host {
					return o, nil
				}
			}
			return acm.CertificateDomainValidationOption{}, fmt.Errorf("ACM gave no validation record for %s", host)
		}).(acm.CertificateDomainValidationOptionOutput)
		// ACM gives every certificate of this account the same record for a name, in any region
		// (hashicorp/terraform-provider-aws#13653), so the record may be in the zone already, for
		// another stack's certificate: overwrite it (the value is the same), and leave it in the
		// zone when this stack lets go of it, since the other certificate renews through it too.
		record, err := route53.NewRecord(ctx, ValidationRecordName(name, host), &route53.RecordArgs{
			ZoneId:         pulumi.String(zoneID),
			Name:           option.ResourceRecordName().Elem(),
			Type:           option.ResourceRecordType().Elem(),
			Records:        pulumi.StringArray{option.ResourceRecordValue().Elem()},
			Ttl:            pulumi.Int(60),
			AllowOverwrite: pulumi.Bool(true),
		}, parent, formerlyAt(name+"-cert-validation", i), pulumi.RetainOnDelete(true))
		if err != nil {
			return nil, pulumi.StringOutput{}, fmt.Errorf("validation record for %s: %w", host, err)
		}
		fqdns = append(fqdns, record.Fqdn)
	}
	validation, err := acm.NewCertificateValidation(ctx, name+"-cert-validation", &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: fqdns,
	}, parent, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: CertificateValidationTimeout}))
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("certificate validation: %w", err)
	}
	return cert, validation.CertificateArn, nil
}

// hostedZone looks the domain's zone up at deploy time and refuses a zone that does not hold every
// name: ACM could never validate the certificate, and the deploy would wait for nothing.
func hostedZone(ctx *pulumi.Context, d config.DomainConfig, opts ...pulumi.InvokeOption) (string, error) {
	args := &route53.LookupZoneArgs{PrivateZone: pulumi.BoolRef(false)}
	if d.ZoneID != "" {
		args.ZoneId = pulumi.StringRef(d.ZoneID)
	} else {
		args.Name = pulumi.StringRef(d.ZoneName)
	}
	zone, err := route53.LookupZone(ctx, args, opts...)
	if err != nil {
		return "", fmt.Errorf("domain: hosted zone %s%s: %w", d.ZoneID, d.ZoneName, err)
	}
	for _, host := range d.Names() {
		if !config.InZone(host, zone.Name) {
			return "", fmt.Errorf("domain: %s is not in the hosted zone %s (%s): its certificate could never validate; use the zone that holds it",
				host, strings.TrimSuffix(zone.Name, "."), zone.ZoneId)
		}
	}
	return zone.ZoneId, nil
}

// aliasRecords point each name at the load balancer (A; the load balancer is IPv4 only), once the
// HTTPS listener serves: a name never resolves to a load balancer that refuses its https:// URL.
// Unlike validation records they never overwrite: an A record already at the name is someone
// else's site, and CREATE fails rather than take it over.
func aliasRecords(ctx *pulumi.Context, name string, d config.DomainConfig, zoneID string, alb *lb.LoadBalancer, https *lb.Listener,
	parent pulumi.ResourceOption) error {
	// The engine's ordering is what matters here, not any input: the records take nothing from the
	// listener.
	afterHTTPS := pulumi.DependsOn([]pulumi.Resource{https})
	for i, host := range d.Names() {
		if _, err := route53.NewRecord(ctx, AliasRecordName(name, host), &route53.RecordArgs{
			ZoneId: pulumi.String(zoneID),
			Name:   pulumi.String(host),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name:                 alb.DnsName,
				ZoneId:               alb.ZoneId,
				EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, parent, formerlyAt(name+"-alias", i), afterHTTPS); err != nil {
			return fmt.Errorf("alias record for %s: %w", host, err)
		}
	}
	return nil
}

// ValidationRecordName and AliasRecordName name a host's two records by the host itself, so that
// removing or reordering names renames no other record (a renamed record is a new one, and its
// CREATE meets the old one, still in the zone). Validation admits only lowercase letters, digits,
// hyphens and dots, each name once, so the host is already a unique, stable part of a logical
// name; folding its dots into hyphens would not be (a-b.c.example.com and a.b-c.example.com).
func ValidationRecordName(prefix, host string) string { return prefix + "-cert-validation-" + host }

// AliasRecordName: see ValidationRecordName.
func AliasRecordName(prefix, host string) string { return prefix + "-alias-" + host }

// formerlyAt adopts the record a stack made before records were named by host, when it was named
// by its position in the names. The alias is right only when the names are in the same order as at
// the last deploy under that scheme: an alias then finds the same host's record, and the update
// changes nothing in the zone. Had the list changed in the same deploy, the alias would find
// another host's record, whose name change forces a replacement, and that replacement's CREATE
// meets the record still in the zone. So the upgrade deploy keeps the names as they were (docs/domain.md,
// "Your own domain over HTTPS"). After it, the state holds every record under its host's name, the
// engine looks for an alias only when a name is missing from the state, and no position-named
// record is left to find.
func formerlyAt(prefix string, position int) pulumi.ResourceOption {
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.Sprintf("%s-%d", prefix, position)}})
}
