package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// scrape returns the agent's metrics.
func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// running is an agent started by a test: its API sockets and export file.
type running struct{ admin, readOnly, out string }

// startAgent runs the agent with an admin and a read-only API socket (open
// to every user) and an export file in a fresh directory, plus args; it
// stops when the test ends.
func startAgent(t *testing.T, bin string, args ...string) running {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := running{admin: filepath.Join(dir, "admin.sock"), readOnly: filepath.Join(dir, "ro.sock"),
		out: filepath.Join(dir, "events.json")}
	agent := exec.Command(bin, append([]string{"agent", "--node-name", "e2e-api", "--export-filename", r.out,
		"--api-socket", r.admin, "--api-readonly-socket", r.readOnly, "--api-readonly-world-accessible"}, args...)...)
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		if err := agent.Wait(); err != nil {
			t.Errorf("agent: %v\n%s", err, stderr.String())
		}
	})
	waitFor(t, "the API sockets", func() bool {
		_, e1 := os.Stat(r.admin)
		_, e2 := os.Stat(r.readOnly)
		return e1 == nil && e2 == nil
	})
	for sock, want := range map[string]os.FileMode{r.admin: 0o600, r.readOnly: 0o666} {
		if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", sock, st.Mode().Perm(), want)
		}
	}
	r.admin, r.readOnly = "unix://"+r.admin, "unix://"+r.readOnly
	return r
}

// vigilCmd runs a client command and returns its output and error.
func vigilCmd(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// streamLines runs `vigil events` and hands its output lines to a channel.
func streamLines(t *testing.T, bin string, args ...string) <-chan string {
	cmd := exec.Command(bin, append([]string{"events"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return lines
}

// waitLine waits for a line holding every one of parts.
func waitLine(t *testing.T, lines <-chan string, what string, parts ...string) string {
	t.Helper()
	return pokeUntilLine(t, lines, what, func() {}, parts...)
}

// pokeUntilLine runs poke every half second (a stream sees only what
// happens once it is connected) until a line holds every one of parts.
func pokeUntilLine(t *testing.T, lines <-chan string, what string, poke func(), parts ...string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	poke()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s: the stream ended", what)
			}
			if all(l, parts) {
				return l
			}
		case <-tick.C:
			poke()
		case <-timeout:
			t.Fatalf("%s: no line with %q", what, parts)
		}
	}
}

// run runs a command, failing the test when it fails.
func run(t *testing.T, name string, args ...string) func() {
	return func() {
		cmd := exec.Command(name, args...)
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func all(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// A read-only client streams events and lists policies, and is refused when
// it adds a policy; the admin adds a Sigkill policy that kills, and the
// compact and JSON streams show it. A user who is not root cannot reach
// the admin socket.
func TestAPIRolesAndEventStreams(t *testing.T) {
	bin := build(t)
	metricsAddr := freePort(t)
	r := startAgent(t, bin, "--metrics-address", metricsAddr)
	admin, ro := r.admin, r.readOnly
	if out, err := vigilCmd(bin, "status", "--server", ro); err != nil || !strings.Contains(out, "your role: readonly") {
		t.Fatalf("status on the read-only socket: %v\n%s", err, out)
	}
	nobody := exec.Command(bin, "status", "--server", admin)
	nobody.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := nobody.CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("a non-root user on the admin socket: %v\n%s", err, out)
	}

	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := filepath.Join(dir, "kill.yaml")
	policy := fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: api-kill}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, secret)
	if err := os.WriteFile(doc, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := vigilCmd(bin, "policy", "add", doc, "--server", ro)
	if err == nil || !strings.Contains(out, "needs the operator role; this client is readonly") {
		t.Errorf("read-only add: %v\n%s", err, out)
	}

	compact := streamLines(t, bin, "-o", "compact", "--server", ro)
	jsonLines := streamLines(t, bin, "-o", "json", "--server", ro)
	marker := run(t, "/bin/echo", "vigil-api-marker")
	pokeUntilLine(t, compact, "exec in compact", marker, "🚀", "exec", "/echo", "vigil-api-marker")
	pokeUntilLine(t, jsonLines, "exec in JSON", marker, `"process_exec"`, `"arguments":"vigil-api-marker"`, `"node_name":"e2e-api"`)

	if out, err := vigilCmd(bin, "policy", "add", doc, "--server", admin); err != nil || !strings.Contains(out, "api-kill") {
		t.Fatalf("admin add: %v\n%s", err, out)
	}
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Errorf("cat of the secret after the admin's policy: signal %v, want SIGKILL", sig)
	}
	line := waitLine(t, compact, "the kill in compact", "⛔", "kprobe", "/cat", secret, "SIGKILL", "[api-kill]")
	t.Logf("compact: %s", line)
	out, err = vigilCmd(bin, "policy", "list", "--server", ro)
	if err != nil || !all(out, []string{"api-kill", "loaded", "enforce", "api"}) {
		t.Errorf("list on the read-only socket: %v\n%s", err, out)
	}
	if out, err := vigilCmd(bin, "policy", "mode", "api-kill", "monitor", "--server", ro); err == nil || !strings.Contains(out, "admin role") {
		t.Errorf("read-only mode change: %v\n%s", err, out)
	}
	m := scrape(t, metricsAddr)
	for _, want := range []string{`vigil_hook_actions_total{function="__x64_sys_openat",policy="api-kill"} 1`,
		`vigil_policies{state="loaded"} 1`, `vigil_events_total{type="process_kprobe"} 1`,
		`vigil_events_lost_total{reason="kernel_ring_buffer_full",where="kernel"} 0`,
		`vigil_events_lost_total{reason="export_rate_limit",where="user"} 0`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if out, err := vigilCmd(bin, "policy", "delete", "api-kill", "--server", admin); err != nil {
		t.Errorf("admin delete: %v\n%s", err, out)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat after the delete: %v", err)
	}
}

func killedBy(err error) syscall.Signal {
	if ee, ok := err.(*exec.ExitError); ok {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}
