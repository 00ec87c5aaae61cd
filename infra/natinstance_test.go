package infra_test

// The NAT instance's boot script and route keeper, run under bash against stand-ins for the AWS CLI,
// systemctl, the instance metadata service and the host's tools: what they change, and in what order.
// Review 2026-12-A, findings A5 (a failed first run must not keep the repair from running) and A6
// (a replacement takes over before the old instance goes, and the old one never takes back).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acme/ecs-api/infra"
)

const natGroupTag = "ecs-api/dev/network-nat-1"

// natHost is a scratch root for the scripts: etc/ and usr/local/sbin/ stand for the instance's
// own, and bin/ holds the stand-ins, which log every call to state/log and keep what AWS would
// hold (instances, routes, the Elastic IP's holder) as files under state/.
type natHost struct {
	t                 *testing.T
	root, state, bash string
}

// natStubs are the commands the scripts call that must not touch this machine or the network. Each
// logs "<name> <args>" and answers from $STATE; a file $STATE/fail-<name> makes it fail (for aws,
// fail-routes fails route updates only, and fail-unauthorized denies modify-instance-attribute as
// IAM does).
var natStubs = map[string]string{
	"aws": `set -u
echo "aws $*" >>"$STATE/log"
if [ -z "${AWS_DEFAULT_REGION:-}" ] && [[ " $* " != *" --region "* ]]; then
  echo "You must specify a region." >&2
  exit 253
fi
value() { local flag=$1; shift; while [ $# -gt 1 ]; do if [ "$1" = "$flag" ]; then echo "$2"; return; fi; shift; done; }
filter() { local a; for a in "${@:2}"; do case "$a" in "Name=$1,Values="*) echo "${a#*Values=}"; return ;; esac; done; }
case "$1 $2" in
"ec2 describe-instances")
  id=$(value --instance-ids "$@")
  if [ -n "$id" ]; then
    read -r launched _ <"$STATE/instances/$id"
    printf '%s\t%s\t%s\n' "$launched" "$(cat "$STATE/checking")" "$NAT_TAG"
  else
    id=$(filter instance-id "$@")
    if [ -f "$STATE/instances/$id" ]; then
      read -r launched state <"$STATE/instances/$id"
      case "$state" in pending | running) printf '%s\t%s\n' "$launched" "$id" ;; esac
    fi
  fi ;;
"ec2 modify-instance-attribute")
  if [ -e "$STATE/fail-unauthorized" ]; then
    echo "An error occurred (UnauthorizedOperation) when calling the ModifyInstanceAttribute operation: You are not authorized to perform this operation." >&2
    exit 254
  fi
  echo False >"$STATE/checking" ;;
"ec2 describe-addresses")
  if [ "$(filter tag:nat-instance "$@")" = "$NAT_TAG" ]; then
    printf 'eipalloc-0nat\t%s\n' "$(cat "$STATE/eip")"
  else
    echo None
  fi ;;
"ec2 associate-address") value --instance-id "$@" >"$STATE/eip" ;;
"ec2 describe-route-tables") cat "$STATE/routes/$(value --route-table-ids "$@")" 2>/dev/null || echo None ;;
"ec2 replace-route" | "ec2 create-route")
  if [ -e "$STATE/fail-routes" ]; then
    echo "An error occurred (RequestLimitExceeded) when calling the $2 operation" >&2
    exit 254
  fi
  rt=$(value --route-table-id "$@")
  if [ "$2" = replace-route ] && [ ! -f "$STATE/routes/$rt" ]; then
    echo "An error occurred (InvalidRoute.NotFound)" >&2
    exit 254
  fi
  if [ "$2" = create-route ] && [ -f "$STATE/routes/$rt" ]; then
    echo "An error occurred (RouteAlreadyExists)" >&2
    exit 254
  fi
  value --instance-id "$@" >"$STATE/routes/$rt" ;;
"autoscaling set-instance-health") ;;
*) echo "aws stand-in: no answer for $*" >&2; exit 2 ;;
esac`,
	// systemctl start of a oneshot service waits for it and fails when it fails, as systemd does.
	"systemctl": `echo "systemctl $*" >>"$STATE/log"
if [ "$1" = start ] && [ "$2" = nat-routes.service ]; then
  exec "$ROOT/usr/local/sbin/nat-routes"
fi`,
	"curl": `echo "curl $*" >>"$STATE/log"
[ -e "$STATE/fail-curl" ] && exit 22
case "$*" in
*/api/token*) echo token ;;
*/meta-data/instance-id*) echo "$NAT_SELF" ;;
*/meta-data/placement/region*) echo us-east-1 ;;
*) exit 22 ;;
esac`,
	"dnf": `echo "dnf $*" >>"$STATE/log"
[ -e "$STATE/fail-dnf" ] && exit 1
touch "$STATE/installed"`,
	"rpm": `echo "rpm $*" >>"$STATE/log"
[ -e "$STATE/installed" ]`,
	"sysctl": `echo "sysctl $*" >>"$STATE/log"`,
	"ip":     `echo "default via 10.0.0.1 dev ens5 proto dhcp src 10.0.0.10 metric 512"`,
	"iptables": `echo "iptables $*" >>"$STATE/log"
case " $* " in
*" -C "*) [ -e "$STATE/masquerade" ] ;;
*" -A "*) touch "$STATE/masquerade" ;;
esac`,
	"iptables-save": `echo "iptables-save" >>"$STATE/log"
if [ -e "$STATE/masquerade" ]; then printf '*nat\n-A POSTROUTING -o ens5 -j MASQUERADE\nCOMMIT\n'; fi`,
}

