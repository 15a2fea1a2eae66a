package agent

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// load parses a policy document and loads it into the shared agent; it is
// removed when the test ends.
func load(t *testing.T, doc string) {
	t.Helper()
	docs, err := policy.Parse([]byte(doc), t.Name())
	if err != nil {
		t.Fatalf("policy rejected: %v", err)
	}
	for _, p := range docs {
		if err := shared.agent.pols.Apply(t.Name(), p); err != nil {
			t.Fatalf("loading %s: %v", p.GetName(), err)
		}
		name := p.GetName()
		t.Cleanup(func() { _ = shared.agent.pols.Remove(name) })
	}
}

func killReadPolicy(name, prefix, mode string) string {
	return fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  options:
  - name: policy-mode
    value: %s
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: string
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: [%q]
      matchBinaries:
      - operator: In
        values: [%q]
      matchActions:
      - action: Sigkill
`, name, mode, prefix, resolvedPath("/bin/cat"))
}

func resolvedPath(p string) string {
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		return p
	}
	return r
}

// secretFiles makes a directory with a secret and another file.
func secretFiles(t *testing.T) (dir, secret, other string) {
	dir = t.TempDir()
	secret, other = filepath.Join(dir, "secret"), filepath.Join(dir, "other")
	for _, f := range []string{secret, other} {
		if err := os.WriteFile(f, []byte("data\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret, other
}

func killedBy(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

func kprobeOf(pid int, policy string) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		k := ev.ProcessKprobe
		return k != nil && k.Process.Pid == uint32(pid) && k.PolicyName == policy
	}
}

func TestSigkillOnPrefixAndBinary(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, killReadPolicy("kill-secret-read", dir+"/secret", "enforce"))

	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Fatalf("cat of the secret: killed by %v, want SIGKILL", sig)
	}
	k := shared.sink.one(t, "kprobe event of the killed cat", kprobeOf(cat.Process.Pid, "kill-secret-read")).ProcessKprobe
	if k.Action != event.ActionSigkill || k.FunctionName != "__x64_sys_openat" || k.Mode != "" ||
		len(k.Args) != 2 || k.Args[1].StringArg == nil || *k.Args[1].StringArg != secret {
		t.Errorf("event = %+v", k)
	}
	if k.Process.Binary != resolvedPath("/bin/cat") || k.Parent == nil || k.Parent.Pid != uint32(os.Getpid()) {
		t.Errorf("event process = %+v, parent %+v", k.Process, k.Parent)
	}
	exit := shared.sink.one(t, "exit of the killed cat", exitOf(cat.Process.Pid)).ProcessExit
	if exit.Signal != "SIGKILL" {
		t.Errorf("process_exit signal = %q, want SIGKILL", exit.Signal)
	}
	for _, cmd := range []*exec.Cmd{exec.Command("/usr/bin/head", secret), exec.Command("/bin/cat", other)} {
		if err := cmd.Run(); err != nil {
			t.Errorf("%v must be untouched: %v", cmd.Args, err)
		}
	}
}

// The kernel remembers each process image's matchBinaries verdicts; an exec
// keeps the pid and brings a new image, which is checked again: a shell
// found not to be cat becomes cat, and one found to be the shell becomes
// cat, which is not.
func TestBinaryCheckedAgainAfterExec(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, killReadPolicy("kill-cat-after-exec", secret, "enforce"))
	sh := exec.Command("/bin/sh", "-c", `read x < "$1"; read x < "$1"; exec /bin/cat "$1"`, "sh", secret)
	if sig := killedBy(sh.Run()); sig != syscall.SIGKILL {
		t.Fatalf("sh that became cat: killed by %v, want SIGKILL", sig)
	}
	k := shared.sink.one(t, "event of the cat sh became", kprobeOf(sh.Process.Pid, "kill-cat-after-exec")).ProcessKprobe
	if k.Process.Binary != resolvedPath("/bin/cat") {
		t.Errorf("killed binary %q, want cat", k.Process.Binary)
	}
	load(t, strings.Replace(killReadPolicy("kill-sh-after-exec", dir+"/other", "enforce"),
		resolvedPath("/bin/cat"), resolvedPath("/bin/sh"), 1))
	sh = exec.Command("/bin/sh", "-c", `read x < "$1"; exec /bin/cat "$2"`, "sh", secret, other)
	if err := sh.Run(); err != nil {
		t.Fatalf("cat that sh became must be untouched: %v", err)
	}
	sh = exec.Command("/bin/sh", "-c", `read x < "$1"`, "sh", other)
	if sig := killedBy(sh.Run()); sig != syscall.SIGKILL {
		t.Fatalf("sh reading other: killed by %v, want SIGKILL", sig)
	}
}

// The kernel counts every match and enforcement action, also those that
// post no event; a monitor-mode match is no action.
func TestCountsWithoutEvents(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	doc := strings.Replace(killReadPolicy("quiet-kill", dir+"/secret", "enforce"),
		"      - action: Sigkill\n", "      - action: Sigkill\n      - action: NoPost\n", 1)
	load(t, doc)
	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Fatalf("cat of the secret: killed by %v, want SIGKILL", sig)
	}
	if evs := shared.sink.find(t, 1, time.Second, kprobeOf(cat.Process.Pid, "quiet-kill")); len(evs) != 0 {
		t.Errorf("NoPost: %d events posted", len(evs))
	}
	if c, _ := shared.agent.pols.Policy("quiet-kill"); c.Events != 1 || c.Actions != 1 {
		t.Errorf("counts %+v, want 1 match and 1 action", c)
	}
	if err := shared.agent.pols.SetMode("quiet-kill", 1); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Fatalf("cat in monitor mode: %v", err)
	}
	if c, _ := shared.agent.pols.Policy("quiet-kill"); c.Events != 2 || c.Actions != 1 {
		t.Errorf("counts after a monitor-mode match %+v, want 2 matches and 1 action", c)
	}
}

// A disabled policy leaves the kernel and stays listed, with its counts; a
// reload of its source keeps it disabled; the guardrails judge it again
// when it is enabled; enabled, it enforces again.
func TestDisableAndEnable(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	doc := killReadPolicy("toggled", dir+"/secret", "enforce")
	load(t, doc)
	ps := shared.agent.pols
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Fatalf("before disabling: killed by %v", sig)
	}
	if err := ps.Disable("toggled"); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat with the policy disabled: %v", err)
	}
	docs, err := policy.Parse([]byte(doc), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Apply(t.Name(), docs[0]); err != nil { // its file changed
		t.Fatal(err)
	}
	if p, ok := shared.agent.Policy("toggled"); !ok || p.State != StateDisabled || p.Actions != 1 || !p.Enforces {
		t.Errorf("listed as %+v, want disabled, 1 action, enforcing", p)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat after its source reloaded, still disabled: %v", err)
	}
	var judged Load
	ps.SetGuard(guardFunc(func(l Load) error { // the guardrails changed since it loaded
		judged = l
		return &GuardError{Reasons: []string{"no kills today"}}
	}))
	err = ps.Enable("toggled", "admin")
	ps.SetGuard(nil)
	var refused *GuardError
	if !errors.As(err, &refused) || judged.Role != "admin" || judged.Source != t.Name() {
		t.Errorf("enabling against the guardrails: %v, judged %+v; want refused, with the caller's role and the source", err, judged)
	}
	if p, _ := shared.agent.Policy("toggled"); p.State != StateDisabled {
		t.Errorf("refused by the guardrails, listed as %+v, want still disabled", p)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat after the guardrails refused to enable it: %v", err)
	}
	if err := ps.Enable("toggled", "admin"); err != nil {
		t.Fatal(err)
	}
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Errorf("enabled again: killed by %v", sig)
	}
	if p, _ := shared.agent.Policy("toggled"); p.State != StateLoaded || p.Actions != 2 {
		t.Errorf("listed as %+v, want loaded with 2 actions", p)
	}
}

type guardFunc func(Load) error

func (f guardFunc) Check(l Load) error { return f(l) }

func TestMonitorModeReportsWithoutKilling(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	load(t, killReadPolicy("monitor-secret-read", dir+"/secret", "monitor"))
	cat := exec.Command("/bin/cat", secret)
	if err := cat.Run(); err != nil {
		t.Fatalf("cat in monitor mode: %v, want it untouched", err)
	}
	k := shared.sink.one(t, "kprobe event in monitor mode", kprobeOf(cat.Process.Pid, "monitor-secret-read")).ProcessKprobe
	if k.Mode != "monitor" || k.Action != event.ActionSigkill {
		t.Errorf("mode %q action %q, want monitor and the would-be SIGKILL", k.Mode, k.Action)
	}
	// switch to enforce without reloading: the next cat dies
	if err := shared.agent.pols.SetMode("monitor-secret-read", 0); err != nil {
		t.Fatal(err)
	}
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Errorf("after switching to enforce: killed by %v, want SIGKILL", sig)
	}
}

func TestStringAndIntegerOperators(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: operators
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    - {index: 2, type: int}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
      - {index: 1, operator: Postfix, values: ["ret"]}
      - {index: 1, operator: NotEqual, values: [%q]}
      - {index: 2, operator: InMap, values: ["0", "524288"]}
`, dir+"/", other))
	// secret: prefix, postfix "ret", not equal to other, flags O_RDONLY(|O_CLOEXEC)
	cat := exec.Command("/bin/cat", secret, other)
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	evs := shared.sink.find(t, 1, 5*time.Second, kprobeOf(cat.Process.Pid, "operators"))
	if len(evs) != 1 || *evs[0].ProcessKprobe.Args[0].StringArg != secret {
		t.Fatalf("want exactly the open of %s, got %d events", secret, len(evs))
	}
	// O_WRONLY|O_CREAT is not in the InMap set: no event
	w := exec.Command("/bin/sh", "-c", `echo x > "$0"`, filepath.Join(dir, "newsecret"))
	if err := w.Run(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if evs := shared.sink.find(t, 1, 0, kprobeOf(w.Process.Pid, "operators")); len(evs) != 0 {
		t.Errorf("an open with flags outside the InMap set made %d events", len(evs))
	}
}

