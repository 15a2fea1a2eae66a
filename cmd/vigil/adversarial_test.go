package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/vigil-sec/vigil/internal/disktest"
	"github.com/vigil-sec/vigil/pkg/api"
)

// daemonSetMemoryLimit is the DaemonSet's memory limit (deploy/), which
// the agent must stay under through the whole suite.
func daemonSetMemoryLimit(t *testing.T) int {
	m := regexp.MustCompile(`limits: \{memory: (\d+)Mi\}`).FindStringSubmatch(read("../../deploy/daemonset.yaml"))
	if m == nil {
		t.Fatal("deploy/daemonset.yaml sets no memory limit")
	}
	mi, _ := strconv.Atoi(m[1])
	return mi << 20
}

// adversary is the suite's agent: a kill policy on a secret, a policy
// directory, an export file on a small tmpfs, sockets hostile clients
// reach.
type adversary struct {
	t                  *testing.T
	bin, dir, policies string
	secret, exportDir  string
	admin, ro, metrics string
	agent              *exec.Cmd
	stderr             strings.Builder
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	_, port, _ := strings.Cut(freePort(t), ":")
	return port
}

func startAdversary(t *testing.T) *adversary {
	a := &adversary{t: t, bin: build(t), dir: t.TempDir()}
	a.policies, a.exportDir = filepath.Join(a.dir, "policies"), disktest.Small(t, 8<<20)
	a.secret = filepath.Join(a.dir, "secret")
	a.admin, a.ro = filepath.Join(a.dir, "admin.sock"), filepath.Join(a.dir, "ro.sock")
	a.metrics = freePort(t)
	if err := os.Mkdir(a.policies, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a.write("kill.yaml", killSecret("adversary-kill", a.secret))
	a.agent = exec.Command(a.bin, "agent", "--node-name", "adversary", "--tracing-policy-dir", a.policies,
		"--export-filename", filepath.Join(a.exportDir, "events.json"), "--export-file-max-size-mb", "1",
		"--export-file-rotation-max-backups", "2", "--api-socket", a.admin,
		"--api-readonly-socket", a.ro, "--api-readonly-world-accessible", "--metrics-address", a.metrics,
		// a SIEM that is down, its spool on a small disk
		"--sink", "syslog+tcp://127.0.0.1:"+closedPort(t), "--sink-spool-dir", disktest.Small(t, 512<<10))
	a.agent.Stderr = &a.stderr
	if err := a.agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = a.agent.Process.Signal(syscall.SIGTERM)
		_ = a.agent.Wait()
	})
	waitFor(t, "the API socket", func() bool { _, err := os.Stat(a.ro); return err == nil })
	waitFor(t, "the kill policy", func() bool { return catKilled(a.secret) })
	return a
}

// killSecret is a policy that kills whoever opens secret: every process,
// or those of binary when given.
func killSecret(name, secret string, binary ...string) string {
	doc := fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, name, secret)
	for _, b := range binary {
		doc += fmt.Sprintf("      matchBinaries: [{operator: In, values: [%q]}]\n", b)
	}
	return doc
}

func (a *adversary) write(name, doc string) {
	if err := os.WriteFile(filepath.Join(a.policies, name), []byte(doc), 0o600); err != nil {
		a.t.Fatal(err)
	}
}

// alive fails the test when the agent has exited.
func (a *adversary) alive(step string) {
	a.t.Helper()
	if err := a.agent.Process.Signal(syscall.Signal(0)); err != nil || a.agent.ProcessState != nil {
		a.t.Fatalf("%s: the agent is gone: %v\n%s", step, err, a.stderr.String())
	}
}

// peakRSS is the agent's peak resident memory (VmHWM), in bytes.
func (a *adversary) peakRSS() int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.agent.Process.Pid))
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb << 10
		}
	}
	return 0
}

