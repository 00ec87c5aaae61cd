package main

// The domain's records and listeners over the whole graph of every stack file (review A3, A4): a
// domain of several names, the same domain with a name removed and with the names reordered, and
// the options the engine acts on that pulumitest's mocks do not keep (aliases, retainOnDelete).

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/acme/ecs-api/infra"
	"github.com/acme/ecs-api/internal/pulumitest"
)

const (
	recordType    = "aws:route53/record:Record"
	listenerType  = "aws:lb/listener:Listener"
	domainName    = "api.example.com"
	loadBalancer  = "web" // main.go's LoadBalancer
	validationOld = loadBalancer + "-cert-validation-"
	aliasOld      = loadBalancer + "-alias-"
)

// domainAliases are the names besides domainName; the middle one is removed, the list reversed.
var domainAliases = []string{"www.example.com", "api-v2.example.com", "eu.api.example.com"}

// domainConfig is a stack file's config with a domain of domainName and these aliases.
func domainConfig(t *testing.T, stack string, aliases []string) (string, map[string]string) {
	t.Helper()
	return variantConfig(t, stack, variant{objects: map[string]map[string]any{
		"domain": {"name": domainName, "zoneName": "example.com", "aliases": aliases},
	}})
}

// runDomain runs the whole program for a stack file with a domain of these aliases.
func runDomain(t *testing.T, stack string, aliases []string) *pulumitest.Mocks {
	t.Helper()
	project, cfg := domainConfig(t, stack, aliases)
	m, err := pulumitest.Run(project, stack, cfg, program)
	if err != nil {
		t.Fatalf("aliases %v: program failed: %v", aliases, err)
	}
	return m
}

// urnSet is every URN a run registered.
func urnSet(m *pulumitest.Mocks) map[string]bool {
	out := map[string]bool{}
	for _, r := range m.Resources() {
		out[r.URN] = true
	}
	return out
}

// recordURNs maps "<type> <host>" to the URN of the record that serves the host: an alias A record
// by its name, a validation CNAME by the name ACM gave it (_x1.<host>. in the mocks).
func recordURNs(m *pulumitest.Mocks) map[string]string {
	out := map[string]string{}
	for _, r := range m.OfType(recordType) {
		host := strings.TrimSuffix(strings.TrimPrefix(r.Str("name"), "_x1."), ".")
		out[r.Str("type")+" "+host] = r.URN
	}
	return out
}

func withoutName(list []string, item string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == item })
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestDomainRecordsKeepTheirURNsWhenANameGoesOrMoves (review A3): a record named by position is
// renamed when a name before it goes or the names are reordered; a renamed record is a new
// resource, and its CREATE ("Tried to create resource record set ... but it already exists",
// hashicorp/terraform-provider-aws#7918) meets the old record, still in the zone until the old
// resource is deleted at the end of the update. Named by host (house style: "a record per host
// name ... Then removing one item replaces nothing else; a test runs the program with the list and
// with one item removed and compares URNs"), removing www.example.com removes exactly its two
// records, and reordering the names changes no URN at all, in every stack file.
func TestDomainRecordsKeepTheirURNsWhenANameGoesOrMoves(t *testing.T) {
	removed := domainAliases[0]
	reversed := slices.Clone(domainAliases)
	slices.Reverse(reversed)
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			full, less, moved := runDomain(t, stack, domainAliases), runDomain(t, stack, withoutName(domainAliases, removed)), runDomain(t, stack, reversed)

			before, after := recordURNs(full), recordURNs(less)
			if len(before) != 2*(1+len(domainAliases)) {
				t.Fatalf("records %v, want a validation record and an alias record per name", before)
			}
			for key, urn := range after {
				if before[key] != urn {
					t.Errorf("removing %s renames the %s record: %s, was %s", removed, key, urn, before[key])
				}
			}

			all, remaining := urnSet(full), urnSet(less)
			gone := map[string]bool{}
			for urn := range all {
				if !remaining[urn] {
					gone[urn] = true
				}
			}
			for urn := range remaining {
				if !all[urn] {
					t.Errorf("removing %s adds %s", removed, urn)
				}
			}
			if want := map[string]bool{before["CNAME "+removed]: true, before["A "+removed]: true}; !mapsEqual(gone, want) {
				t.Errorf("removing %s removes %v, want only its two records %v", removed, sortedKeys(gone), sortedKeys(want))
			}

			// Position names would keep the set of URNs and give each to another host's record.
			for key, urn := range recordURNs(moved) {
				if before[key] != urn {
					t.Errorf("reordering the names renames the %s record: %s, was %s", key, urn, before[key])
				}
			}
			if got := urnSet(moved); !mapsEqual(got, all) {
				t.Errorf("reordering the names changes URNs: %v", symmetricDifference(got, all))
			}
		})
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func symmetricDifference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, "+"+k)
		}
	}
	for k := range b {
		if !a[k] {
			out = append(out, "-"+k)
		}
	}
	sort.Strings(out)
	return out
}

