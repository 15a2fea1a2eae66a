package agent

import (
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
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

var kernel = sync1(probe.Run)

// sync1 runs f once, on first use.
func sync1[T any](f func() T) func() T {
	var v T
	var done bool
	return func() T {
		if !done {
			v, done = f(), true
		}
		return v
	}
}

// requires skips the test, naming the feature and the probe's reason, when
// the kernel lacks f.
func requires(t *testing.T, f probe.Feature) {
	t.Helper()
	if err := kernel().Missing(f); err != nil {
		t.Skipf("needs %s: %v", f, err)
	}
}

// policyFile writes doc to a file an agent can load.
func policyFile(t *testing.T, doc string) string {
	f := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSyscallBackendsAgree runs the same kill policy through every syscall
// backend this kernel has: each kills, and each reports the same event.
func TestSyscallBackendsAgree(t *testing.T) {
	backends := map[string]probe.Feature{
		tracing.AttachKprobe: probe.Kprobe, tracing.AttachFentry: probe.Fentry, compile.BackendRawSyscall: probe.TPBTF,
		compile.BackendSyscallTracepoint: probe.SyscallTracepoint,
	}
	for backend, feature := range backends {
		t.Run(backend, func(t *testing.T) {
			requires(t, feature)
			dir, secret, other := secretFiles(t)
			name := "backend-" + strings.ReplaceAll(backend, "_", "-")
			file := policyFile(t, killReadPolicy(name, dir+"/secret", "enforce"))
			r := start(t, Config{PolicyFiles: []string{file}, SyscallBackend: backend})
			defer r.stop()
			cat := exec.Command("/bin/cat", secret)
			if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
				t.Fatalf("cat of the secret: killed by %v, want SIGKILL", sig)
			}
			k := r.sink.one(t, "kprobe event", kprobeOf(cat.Process.Pid, name)).ProcessKprobe
			if k.Backend != backend || k.FunctionName != "__x64_sys_openat" || k.Action != event.ActionSigkill ||
				len(k.Args) != 2 || *k.Args[1].StringArg != secret {
				t.Errorf("event = %+v", k)
			}
			if err := exec.Command("/bin/cat", other).Run(); err != nil {
				t.Errorf("cat of another file: %v", err)
			}
		})
	}
}

func TestKernelFunctionHookResolvesTheFile(t *testing.T) {
	if !kernel().Has(probe.Kprobe) && !kernel().Has(probe.Fentry) {
		t.Skipf("needs kprobe or fentry: %v; %v", kernel().Missing(probe.Kprobe), kernel().Missing(probe.Fentry))
	}
	dir, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: security-file-open
spec:
  kprobes:
  - call: security_file_open
    syscall: false
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [%q]}
`, dir))
	cat := exec.Command("/bin/cat", secret)
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	evs := shared.sink.find(t, 1, 10*time.Second, kprobeOf(cat.Process.Pid, "security-file-open"))
	if len(evs) == 0 {
		t.Fatal("no security_file_open event for cat")
	}
	for _, ev := range evs {
		k := ev.ProcessKprobe
		if k.Args[0].FileArg == nil || k.Args[0].FileArg.Path != secret || k.FunctionName != "security_file_open" {
			t.Errorf("event %s %+v, want file_arg %s", k.FunctionName, k.Args[0].FileArg, secret)
		}
	}
}

func TestLSMFileOpenOverrideDenies(t *testing.T) {
	requires(t, probe.LSM)
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: deny-secret-open
spec:
  lsmhooks:
  - hook: file_open
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [%q]}
      matchActions:
      - {action: Override, argError: -1}
`, dir+"/secret"))
	out, err := exec.Command("/bin/cat", secret).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Operation not permitted") {
		t.Fatalf("cat of the secret: %v %s, want EPERM", err, out)
	}
	lsm := shared.sink.one(t, "process_lsm event", func(ev *event.Event) bool {
		return ev.ProcessLsm != nil && ev.ProcessLsm.PolicyName == "deny-secret-open"
	}).ProcessLsm
	if lsm.Action != event.ActionOverride || lsm.FunctionName != "file_open" || lsm.Args[0].FileArg.Path != secret {
		t.Errorf("event = %+v", lsm)
	}
	if err := exec.Command("/bin/cat", other).Run(); err != nil {
		t.Errorf("cat of another file: %v", err)
	}
}