func newNatHost(t *testing.T) *natHost {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	h := &natHost{t: t, root: t.TempDir(), bash: bash}
	h.state = filepath.Join(h.root, "state")
	for _, dir := range []string{"bin", "state/instances", "state/routes", "run", "usr/local/sbin",
		"etc/systemd/system", "etc/sysctl.d", "etc/sysconfig"} {
		if err := os.MkdirAll(filepath.Join(h.root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range natStubs {
		h.write(filepath.Join("bin", name), "#!"+bash+"\n"+body+"\n", 0o755)
	}
	h.set("checking", "True")
	h.set("eip", "None")
	return h
}

func (h *natHost) write(rel, body string, mode os.FileMode) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.root, rel), []byte(body), mode); err != nil {
		h.t.Fatal(err)
	}
}

// set writes what AWS holds: state/<rel>.
func (h *natHost) set(rel, value string) { h.write(filepath.Join("state", rel), value+"\n", 0o644) }

func (h *natHost) get(rel string) string {
	b, err := os.ReadFile(filepath.Join(h.state, rel))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (h *natHost) fail(what string, on bool) {
	path := filepath.Join(h.state, "fail-"+what)
	if on {
		h.set("fail-"+what, "")
	} else if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
}

// instance records an EC2 instance: its launch time and state.
func (h *natHost) instance(id, launched, state string) { h.set("instances/"+id, launched+" "+state) }

// run runs script as the instance self and returns its output and error.
func (h *natHost) run(script, self string) (string, error) {
	cmd := exec.Command(h.bash, script)
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(h.root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"STATE="+h.state, "ROOT="+h.root, "NAT_SELF="+self, "NAT_TAG="+natGroupTag,
		"RUNTIME_DIRECTORY="+filepath.Join(h.root, "run"), "AWS_DEFAULT_REGION=", "AWS_REGION=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// boot runs the user data for routeTables as the instance self, with its paths under the scratch root.
func (h *natHost) boot(routeTables []string, self string) (string, error) {
	h.t.Helper()
	script := infra.NatUserData(routeTables)
	for _, dir := range []string{"/usr/local/sbin/", "/etc/"} {
		script = strings.ReplaceAll(script, dir, h.root+dir)
	}
	h.write("user-data.sh", script, 0o644)
	return h.run(filepath.Join(h.root, "user-data.sh"), self)
}

// keep runs the route keeper the user data installed, as its timer does, as the instance self.
func (h *natHost) keep(self string) (string, error) {
	return h.run(filepath.Join(h.root, "usr/local/sbin/nat-routes"), self)
}

// calls returns the logged calls since the last calls, and starts a new log.
func (h *natHost) calls() []string {
	h.t.Helper()
	path := filepath.Join(h.state, "log")
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	_ = os.Remove(path)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// TestNatUserDataEnablesItsRepairTimerWhateverFailsFirst: review 2026-12-A, A5. Under set -e, a
// failed first `systemctl start nat-routes.service` (a role policy not yet propagated, throttling,
// an IMDS hiccup) ended the user data before `systemctl enable --now nat-routes.timer`, so nothing
// ever retried. Whatever fails first now, the timer is enabled, and the keeper it runs succeeds once
// the cause is gone. (systemd.timer(5): an OnBootSec= already past when the timer starts elapses at
// once, so the keeper's first run comes from the timer.)
func TestNatUserDataEnablesItsRepairTimerWhateverFailsFirst(t *testing.T) {
	for _, failing := range []string{"routes", "dnf", "curl"} {
		t.Run(failing, func(t *testing.T) {
			h := newNatHost(t)
			h.instance("i-0new", "2026-12-01T10:00:00+00:00", "running")
			h.set("routes/rtb-1", "None") // a NAT gateway's route, being replaced
			h.fail(failing, true)
			if out, err := h.boot([]string{"rtb-1", "rtb-2"}, "i-0new"); err != nil {
				t.Fatalf("user data failed (%v), so cloud-init stops it here:\n%s", err, out)
			}
			calls := h.calls()
			enabled := -1
			for i, c := range calls {
				if c == "systemctl enable --now nat-routes.timer" {
					enabled = i
				}
			}
			if enabled < 0 {
				t.Fatalf("the user data never enabled nat-routes.timer:\n%s", strings.Join(calls, "\n"))
			}
			for _, c := range calls[:enabled] {
				if !strings.HasPrefix(c, "systemctl daemon-reload") {
					t.Errorf("before the timer is enabled, the user data calls %q, which can fail", c)
				}
			}
			for run := 1; run <= 2; run++ {
				if out, err := h.keep("i-0new"); err == nil {
					t.Fatalf("run %d succeeded though %s fails:\n%s", run, failing, out)
				}
			}
			h.fail(failing, false)
			if out, err := h.keep("i-0new"); err != nil {
				t.Fatalf("the keeper still fails once %s works: %v\n%s", failing, err, out)
			}
			if h.get("routes/rtb-1") != "i-0new" || h.get("routes/rtb-2") != "i-0new" || h.get("eip") != "i-0new" {
				t.Errorf("after the repair: routes %s, %s; Elastic IP on %s; want all on i-0new",
					h.get("routes/rtb-1"), h.get("routes/rtb-2"), h.get("eip"))
			}
			if !h.has("masquerade") {
				t.Error("the host does not masquerade")
			}
		})
	}
}

func (h *natHost) has(rel string) bool {
	_, err := os.Stat(filepath.Join(h.state, rel))
	return err == nil
}

// TestNatRouteKeeperReportsItselfUnhealthyWhenItKeepsFailing: review 2026-12-A, A5 ("the EC2-health
// ASG keeps the dead NAT"). Five failed runs in a row report the instance Unhealthy to its group
// (SetInstanceHealth, Amazon EC2 Auto Scaling API), which replaces it; a success starts the count
// again. Five runs a minute apart fit inside NatInstanceWarmupSeconds, so a new instance that
// cannot route is reported before the instance it replaces may go.
func TestNatRouteKeeperReportsItselfUnhealthyWhenItKeepsFailing(t *testing.T) {
	h := newNatHost(t)
	h.instance("i-0new", "2026-12-01T10:00:00+00:00", "running")
	if out, err := h.boot([]string{"rtb-1"}, "i-0new"); err != nil {
		t.Fatalf("user data: %v\n%s", err, out)
	}
	h.calls()
	const report = "aws autoscaling set-instance-health --instance-id i-0new --health-status Unhealthy"
	h.set("routes/rtb-1", "None") // a NAT gateway's route, to be replaced
	h.fail("routes", true)
	for run := 1; run <= 6; run++ {
		if _, err := h.keep("i-0new"); err == nil {
			t.Fatalf("run %d succeeded though route updates fail", run)
		}
		want := 0
		if run >= 5 {
			want = 1
		}
		if got := count(h.calls(), report); got != want {
			t.Errorf("failed run %d in a row: %d reports, want %d", run, got, want)
		}
	}
	h.fail("routes", false)
	if out, err := h.keep("i-0new"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h.fail("routes", true)
	h.set("routes/rtb-1", "i-0other") // taken away again
	for run := 1; run <= 4; run++ {
		_, _ = h.keep("i-0new")
		if got := count(h.calls(), report); got != 0 {
			t.Errorf("after a success, failed run %d reported the instance unhealthy", run)
		}
	}
	if 5*60 >= infra.NatInstanceWarmupSeconds {
		t.Errorf("warmup of %d s: a new instance is not reported before the old one goes", infra.NatInstanceWarmupSeconds)
	}
}

// TestNatRouteKeeperHandsOverToTheNewestInstanceOnly: review 2026-12-A, A6. With launch before
// terminate ("Instance maintenance policies", EC2 Auto Scaling User Guide) two NAT instances of a
// group run side by side: the new one takes the Elastic IP and the routes when it boots, the old
// one leaves them to it while it runs and while it shuts down, and a route whose instance is gone
// (a blackhole) or that points at a NAT gateway goes to whichever instance runs next.
func TestNatRouteKeeperHandsOverToTheNewestInstanceOnly(t *testing.T) {
	h := newNatHost(t)
	h.instance("i-0old", "2026-12-01T10:00:00+00:00", "running")
	h.instance("i-0new", "2026-12-08T10:00:00+00:00", "running")
	for _, rt := range []string{"rtb-1", "rtb-2"} {
		h.set("routes/"+rt, "i-0old")
	}
	h.set("eip", "i-0old")
	if out, err := h.boot([]string{"rtb-1", "rtb-2"}, "i-0new"); err != nil {
		t.Fatalf("user data: %v\n%s", err, out)
	}
	h.calls()

	if out, err := h.keep("i-0new"); err != nil {
		t.Fatalf("new instance: %v\n%s", err, out)
	}
	calls := h.calls()
	if h.get("eip") != "i-0new" || h.get("routes/rtb-1") != "i-0new" || h.get("routes/rtb-2") != "i-0new" {
		t.Fatalf("the new instance did not take over: Elastic IP on %s, routes on %s, %s\n%s",
			h.get("eip"), h.get("routes/rtb-1"), h.get("routes/rtb-2"), strings.Join(calls, "\n"))
	}
	if count(calls, "aws ec2 associate-address --allocation-id eipalloc-0nat --instance-id i-0new --allow-reassociation") != 1 ||
		count(calls, "aws ec2 modify-instance-attribute --instance-id i-0new --no-source-dest-check") != 1 {
		t.Errorf("want one re-association of the address and the check turned off once:\n%s", strings.Join(calls, "\n"))
	}
	// The routes move before the Elastic IP does (review R4): TestNatRouteKeeperTakesTheRoutesBeforeTheAddress.

	for _, state := range []string{"running", "shutting-down"} {
		h.instance("i-0new", "2026-12-08T10:00:00+00:00", "running")
		if state == "shutting-down" {
			h.instance("i-0old", "2026-12-01T10:00:00+00:00", state)
		}
		if out, err := h.keep("i-0old"); err != nil {
			t.Fatalf("old instance (%s): %v\n%s", state, err, out)
		}
		for _, c := range h.calls() {
			for _, change := range []string{"aws ec2 associate-address", "aws ec2 replace-route", "aws ec2 create-route"} {
				if strings.HasPrefix(c, change) {
					t.Errorf("the old instance (%s) took something back: %s", state, c)
				}
			}
		}
		if h.get("eip") != "i-0new" || h.get("routes/rtb-1") != "i-0new" {
			t.Errorf("after the old instance (%s) ran: Elastic IP on %s, route on %s", state, h.get("eip"), h.get("routes/rtb-1"))
		}
	}

	// Once the new one is gone (terminated, its route a blackhole) or a NAT gateway holds a route,
	// the instance that runs takes it.
	h.instance("i-0old", "2026-12-01T10:00:00+00:00", "running")
	h.instance("i-0new", "2026-12-08T10:00:00+00:00", "terminated")
	h.set("routes/rtb-2", "None")
	if out, err := h.keep("i-0old"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if h.get("eip") != "i-0old" || h.get("routes/rtb-1") != "i-0old" || h.get("routes/rtb-2") != "i-0old" {
		t.Errorf("with the newer instance gone: Elastic IP on %s, routes on %s, %s; want i-0old",
			h.get("eip"), h.get("routes/rtb-1"), h.get("routes/rtb-2"))
	}
}

// TestNatUserDataScopesItselfByItsGroupTag: the keeper finds its Elastic IP by the group's tag,
// read from its own instance, and names the tag key the role's conditions use (review 2026-12-A,
// A10: the role reaches only what carries this stack's value).
func TestNatUserDataScopesItselfByItsGroupTag(t *testing.T) {
	script := infra.NatUserData([]string{"rtb-1"})
	for _, want := range []string{
		"Tags[?Key=='" + infra.NatInstanceTag + "'].Value | [0]",
		`"Name=tag:` + infra.NatInstanceTag + `,Values=$GROUP"`,
		"--allow-reassociation",
		"aws autoscaling set-instance-health --instance-id \"$INSTANCE_ID\" --health-status Unhealthy",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("user data lacks %q", want)
		}
	}
	if strings.Contains(script, "__") {
		t.Error("user data keeps a placeholder")
	}
}

// firstCall is the index of the first call with that prefix, -1 if none.
func firstCall(calls []string, prefix string) int {
	for i, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return i
		}
	}
	return -1
}

// TestNatRouteKeeperTakesTheRoutesBeforeTheAddress: review R4. The keeper moved the Elastic IP
// first, so until it had moved the routes too the private subnets still went out through the old
// instance, which had just lost its public address. Now the routes move first (the new instance
// goes out through the public address it launched with, the old one keeps the Elastic IP until
// then), and a route update that fails ends the run before the address moves.
func TestNatRouteKeeperTakesTheRoutesBeforeTheAddress(t *testing.T) {
	setUp := func(t *testing.T) *natHost {
		h := newNatHost(t)
		h.instance("i-0old", "2026-12-01T10:00:00+00:00", "running")
		h.instance("i-0new", "2026-12-08T10:00:00+00:00", "running")
		h.set("routes/rtb-1", "i-0old") // replace-route
		h.set("eip", "i-0old")
		if out, err := h.boot([]string{"rtb-1", "rtb-2"}, "i-0new"); err != nil { // rtb-2: create-route
			t.Fatalf("user data: %v\n%s", err, out)
		}
		h.calls()
		return h
	}
	t.Run("order", func(t *testing.T) {
		h := setUp(t)
		if out, err := h.keep("i-0new"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		calls := h.calls()
		associate := firstCall(calls, "aws ec2 associate-address")
		for _, route := range []string{"aws ec2 replace-route --route-table-id rtb-1", "aws ec2 create-route --route-table-id rtb-2"} {
			if i := firstCall(calls, route); i < 0 || associate < 0 || i > associate {
				t.Errorf("%q at %d, associate-address at %d: want every route before the address\n%s", route, i, associate, strings.Join(calls, "\n"))
			}
		}
	})
	t.Run("a failed route keeps the address where it is", func(t *testing.T) {
		h := setUp(t)
		h.fail("routes", true)
		if _, err := h.keep("i-0new"); err == nil {
			t.Fatal("the run succeeded though route updates fail")
		}
		if calls := h.calls(); count(calls, "aws ec2 associate-address") != 0 {
			t.Errorf("the address moved though the routes did not:\n%s", strings.Join(calls, "\n"))
		}
		if h.get("eip") != "i-0old" {
			t.Errorf("Elastic IP on %s, want it left on i-0old, which the routes still use", h.get("eip"))
		}
	})
}

// TestNatSourceDestCheckStatementToleratesAnAbsentAttributeKey: review R2. The statement required
// StringEquals ec2:Attribute/SourceDestCheck = "false"; the ec2:Attribute keys are reported absent
// from the request context of some Modify*Attribute calls, and StringEquals on an absent key denies,
// so every new NAT would have been denied and replaced in a loop. Now the key is under
// StringEqualsIfExists (it allows only "false" when present, and does not deny when absent), and the
// tag that holds the statement to the group's own instances stays under StringEquals.
func TestNatSourceDestCheckStatementToleratesAnAbsentAttributeKey(t *testing.T) {
	const tag = "ecs-api/dev/network-nat-1"
	var found bool
	for _, st := range infra.NatInstanceStatements(infra.NatInstanceScope{Partition: "aws", Region: "us-east-1",
		Account: "123456789012", Tag: tag, AllocationID: "eipalloc-0nat", RouteTables: []string{"rtb-1"}}) {
		if len(st.Action) != 1 || st.Action[0] != "ec2:ModifyInstanceAttribute" {
			continue
		}
		found = true
		want := map[string]map[string]string{
			"StringEquals":         {"aws:ResourceTag/" + infra.NatInstanceTag: tag},
			"StringEqualsIfExists": {"ec2:Attribute/SourceDestCheck": "false"},
		}
		if len(st.Condition) != len(want) {
			t.Errorf("condition %v, want %v", st.Condition, want)
		}
		for op, keys := range want {
			if len(st.Condition[op]) != len(keys) {
				t.Errorf("%s %v, want %v", op, st.Condition[op], keys)
			}
			for k, v := range keys {
				if st.Condition[op][k] != v {
					t.Errorf("%s %s = %q, want %q", op, k, st.Condition[op][k], v)
				}
			}
		}
	}
	if !found {
		t.Fatal("no statement allows ec2:ModifyInstanceAttribute alone")
	}
}

// TestNatRouteKeeperSaysWhenItsRoleIsDenied: review R2. When turning the check off is denied, the
// keeper says UnauthorizedOperation and which statement, so a role that does not match is told
// apart from throttling or a network fault in the instance's log; the run fails, and nothing moves.
func TestNatRouteKeeperSaysWhenItsRoleIsDenied(t *testing.T) {
	h := newNatHost(t)
	h.instance("i-0new", "2026-12-01T10:00:00+00:00", "running")
	if out, err := h.boot([]string{"rtb-1"}, "i-0new"); err != nil {
		t.Fatalf("user data: %v\n%s", err, out)
	}
	h.set("checking", "True")
	h.set("routes/rtb-1", "None")
	h.fail("unauthorized", true)
	out, err := h.keep("i-0new")
	if err == nil {
		t.Fatal("the run succeeded though its check could not be turned off")
	}
	if !strings.Contains(out, "nat-routes: UnauthorizedOperation turning off the source/destination check") ||
		!strings.Contains(out, "TurnOffItsOwnSourceDestCheck") {
		t.Errorf("the keeper does not say it was denied:\n%s", out)
	}
	if calls := h.calls(); count(calls, "aws ec2 replace-route")+count(calls, "aws ec2 create-route")+count(calls, "aws ec2 associate-address") != 0 {
		t.Errorf("a NAT that cannot forward took routes or the address:\n%s", strings.Join(calls, "\n"))
	}
}

// TestNatRouteKeeperCannotHangItsTimer: review R6. The keeper is a Type=oneshot unit that had no
// TimeoutStartSec and curl without --max-time: a hung run keeps the unit activating, and the timer
// never fires again (systemd#28698: "if the service remains in 'activating' state we'll not trigger
// another run"). Now the unit stops a run after 180 s, every curl has --max-time, and every AWS CLI
// call has connect and read timeouts and a bounded number of attempts.
func TestNatRouteKeeperCannotHangItsTimer(t *testing.T) {
	script := infra.NatUserData([]string{"rtb-1"})
	unit := script[strings.Index(script, "nat-routes.service <<'UNIT'"):]
	unit = unit[:strings.Index(unit, "\nUNIT\n")]
	if !strings.Contains(unit, "\nType=oneshot\n") || !strings.Contains(unit, "\nTimeoutStartSec=180\n") {
		t.Errorf("nat-routes.service lacks TimeoutStartSec=180:\n%s", unit)
	}
	for _, line := range strings.Split(script, "\n") {
		if strings.Contains(line, "curl ") && !strings.HasPrefix(strings.TrimSpace(line), "#") && !strings.Contains(line, "--max-time ") {
			t.Errorf("curl without --max-time: %s", line)
		}
	}
	for _, want := range []string{"export AWS_MAX_ATTEMPTS=3", "trap 'exit 143' TERM"} {
		if !strings.Contains(script, want) {
			t.Errorf("the keeper lacks %q", want)
		}
	}

	// As sent: every AWS CLI call of a run that takes over and reports itself has both timeouts.
	h := newNatHost(t)
	h.instance("i-0old", "2026-12-01T10:00:00+00:00", "running")
	h.instance("i-0new", "2026-12-08T10:00:00+00:00", "running")
	h.set("routes/rtb-1", "i-0old")
	h.set("eip", "i-0old")
	if out, err := h.boot([]string{"rtb-1"}, "i-0new"); err != nil {
		t.Fatalf("user data: %v\n%s", err, out)
	}
	h.fail("routes", true)
	h.set("routes/rtb-1", "None")
	for run := 0; run < 5; run++ {
		_, _ = h.keep("i-0new")
	}
	calls := h.calls()
	if count(calls, "aws autoscaling set-instance-health") == 0 || count(calls, "aws ec2 replace-route") == 0 {
		t.Fatalf("the runs did not call what the test checks:\n%s", strings.Join(calls, "\n"))
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "aws ") && (!strings.Contains(c, " --cli-connect-timeout 5") || !strings.Contains(c, " --cli-read-timeout 15")) {
			t.Errorf("an AWS CLI call without timeouts: %s", c)
		}
		if strings.HasPrefix(c, "curl ") && !strings.Contains(c, "--max-time 5") {
			t.Errorf("a curl call without --max-time: %s", c)
		}
	}
}