func TestConnectObservedWithSockaddr(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	load(t, fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: connect-local
spec:
  kprobes:
  - call: sys_connect
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: sockaddr}
    selectors:
    - matchArgs:
      - {index: 1, operator: SPort, values: ["%d"]}
      - {index: 1, operator: SAddr, values: ["127.0.0.0/8"]}
`, port))
	// a separate process: events are found by its pid
	nc := exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", strconv.Itoa(port))
	if err := nc.Run(); err != nil {
		t.Fatal(err)
	}
	k := shared.sink.one(t, "connect event", kprobeOf(nc.Process.Pid, "connect-local")).ProcessKprobe
	sa := k.Args[1].SockaddrArg
	if sa == nil || sa.Family != "AF_INET" || sa.Addr != "127.0.0.1" || sa.Port != uint32(port) {
		t.Errorf("sockaddr = %+v, want AF_INET 127.0.0.1:%d", sa, port)
	}
	// another port: no event (likely refused; only the event matters)
	other := exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", strconv.Itoa(port+1))
	_ = other.Run()
	time.Sleep(300 * time.Millisecond)
	if evs := shared.sink.find(t, 1, 0, kprobeOf(other.Process.Pid, "connect-local")); len(evs) != 0 {
		t.Errorf("a connect to another port made %d events", len(evs))
	}
}

func TestHotReloadNeverLetsAnAttemptThrough(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	file := filepath.Join(t.TempDir(), "policy.yaml")
	doc := killReadPolicy("reloaded", dir+"/secret", "enforce")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, Config{PolicyFiles: []string{file}, PolicyReload: 50 * time.Millisecond, PolicySettle: 50 * time.Millisecond})
	defer r.stop()
	// the loop counts reads that got through
	loop := exec.Command("/bin/sh", "-c", `n=0; while [ ! -e "$1" ]; do /bin/cat "$0" >/dev/null 2>&1 && n=$((n+1)); done; echo $n`,
		secret, dir+"/stop")
	out := &strings.Builder{}
	loop.Stdout = out
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	killed := func(n int) int {
		return len(r.sink.find(t, n, 10*time.Second, func(ev *event.Event) bool {
			return ev.ProcessKprobe != nil && ev.ProcessKprobe.PolicyName == "reloaded"
		}))
	}
	for i := 0; i < 10; i++ {
		// attempts run between reloads whatever the machine's speed: wait
		// for the next kill before each edit
		if killed(i+1) < i+1 {
			t.Fatalf("no attempt killed before reload %d", i)
		}
		// each edit replaces the policy: new hooks in, old hooks out
		edited := strings.Replace(doc, "    syscall: true", fmt.Sprintf("    syscall: true\n    message: edit %d", i), 1)
		if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond) // the reload interval is 50 ms
	}
	n := killed(11)
	_ = os.WriteFile(dir+"/stop", nil, 0o600)
	if err := loop.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d attempts killed across 10 reloads", n)
	if got := strings.TrimSpace(out.String()); got != "0" || n < 11 {
		t.Errorf("%s reads got through during reloads (%d killed)", got, n)
	}
}

// setuidHelper calls setuid(uid) once, from one thread, and reports the
// result in its exit status.
func setuidHelper(uid int) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=setuid:"+strconv.Itoa(uid))
	return cmd
}

func TestSetuidObservedWithReturnValue(t *testing.T) {
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: setuid-ret
spec:
  kprobes:
  - call: sys_setuid
    syscall: true
    return: true
    args:
    - {index: 0, type: int}
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs:
      - {index: 0, operator: InRange, values: ["0:1000"]}
      - {index: 0, operator: Mask, values: ["0x3ff"]}
      matchReturnArgs:
      - {index: 0, operator: LT, values: ["1"]}
`)
	// root: setuid(5) succeeds (return 0), in range, mask matches
	ok := setuidHelper(5)
	_ = ok.Run()
	k := shared.sink.one(t, "setuid(5)", kprobeOf(ok.Process.Pid, "setuid-ret")).ProcessKprobe
	if k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg != 0 || *k.Args[0].IntArg != 5 {
		t.Errorf("setuid(5): return %+v args %+v", k.Return, k.Args)
	}
	// 2000 is out of range, 1024 fails the mask: no events
	for _, uid := range []int{2000, 1024} {
		cmd := setuidHelper(uid)
		_ = cmd.Run()
		time.Sleep(200 * time.Millisecond)
		if evs := shared.sink.find(t, 1, 0, kprobeOf(cmd.Process.Pid, "setuid-ret")); len(evs) != 0 {
			t.Errorf("setuid(%d) made %d events", uid, len(evs))
		}
	}
}

