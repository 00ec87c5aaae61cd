package config

import (
	"fmt"
	"regexp"
	"strings"
)

// DomainConfig serves the API on its own name over HTTPS (key `domain`): an ACM certificate for
// Name and Aliases, validated through DNS records in a Route 53 hosted zone, alias records from each
// name to the load balancer, and HSTS on every HTTPS response.
type DomainConfig struct {
	Name string `json:"name"`
	// ZoneID or ZoneName names the public hosted zone that holds the names; exactly one is set.
	ZoneID   string `json:"zoneId"`
	ZoneName string `json:"zoneName"`
	// Aliases are more names the certificate covers and that point at the load balancer.
	Aliases []string `json:"aliases"`
	// HSTSMaxAge is the Strict-Transport-Security max-age in seconds.
	HSTSMaxAge int `json:"hstsMaxAge"`
}

// Enabled reports whether the stack serves a domain.
func (d DomainConfig) Enabled() bool { return d.Name != "" }

// Names are the domain and its aliases, the names the certificate covers and the records point.
func (d DomainConfig) Names() []string { return append([]string{d.Name}, d.Aliases...) }

// HSTS is the Strict-Transport-Security header value: no includeSubDomains and no preload, so the
// policy binds this name only and can be lifted by lowering max-age.
func HSTS(maxAge int) string { return fmt.Sprintf("max-age=%d", maxAge) }

// Domain limits: a year of HSTS is the common recommendation (MDN, OWASP); two years is what the
// preload list asks; ACM's default quota is 10 names per certificate.
const (
	DefaultHSTSMaxAge = 31536000
	MinHSTSMaxAge     = 300
	MaxHSTSMaxAge     = 63072000
	MaxDomainNames    = 10
)

func defaultDomain() DomainConfig { return DomainConfig{HSTSMaxAge: DefaultHSTSMaxAge} }

var (
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	zoneID   = regexp.MustCompile(`^Z[A-Z0-9]{1,32}$`)
)

// ValidHostname reports whether name is a lowercase DNS name of at least two labels, no wildcard.
func ValidHostname(name string) bool {
	labels := strings.Split(name, ".")
	if len(name) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// InZone reports whether name is the zone's apex or below it.
func InZone(name, zone string) bool {
	zone = strings.TrimSuffix(zone, ".")
	return name == zone || strings.HasSuffix(name, "."+zone)
}

func validateDomain(c *Config, fail func(string, string, ...any)) {
	d := c.Domain
	if !d.Enabled() {
		if d.ZoneID != "" || d.ZoneName != "" || len(d.Aliases) > 0 {
			fail("domain.name", "is required when the domain block is set")
		}
		return
	}
	if c.LoadBalancer.CertificateArn != "" {
		fail("domain", "and certificateArn are both set: a domain brings its own certificate; keep certificateArn for certificates made elsewhere and remove one of the two")
	}
	seen := map[string]bool{}
	for i, name := range d.Names() {
		key := "domain.aliases"
		if i == 0 {
			key = "domain.name"
		}
		if !ValidHostname(name) {
			fail(key, "%q is not a lowercase DNS name like api.example.com (letters, digits, inner hyphens; no wildcard)", name)
		}
		if seen[name] {
			fail(key, "%q is listed twice", name)
		}
		seen[name] = true
		if d.ZoneName != "" && !InZone(name, d.ZoneName) {
			fail(key, "%q is not in the hosted zone %s: its certificate could never validate", name, d.ZoneName)
		}
	}
	if len(d.Names()) > MaxDomainNames {
		fail("domain.aliases", "a certificate covers at most %d names, ACM's default quota (got %d)", MaxDomainNames, len(d.Names()))
	}
	switch {
	case (d.ZoneID == "") == (d.ZoneName == ""):
		fail("domain", "needs exactly one of zoneId and zoneName, the Route 53 hosted zone that holds %s", d.Name)
	case d.ZoneID != "" && !zoneID.MatchString(d.ZoneID):
		fail("domain.zoneId", "must be a Route 53 hosted zone id like Z0123456789ABCDEFGHIJ (got %q)", d.ZoneID)
	case d.ZoneName != "" && !ValidHostname(strings.TrimSuffix(d.ZoneName, ".")) && !dnsLabel.MatchString(strings.TrimSuffix(d.ZoneName, ".")):
		fail("domain.zoneName", "must be a DNS name like example.com (got %q)", d.ZoneName)
	}
	if d.HSTSMaxAge < MinHSTSMaxAge || d.HSTSMaxAge > MaxHSTSMaxAge {
		fail("domain.hstsMaxAge", "must be between %d and %d seconds (got %d)", MinHSTSMaxAge, MaxHSTSMaxAge, d.HSTSMaxAge)
	}
}
