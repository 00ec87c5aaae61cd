// Package motoserver gives tests a real AWS API emulator: moto in server mode, on loopback.
package motoserver

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// RunningTasks is the running count moto reports for every ECS service (MOTO_ECS_SERVICE_RUNNING):
// a service with this desired count has converged, one with more is stuck.
const RunningTasks = 2

// Endpoint returns the URL of a moto server: the one .ci/run started (MOTO_ENDPOINT), or one this
// test process starts on a free loopback port and stops when the test ends. Without moto the test
// is skipped, except in CI, where it fails.
func Endpoint(t testing.TB) string {
	t.Helper()
	if ep := os.Getenv("MOTO_ENDPOINT"); ep != "" {
		if n := os.Getenv("MOTO_ECS_SERVICE_RUNNING"); n != strconv.Itoa(RunningTasks) {
			t.Fatalf("the moto server at %s must run with MOTO_ECS_SERVICE_RUNNING=%d (this process sees %q)", ep, RunningTasks, n)
		}
		return ep
	}
	if err := exec.Command("python3", "-c", "import moto.server, flask").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("moto is required in CI but `python3 -m moto.server` is not available: %v", err)
		}
		t.Skip("moto is not installed; `pip install 'moto[server]'` to run the AWS emulator tests")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "MOTO_ECS_SERVICE_RUNNING="+strconv.Itoa(RunningTasks), "MOTO_IAM_LOAD_MANAGED_POLICIES=true")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting moto: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ep := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(ep + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return ep
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto did not answer on %s within 30 s: %v", ep, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