// watchSecret reads the secret in a loop until stop; it counts the reads that
// got through.
func watchSecret(t *testing.T, secret string) (stop func() int) {
	done := make(chan struct{})
	result := make(chan int)
	go func() {
		through := 0
		for {
			select {
			case <-done:
				result <- through
				return
			default:
			}
			if err := exec.Command("/bin/cat", secret).Run(); err == nil {
				through++
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return func() int { close(done); return <-result }
}

// TestAdversarialSuite runs the attacks of issue 15 against one agent:
// it stays up, under the DaemonSet's memory limit, the secret stays
// protected throughout, and what it cannot deliver is counted in band.
func TestAdversarialSuite(t *testing.T) {
	a := startAdversary(t)
	through := watchSecret(t, a.secret)
	for _, step := range []struct {
		name string
		run  func(*testing.T, *adversary)
	}{
		{"alias bombs in the directory and through the API", aliasBombs},
		{"hostile files in the policy directory", hostileFiles},
		{"a half-written kill policy", halfWritten},
		{"streams and filters of a hostile local user", hostileStreams},
		{"concurrent policy operations", concurrentOperations},
		{"a full disk under the export file", fullExportDisk},
		{"a full disk under the spool", fullSpoolDisk},
	} {
		t.Run(step.name, func(t *testing.T) { step.run(t, a) })
		a.alive(step.name)
	}
	if n := through(); n != 0 {
		t.Errorf("%d reads of the secret got through during the suite", n)
	}
	peak := a.peakRSS()
	t.Logf("the agent's peak RSS through the suite: %d MiB", peak>>20)
	if limit := daemonSetMemoryLimit(t); peak > limit {
		t.Errorf("peak RSS %d MiB, over the DaemonSet's limit of %d MiB", peak>>20, limit>>20)
	}
}

// aliasBomb is a policy of four levels of 200 aliases each.
func aliasBomb() string {
	list := func(item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+", ", 200), ", ") + "]"
	}
	return "apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: bomb}\nspec:\n  options:\n" +
		"  - {name: a, value: x, extra: &v " + list(`"/etc/shadow"`) + "}\n" +
		"  - {name: b, extra: &m " + list("{index: 1, operator: Prefix, values: *v}") + "}\n" +
		"  - {name: c, extra: &s " + list("{matchArgs: *m}") + "}\n" +
		"  kprobes: " + list("{call: sys_openat, syscall: true, args: [{index: 1, type: string}], selectors: *s}") + "\n"
}

func aliasBombs(t *testing.T, a *adversary) {
	a.write("bomb.yaml", aliasBomb())
	out, err := vigilCmd(a.bin, "policy", "add", filepath.Join(a.policies, "bomb.yaml"), "--server", "unix://"+a.admin)
	if err == nil || !strings.Contains(out, "YAML aliases expand") {
		t.Errorf("an alias bomb through the API: %v\n%s", err, out)
	}
	waitFor(t, "the bomb refused in the log", func() bool { return strings.Contains(a.stderr.String(), "YAML aliases expand") })
}

func hostileFiles(t *testing.T, a *adversary) {
	if err := syscall.Mkfifo(filepath.Join(a.policies, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(a.policies, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	a.write("big.yaml", "# "+strings.Repeat("x", 50<<20)+"\n")
	// the watcher goes on: a new policy loads
	a.write("later.yaml", killSecret("later", filepath.Join(a.dir, "later")))
	waitFor(t, "a policy written after the hostile files", func() bool {
		out, _ := vigilCmd(a.bin, "policy", "list", "--server", "unix://"+a.admin)
		return strings.Contains(out, "later")
	})
	for _, f := range []string{"fifo.yaml", "zero.yaml", "big.yaml", "bomb.yaml"} {
		_ = os.Remove(filepath.Join(a.policies, f))
	}
}

func halfWritten(t *testing.T, a *adversary) {
	other := filepath.Join(a.dir, "other")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	whole := killSecret("half", other)
	f, err := os.Create(filepath.Join(a.policies, "half.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cut := strings.Index(whole, "      matchActions")
	_, _ = f.WriteString(whole[:cut])
	time.Sleep(300 * time.Millisecond) // within --tracing-policy-settle
	_, _ = f.WriteString(whole[cut:])
	f.Close()
	waitFor(t, "the whole policy", func() bool { return catKilled(other) })
	if strings.Contains(read(filepath.Join(a.exportDir, "events.json")), `"policy_name":"half","action":"KPROBE_ACTION_POST"`) {
		t.Error("the half-written version (a post, no kill) was loaded")
	}
}

func hostileStreams(t *testing.T, a *adversary) {
	conn, err := grpc.NewClient("unix://"+a.ro, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := api.NewVigilClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan error, 5000)
	for range 5000 {
		st, err := c.GetEvents(ctx, &api.GetEventsRequest{})
		if err != nil {
			results <- err
			continue
		}
		go func() { // an admitted stream reads events until the end
			for {
				if _, err := st.Recv(); err != nil {
					results <- err
					return
				}
			}
		}()
	}
	refused := 0
	for deadline := time.After(20 * time.Second); refused < 5000-8; refused++ {
		select {
		case err := <-results:
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("a stream ended with %v, want refused as ResourceExhausted", err)
			}
		case <-deadline:
			t.Fatalf("only %d of 5,000 streams on one connection refused in 20 s", refused)
		}
	}
	t.Logf("%d of 5,000 streams on one connection refused", refused)
	heavy := strings.Repeat(`{"arguments_regex":["(a+)+b", "x.*y.*z"]}`+"\n", 2000)
	for range 10 {
		st, err := c.GetEvents(ctx, &api.GetEventsRequest{AllowList: heavy})
		if err == nil {
			_, err = st.Recv()
		}
		if status.Code(err) != codes.InvalidArgument && status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("a stream of 2,000 regex lines: %v, want refused", err)
		}
	}
}

func concurrentOperations(t *testing.T, a *adversary) {
	doc := filepath.Join(a.dir, "raced.yaml")
	if err := os.WriteFile(doc, []byte(killSecret("raced", filepath.Join(a.dir, "raced"))), 0o600); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 8 {
				args := [][]string{{"policy", "add", doc}, {"policy", "disable", "raced"}, {"policy", "enable", "raced"},
					{"policy", "delete", "raced"}}[(g+i)%4]
				_, _ = vigilCmd(a.bin, append(args, "--server", "unix://"+a.admin)...)
			}
		}()
	}
	wg.Wait()
}

func fullExportDisk(t *testing.T, a *adversary) {
	filler := filepath.Join(a.exportDir, "filler")
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k", "count=4000").Run() // up to ENOSPC
	for range 20 {
		_ = exec.Command("/bin/true").Run() // exec events that cannot be written
	}
	time.Sleep(time.Second)
	a.alive("the export disk full")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the export_write_failed record", func() bool {
		_ = exec.Command("/bin/true").Run()
		return strings.Contains(read(filepath.Join(a.exportDir, "events.json")), `"reason":"export_write_failed"`)
	})
}

// fullSpoolDisk: the events a sink's full spool drops are counted (the
// sink's own stream gets the lost_events record once it delivers again).
func fullSpoolDisk(t *testing.T, a *adversary) {
	waitFor(t, "the sink's drops counted", func() bool {
		for range 200 {
			_ = exec.Command("/bin/true").Run() // events for the sink that is down
		}
		return counted(scrape(t, a.metrics), "spool_full")
	})
}

// counted says whether a metric line with reason has a count above 0.
func counted(metrics, reason string) bool {
	for _, l := range strings.Split(metrics, "\n") {
		f := strings.Fields(l)
		if len(f) == 2 && strings.Contains(f[0], `reason="`+reason+`"`) && f[1] != "0" {
			return true
		}
	}
	return false
}
