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
		record, err := route53.NewRecord(ctx, fmt.Sprintf("%s-cert-validation-%d", name, i), &route53.RecordArgs{
			ZoneId:  pulumi.String(zoneID),
			Name:    option.ResourceRecordName().Elem(),
			Type:    option.ResourceRecordType().Elem(),
			Records: pulumi.StringArray{option.ResourceRecordValue().Elem()},
			Ttl:     pulumi.Int(60),
		}, parent)
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

// aliasRecords point each name at the load balancer (A; the load balancer is IPv4 only).
func aliasRecords(ctx *pulumi.Context, name string, d config.DomainConfig, zoneID string, alb *lb.LoadBalancer, parent pulumi.ResourceOption) error {
	for i, host := range d.Names() {
		if _, err := route53.NewRecord(ctx, fmt.Sprintf("%s-alias-%d", name, i), &route53.RecordArgs{
			ZoneId: pulumi.String(zoneID),
			Name:   pulumi.String(host),
			Type:   pulumi.String("A"),
			Aliases: route53.RecordAliasArray{&route53.RecordAliasArgs{
				Name:                 alb.DnsName,
				ZoneId:               alb.ZoneId,
				EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, parent); err != nil {
			return fmt.Errorf("alias record for %s: %w", host, err)
		}
	}
	return nil
}