// TestUprobeOnBash hooks bash's own parse_and_execute, which `bash -c`
// calls to run its command string (its first argument, a C string).
func TestUprobeOnBash(t *testing.T) {
	requires(t, probe.Uprobe)
	bash := resolvedPath("/bin/bash")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: bash-commands
spec:
  uprobes:
  - path: %q
    symbols: [parse_and_execute]
    args:
    - {index: 0, type: string, label: command}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: ["echo vigil-uprobe"]}
`, bash))
	cmd := exec.Command(bash, "-c", "echo vigil-uprobe-test; true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	u := shared.sink.one(t, "process_uprobe event", func(ev *event.Event) bool {
		return ev.ProcessUprobe != nil && ev.ProcessUprobe.Process.Pid == uint32(cmd.Process.Pid)
	}).ProcessUprobe
	if u.Path != bash || u.Symbol != "parse_and_execute" || u.PolicyName != "bash-commands" ||
		len(u.Args) != 1 || u.Args[0].StringArg == nil || *u.Args[0].StringArg != "echo vigil-uprobe-test; true" {
		t.Errorf("event = %+v args %+v", u, u.Args)
	}
}

// TestNetworkArgs reads tcp_connect's struct sock and ip_output's packet and
// filters on their destination and protocol in the kernel.
func TestNetworkArgs(t *testing.T) {
	if !kernel().Has(probe.Kprobe) && !kernel().Has(probe.Fentry) {
		t.Skipf("needs kprobe or fentry: %v; %v", kernel().Missing(probe.Kprobe), kernel().Missing(probe.Fentry))
	}
	for _, tc := range []struct {
		call, typ, more string
		index           int
		check           func(a *event.Argument, port int) bool
	}{
		{"tcp_connect", "sock", "{index: 0, operator: State, values: [TCP_SYN_SENT]}", 0, func(a *event.Argument, port int) bool {
			sk := a.SockArg
			return sk != nil && sk.Family == "AF_INET" && sk.Type == "SOCK_STREAM" && sk.Protocol == "IPPROTO_TCP" &&
				sk.Daddr == "127.0.0.1" && sk.Dport == uint32(port) && sk.State == "TCP_SYN_SENT" && sk.Sport != 0
		}},
		{"ip_output", "skb", "{index: 2, operator: SAddr, values: [127.0.0.1]}", 2, func(a *event.Argument, port int) bool {
			p := a.SkbArg
			return p != nil && p.Daddr == "127.0.0.1" && p.Saddr == "127.0.0.1" && p.Dport == uint32(port) &&
				p.Proto == 6 && p.Sport != 0 && p.Len >= 40
		}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			port := ln.Addr().(*net.TCPAddr).Port
			name := "net-" + tc.typ
			load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  kprobes:
  - call: %s
    syscall: false
    args:
    - {index: %d, type: %s}
    selectors:
    - matchArgs:
      - {index: %[3]d, operator: DPort, values: ["%[5]d"]}
      - {index: %[3]d, operator: DAddr, values: ["127.0.0.0/8"]}
      - {index: %[3]d, operator: Protocol, values: [IPPROTO_TCP]}
      - %[6]s
`, name, tc.call, tc.index, tc.typ, port, tc.more))
			connect := func(port int) *exec.Cmd {
				cmd := exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", strconv.Itoa(port))
				_ = cmd.Run() // another port is likely refused: only the events matter
				return cmd
			}
			cmd := connect(port)
			evs := shared.sink.find(t, 1, 10*time.Second, kprobeOf(cmd.Process.Pid, name))
			if len(evs) == 0 {
				t.Fatalf("no %s event", tc.call)
			}
			if a := evs[0].ProcessKprobe.Args[0]; !tc.check(a, port) {
				t.Errorf("%s argument = %+v %+v", tc.call, a.SockArg, a.SkbArg)
			}
			other := connect(port + 1)
			time.Sleep(300 * time.Millisecond)
			if evs := shared.sink.find(t, 1, 0, kprobeOf(other.Process.Pid, name)); len(evs) != 0 {
				t.Errorf("a connect to another port made %d events", len(evs))
			}
		})
	}
}