// optionRecorder is pulumitest's mocks, also keeping what the engine acts on that they drop: each
// registration's aliases and retainOnDelete.
type optionRecorder struct {
	*pulumitest.Mocks
	mu      sync.Mutex
	aliases map[string][]string // by logical name: alias names, "<parent>" marked when the alias keeps the parent
	retain  map[string]bool
}

func (o *optionRecorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	var names []string
	for _, a := range args.RegisterRPC.GetAliases() {
		spec := a.GetSpec()
		if spec == nil {
			names = append(names, "urn:"+a.GetUrn())
			continue
		}
		name := spec.GetName()
		if spec.GetParentUrn() != "" || spec.GetNoParent() || spec.GetType() != "" || spec.GetProject() != "" || spec.GetStack() != "" {
			name += " (elsewhere)"
		}
		names = append(names, name)
	}
	o.mu.Lock()
	o.aliases[args.Name] = names
	o.retain[args.Name] = args.RegisterRPC.GetRetainOnDelete()
	o.mu.Unlock()
	return o.Mocks.NewResource(args)
}

// TestDomainRecordsAdoptTheirPositionNamedRecords (review A3): stacks deployed before records were
// named by host hold them as web-cert-validation-<i> and web-alias-<i>, i the host's position among
// domain.name and domain.aliases. Each record carries an alias to exactly that name under the same
// parent, so an upgrade with the names unchanged updates the records in place ("add the old name to
// the list of aliases ... to ensure that existing resources will be migrated to the new name instead
// of being deleted and replaced", Pulumi docs, Resource option: aliases) instead of creating each
// anew against the record still in the zone. Validation records are retained on delete: ACM shares
// a name's record with every certificate of the account in any region
// (hashicorp/terraform-provider-aws#13653), and an overwriting record deletes what another resource
// just wrote when its predecessor goes (hashicorp/terraform-provider-aws#32460); alias records are
// not, since a name removed from the domain must stop resolving.
func TestDomainRecordsAdoptTheirPositionNamedRecords(t *testing.T) {
	names := append([]string{domainName}, domainAliases...)
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			project, cfg := domainConfig(t, stack, domainAliases)
			rec := &optionRecorder{
				Mocks:   &pulumitest.Mocks{Project: project, Stack: stack, Exports: map[string]any{}},
				aliases: map[string][]string{}, retain: map[string]bool{},
			}
			if err := pulumi.RunErr(program, pulumi.WithMocks(project, stack, rec), func(ri *pulumi.RunInfo) { ri.Config = cfg }); err != nil {
				t.Fatalf("program failed: %v", err)
			}
			for i, host := range names {
				for _, r := range []struct {
					name, former string
					retained     bool
				}{
					{infra.ValidationRecordName(loadBalancer, host), validationOld + strconv.Itoa(i), true},
					{infra.AliasRecordName(loadBalancer, host), aliasOld + strconv.Itoa(i), false},
				} {
					if rec.Named(recordType, r.name) == nil {
						t.Errorf("no record %s", r.name)
						continue
					}
					if got := rec.aliases[r.name]; len(got) != 1 || got[0] != r.former {
						t.Errorf("%s has aliases %v, want only %s under the same parent", r.name, got, r.former)
					}
					if rec.retain[r.name] != r.retained {
						t.Errorf("%s retainOnDelete %v, want %v", r.name, rec.retain[r.name], r.retained)
					}
				}
			}
		})
	}
}

// TestPort80RedirectsOnlyOnceHTTPSServesInEveryStack (review A4): when the domain is turned on in a
// running stack, port 80 must go on forwarding until the HTTPS listener exists (after ACM issues the
// certificate, up to CertificateValidationTimeout; never, if validation fails), and no name may
// point at the load balancer before it answers https://. The engine orders by the dependencies the
// mocks record: port 80's listener takes its redirect port from the HTTPS listener, and each alias
// record waits for it.
func TestPort80RedirectsOnlyOnceHTTPSServesInEveryStack(t *testing.T) {
	for _, stack := range stackFiles(t) {
		t.Run(stack, func(t *testing.T) {
			m := runDomain(t, stack, domainAliases)
			var https, http *pulumitest.Resource
			for _, l := range m.OfType(listenerType) {
				switch l.Str("protocol") {
				case "HTTPS":
					https = l
				case "HTTP":
					http = l
				}
			}
			if https == nil || http == nil {
				t.Fatal("want an HTTP and an HTTPS listener")
			}
			if !http.DependsOn(https) || http.Str("defaultActions.0.type") != "redirect" || http.Str("defaultActions.0.redirect.port") != "443" {
				t.Errorf("port 80 redirects to %q without waiting for the HTTPS listener (depends on %v)",
					http.Str("defaultActions.0.redirect.port"), http.Dependencies)
			}
			for _, r := range m.OfType(recordType) {
				if r.Str("type") == "A" && !r.DependsOn(https) {
					t.Errorf("%s points at the load balancer before it serves HTTPS", r.Str("name"))
				}
			}
		})
	}
}