func TestRateLimitCollapsesRepeats(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: rate-limited
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
      matchActions:
      - {action: Post, rateLimit: "1m", rateLimitScope: process}
`, dir))
	// one process opens the secret 20 times and the other file once
	sh := exec.Command("/bin/sh", "-c", `for i in $(seq 20); do : < "$0"; done; : < "$1"`, secret, other)
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	evs := shared.sink.find(t, 2, 5*time.Second, kprobeOf(sh.Process.Pid, "rate-limited"))
	time.Sleep(200 * time.Millisecond)
	evs = shared.sink.find(t, 2, 0, kprobeOf(sh.Process.Pid, "rate-limited"))
	if len(evs) != 2 {
		t.Errorf("20 identical opens and one other: want 2 events, got %d", len(evs))
	}
}

// TestRateLimitScopes: rateLimitScope thread keeps one event per thread,
// global one for every process, as in Tetragon.
func TestRateLimitScopes(t *testing.T) {
	threadDir, globalDir := t.TempDir(), t.TempDir()
	for scope, dir := range map[string]string{"thread": threadDir, "global": globalDir} {
		// before the policy: the test's own open would be the one event
		if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: rate-%s}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchActions: [{action: Post, rateLimit: "1m", rateLimitScope: %s}]
`, scope, dir, scope))
	}
	// one process, two threads, three identical opens each
	threads := exec.Command(os.Args[0])
	threads.Env = append(os.Environ(), helperEnv+"=open-threads:"+filepath.Join(threadDir, "f"))
	// two processes, three identical opens each, on one CPU; before each, an
	// open of a longer name leaves different bytes in that CPU's scratch
	// after the path (which the rate limit must not compare)
	var procs []*exec.Cmd
	for _, long := range []string{"f-left-behind-aaaaaaaaaaaaaaaa", "f-left-behind-bbbbbbbbbbbbbbbb"} {
		if err := os.WriteFile(filepath.Join(globalDir, long), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, exec.Command("taskset", "-c", "0", "/bin/sh", "-c",
			`: < "$1"; /bin/sh -c 'for i in 1 2 3; do : < "$0"; done' "$0"`,
			filepath.Join(globalDir, "f"), filepath.Join(globalDir, long)))
	}
	for _, cmd := range append(procs, threads) {
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", cmd.Args, err, out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if evs := shared.sink.find(t, 0, 0, kprobeOf(threads.Process.Pid, "rate-thread")); len(evs) != 2 {
		t.Errorf("scope thread, two threads of one process: %d events, want 2", len(evs))
	}
	f := filepath.Join(globalDir, "f")
	n := len(shared.sink.find(t, 0, 0, func(ev *event.Event) bool {
		k := ev.ProcessKprobe
		return k != nil && k.PolicyName == "rate-global" && len(k.Args) == 1 &&
			k.Args[0].StringArg != nil && *k.Args[0].StringArg == f
	}))
	if n != 1 {
		t.Errorf("scope global, two processes: %d events of %s, want 1", n, f)
	}
}

