package policy

import (
	"fmt"
	"strings"
)

// hasHTTPS reports whether a load balancer terminates TLS, which makes the TLS controls apply.
func hasHTTPS(s *Stack, lbArn string) bool {
	for _, l := range s.OfType(typeListener) {
		if l.Str("loadBalancerArn") == lbArn && l.Str("protocol") == "HTTPS" {
			return true
		}
	}
	return false
}

// redirectsToHTTPS reports whether a listener's default action is a redirect to HTTPS.
func redirectsToHTTPS(l *Resource) bool {
	return l.Str("defaultActions.0.type") == "redirect" && l.Str("defaultActions.0.redirect.protocol") == "HTTPS"
}

// grantsELBDelivery reports whether a bucket policy lets Elastic Load Balancing write access logs.
func grantsELBDelivery(p *Resource) bool {
	sts, err := statements(p, "policy")
	if err != nil {
		return false
	}
	for _, st := range sts {
		if st.Effect != "Allow" || !contains(st.Actions, "s3:PutObject") {
			continue
		}
		if contains(st.Principals["Service"], "logdelivery.elasticloadbalancing.amazonaws.com") {
			return true
		}
		for _, a := range st.Principals["AWS"] {
			if strings.HasSuffix(a, ":root") {
				return true
			}
		}
	}
	return false
}

var loadBalancerControls = []Control{
	boolControl("ELB.4", "The load balancer drops invalid HTTP headers", Medium, false, typeLoadBalancer,
		"dropInvalidHeaderFields", true, "dropInvalidHeaderFields: true"),
	{
		ID: "ELB.12", Title: "Desync mitigation is defensive or strictest", Severity: Medium,
		Satisfied: "desyncMitigationMode: defensive",
		Check: func(s *Stack, report Reporter) {
			for _, lb := range s.OfType(typeLoadBalancer) {
				if m := lb.Str("desyncMitigationMode"); m != "" && m != "defensive" && m != "strictest" {
					report(lb, "desyncMitigationMode", "is %q", m)
				}
			}
		},
	},
	{
		ID: "ELB.5", Title: "Access logs go to a bucket the stack owns, writable by ELB log delivery", Severity: Medium, ProductionOnly: true,
		Satisfied: "accessLogs (default true): a private, encrypted, TLS-only bucket with the ELB delivery policy",
		Check: func(s *Stack, report Reporter) {
			for _, lb := range s.OfType(typeLoadBalancer) {
				if !lb.Bool("accessLogs.enabled") {
					report(lb, "accessLogs", "access logging is off")
					continue
				}
				bucket := s.WithOutput(typeBucket, "id", lb.Str("accessLogs.bucket"))
				if bucket == nil {
					report(lb, "accessLogs.bucket", "%q is not a bucket of this stack", lb.Str("accessLogs.bucket"))
					continue
				}
				granted := false
				for _, p := range s.OfType(typeBucketPolicy) {
					granted = granted || (p.Str("bucket") == bucket.ID && grantsELBDelivery(p))
				}
				if !granted {
					report(bucket, "policy", "no bucket policy lets ELB log delivery write")
				}
			}
		},
	},
	boolControl("ELB.6", "Deletion protection is on", Medium, true, typeLoadBalancer,
		"enableDeletionProtection", true, "deletionProtection: true"),
	{
		ID: "ELB.13", Title: "The load balancer spans at least two availability zones", Severity: Medium,
		Satisfied: "one public subnet per AZ, azCount >= 2",
		Check: func(s *Stack, report Reporter) {
			for _, lb := range s.OfType(typeLoadBalancer) {
				if n := len(lb.Strs("subnets")) + lb.Len("subnetMappings"); n < 2 {
					report(lb, "subnets", "spans %d subnet(s)", n)
				}
			}
		},
	},
	{
		ID: "ELB.16", Title: "A WAF web ACL filters the load balancer's traffic", Severity: Medium, ProductionOnly: true,
		Satisfied: "webAclArn: an existing web ACL associated with the load balancer",
		Check: func(s *Stack, report Reporter) {
			for _, lb := range s.OfType(typeLoadBalancer) {
				protected := false
				for _, a := range s.OfType(typeWebACLAssociation) {
					protected = protected || (a.Str("resourceArn") == lb.Out("arn") && a.Str("webAclArn") != "")
				}
				if !protected {
					report(lb, "webAcl", "no WAF web ACL is associated")
				}
			}
		},
	},
	{
		ID: "ELB.1", Title: "Plain HTTP only redirects to HTTPS", Severity: Medium, ProductionOnly: true,
		Satisfied: "domain or certificateArn: the HTTP listener answers with a 301 to HTTPS",
		Check: func(s *Stack, report Reporter) {
			for _, l := range s.OfType(typeListener) {
				if l.Str("protocol") == "HTTP" && !redirectsToHTTPS(l) {
					report(l, "defaultActions", "serves plain HTTP instead of redirecting to HTTPS")
				}
			}
		},
	},
	{
		ID: "APP.ELB.1", Title: "HTTPS responses carry HSTS", Severity: Medium,
		Satisfied: "HTTPS listeners add Strict-Transport-Security with max-age of at least 300 s",
		Check: func(s *Stack, report Reporter) {
			for _, l := range s.OfType(typeListener) {
				if l.Str("protocol") != "HTTPS" {
					continue
				}
				hsts := l.Str("routingHttpResponseStrictTransportSecurityHeaderValue")
				var age int
				if _, err := fmt.Sscanf(hsts, "max-age=%d", &age); err != nil || age < 300 {
					report(l, "routingHttpResponseStrictTransportSecurityHeaderValue", "HSTS is %q; browsers may fall back to plain HTTP", hsts)
				}
			}
		},
	},
	{
		ID: "ELB.17", Title: "HTTPS listeners use a TLS 1.3 security policy", Severity: Medium,
		Satisfied: "sslPolicy ELBSecurityPolicy-TLS13-1-2-2021-06",
		Check: func(s *Stack, report Reporter) {
			for _, l := range s.OfType(typeListener) {
				if l.Str("protocol") == "HTTPS" && !strings.Contains(l.Str("sslPolicy"), "TLS13") {
					report(l, "sslPolicy", "%q is not a TLS 1.3 policy", l.Str("sslPolicy"))
				}
			}
		},
	},
	{
		ID: "ELB.18", Title: "With a certificate, no listener forwards unencrypted traffic", Severity: Medium,
		Satisfied: "with domain or certificateArn, port 80 only redirects",
		Check: func(s *Stack, report Reporter) {
			for _, l := range s.OfType(typeListener) {
				if l.Str("protocol") == "HTTP" && hasHTTPS(s, l.Str("loadBalancerArn")) && !redirectsToHTTPS(l) {
					report(l, "defaultActions", "forwards HTTP although the load balancer has HTTPS")
				}
			}
		},
	},
}