func TestMatchPIDsFollowForks(t *testing.T) {
	_, secret, _ := secretFiles(t)
	// a shell waits for the policy, then its child opens the secret
	gate := filepath.Join(t.TempDir(), "gate")
	sh := exec.Command("/bin/sh", "-c", `while [ ! -e "$1" ]; do sleep 0.02; done; /bin/cat "$0"`, secret, gate)
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: follow-forks
spec:
  kprobes:
  - call: sys_openat
    args:
    - {index: 1, type: string}
    selectors:
    - matchPIDs:
      - {operator: In, followForks: true, values: [%d]}
      matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
`, sh.Process.Pid, secret))
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := sh.Wait(); err != nil {
		t.Fatal(err)
	}
	k := shared.sink.one(t, "open by the shell's child", func(ev *event.Event) bool {
		return ev.ProcessKprobe != nil && ev.ProcessKprobe.PolicyName == "follow-forks"
	}).ProcessKprobe
	if k.Parent == nil || k.Parent.Pid != uint32(sh.Process.Pid) {
		t.Errorf("event from %+v, want a child of pid %d", k.Process, sh.Process.Pid)
	}
	// the test process is not a descendant: its own open makes no event
	if _, err := os.ReadFile(secret); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if evs := shared.sink.find(t, 2, 0, kprobeOf(os.Getpid(), "follow-forks")); len(evs) != 0 {
		t.Errorf("an open outside the followed tree made %d events", len(evs))
	}
}

// On the raw syscall tracepoint, policies on one syscall share its hook
// list: as many as it holds load, and the last one still enforces; one more
// is refused, naming the limit. (Other backends give each hook a program.)
func TestManyPoliciesOnOneSyscall(t *testing.T) {
	requires(t, probe.TPBTF)
	r := start(t, Config{SyscallBackend: compile.BackendRawSyscall})
	defer r.stop()
	dir, secret, _ := secretFiles(t)
	apply := func(name, prefix string) error {
		docs, err := policy.Parse([]byte(killReadPolicy(name, prefix, "enforce")), t.Name())
		if err != nil {
			t.Fatal(err)
		}
		return r.agent.pols.Apply(t.Name(), docs[0])
	}
	for i := 1; i < tracing.HooksPerSyscall; i++ {
		if err := apply(fmt.Sprintf("many-%d", i), fmt.Sprintf("%s/nothing-%d", dir, i)); err != nil {
			t.Fatalf("policy %d on openat: %v", i, err)
		}
	}
	if err := apply("many-last", secret); err != nil {
		t.Fatalf("policy %d on openat: %v", tracing.HooksPerSyscall, err)
	}
	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Fatalf("cat of the secret under the %dth policy on openat: killed by %v, want SIGKILL", tracing.HooksPerSyscall, sig)
	}
	r.sink.one(t, "the last policy's event", kprobeOf(cat.Process.Pid, "many-last"))
	err := apply("one-too-many", secret)
	if err == nil {
		t.Fatal("a policy past the syscall's hook list loaded")
	}
	if want := fmt.Sprintf("more than %d hooks", tracing.HooksPerSyscall); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestRangesInValueSets: as in Tetragon, SPort and InMap values may be
// ranges "min:max".
func TestRangesInValueSets(t *testing.T) {
	port := 41000 + os.Getpid()%5000
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ranges}
spec:
  kprobes:
  - call: sys_connect
    args: [{index: 1, type: sockaddr}]
    selectors:
    - matchArgs: [{index: 1, operator: SPort, values: ["%d:%d"]}]
      matchActions: [{action: Sigkill}]
  - call: sys_setpriority
    args: [{index: 2, type: int}]
    selectors:
    - matchArgs: [{index: 2, operator: InMap, values: ["5:7", "12"]}]
      matchActions: [{action: Sigkill}]
`, port, port+10))
	connect := func(p int) *exec.Cmd {
		return exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", fmt.Sprint(p))
	}
	mustRun(t, "connect to the first port of the range", connect(port), true)
	mustRun(t, "connect to its last port", connect(port+10), true)
	mustRun(t, "connect past it", connect(port+11), false)
	for prio, want := range map[int]bool{4: false, 5: true, 7: true, 8: false, 12: true} {
		mustRun(t, fmt.Sprintf("setpriority %d", prio), exec.Command("/usr/bin/nice", "-n", fmt.Sprint(prio), "/bin/true"), want)
	}
}
