package agent

// Runtime tests of the policy features the README claims (issue 14): each
// loads a real policy into the shared agent, runs real processes, and
// asserts on their events and their fate, for the process that should
// match and for the one that should not.

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// claimHelperEnv makes the test binary, started again, make a few exact
// system calls instead of running tests (see claimHelper).
const claimHelperEnv = "VIGIL_CLAIM_HELPER"

func init() {
	if os.Getenv(claimHelperEnv) != "" {
		os.Exit(claimHelper(os.Args[1:]))
	}
}

// claimHelper runs in a helper process, before TestMain:
//
//	dups            dup2(1, 77), dup(77), dup3(77, 78, 0), dup2(77, 79)
//	connect ADDR    one TCP connect to ADDR (ip:port), whatever its result
//	readinto FILE   one read of FILE into a buffer that holds readBefore
func claimHelper(args []string) int {
	switch {
	case len(args) == 1 && args[0] == "dups":
		for _, c := range [][4]uintptr{
			{syscall.SYS_DUP2, 1, 77}, {syscall.SYS_DUP, 77}, {syscall.SYS_DUP3, 77, 78, 0}, {syscall.SYS_DUP2, 77, 79},
		} {
			if _, _, errno := syscall.RawSyscall(c[0], c[1], c[2], c[3]); errno != 0 {
				return 2
			}
		}
		return 0
	case len(args) == 2 && args[0] == "connect":
		ap, err := netip.ParseAddrPort(args[1])
		if err != nil {
			return 2
		}
		family, sa := syscall.AF_INET6, syscall.Sockaddr(&syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()})
		if ap.Addr().Is4() {
			family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
		}
		fd, err := syscall.Socket(family, syscall.SOCK_STREAM, 0)
		if err != nil {
			return 3
		}
		_ = syscall.Connect(fd, sa) // a closed port refuses: the syscall ran all the same
		return 0
	case len(args) == 2 && args[0] == "readinto":
		fd, err := syscall.Open(args[1], syscall.O_RDONLY, 0)
		if err != nil {
			return 2
		}
		buf := []byte(readBefore)
		if _, err := syscall.Read(fd, buf); err != nil {
			return 3
		}
		return 0
	}
	return 1
}

// claimHelperCmd starts the test binary as a helper.
func claimHelperCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), claimHelperEnv+"=1")
	return cmd
}

// claimTestBinary is the test binary's path as the kernel resolves it.
func claimTestBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return resolved(t, exe)
}

// claimSettled waits for the exit record of pid. Records reach the
// pipeline in the order the kernel wrote them, and a process's hook
// records are written before its exit record: once the exit is in, any
// event the process caused is in too.
func claimSettled(t *testing.T, pid int) {
	t.Helper()
	shared.sink.one(t, fmt.Sprintf("exit of pid %d", pid), exitOf(pid))
}

// claimNoEvent fails if pid, which has exited, caused an event of the
// named policy.
func claimNoEvent(t *testing.T, what string, pid int, name string) {
	t.Helper()
	claimSettled(t, pid)
	if evs := shared.sink.find(t, 0, 0, kprobeOf(pid, name)); len(evs) != 0 {
		t.Errorf("%s: %d events of policy %s, want none: %+v", what, len(evs), name, evs[0].ProcessKprobe)
	}
}

// claimFiles makes files with these names, readable by anyone, in a new
// directory, and returns their paths.
func claimFiles(t *testing.T, names ...string) []string {
	t.Helper()
	dir := publicDir(t)
	var out []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// Signal sends the chosen signal, not SIGKILL: cat dies of SIGUSR1 (its
// default action), a shell that traps SIGUSR1 catches it and goes on, and
// the event says KPROBE_ACTION_SIGNAL. Another file's open is left alone.
func TestClaimSignalAction(t *testing.T) {
	requires(t, probe.SendSignal)
	f := claimFiles(t, "marker", "other")
	marker, other := f[0], f[1]
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-signal
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - {action: Signal, argSig: 10}
`, marker))

	cat := exec.Command("/bin/cat", marker)
	out, err := cat.CombinedOutput()
	if sig := killedBy(err); sig != syscall.SIGUSR1 {
		t.Fatalf("cat of the marker: killed by %v (err %v, output %q), want SIGUSR1", sig, err, out)
	}
	k := shared.sink.one(t, "event of the signalled cat", kprobeOf(cat.Process.Pid, "claim-signal")).ProcessKprobe
	if k.Action != "KPROBE_ACTION_SIGNAL" || k.Mode != "" ||
		len(k.Args) != 2 || k.Args[1].StringArg == nil || *k.Args[1].StringArg != marker {
		t.Errorf("event = %+v, want action KPROBE_ACTION_SIGNAL on the open of %s", k, marker)
	}
	if exit := shared.sink.one(t, "exit of the signalled cat", exitOf(cat.Process.Pid)).ProcessExit; exit.Signal != "SIGUSR1" {
		t.Errorf("process_exit signal = %q, want SIGUSR1", exit.Signal)
	}

	// a handler runs instead of the default action: the signal is SIGUSR1
	trap := exec.Command("/bin/sh", "-c", `trap 'echo caught' USR1; read l < "$0"; echo "read $l"`, marker)
	out, err = trap.CombinedOutput()
	if err != nil || string(out) != "caught\nread data\n" {
		t.Errorf("shell trapping SIGUSR1: %v, output %q, want it to catch the signal and go on", err, out)
	}
	if k := shared.sink.one(t, "event of the trapping shell", kprobeOf(trap.Process.Pid, "claim-signal")).ProcessKprobe; k.Action != event.ActionSignal {
		t.Errorf("trapping shell: action %q", k.Action)
	}

	cat = exec.Command("/bin/cat", other)
	if out, err := cat.CombinedOutput(); err != nil {
		t.Errorf("cat of another file: %v, output %q, want it untouched", err, out)
	}
	claimNoEvent(t, "cat of another file", cat.Process.Pid, "claim-signal")
}

// matchPIDs with isNamespacePID compares the pid a process has in its own
// pid namespace: cat as pid 1 of a new namespace, and cat as pid 2 under a
// shell that is pid 1 there, each match their selector; the same programs
// with other namespace pids, or on the host, do not.
func TestClaimMatchPIDsNamespacePID(t *testing.T) {
	f := claimFiles(t, "one", "two")
	one, two := f[0], f[1]
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-nspid
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchPIDs:
      - {operator: In, isNamespacePID: true, values: [1]}
      matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - action: Sigkill
    - matchPIDs:
      - {operator: In, isNamespacePID: true, values: [2]}
      matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - action: Sigkill
`, one, two))
	newPidNs := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
		return cmd
	}

	cat := newPidNs(exec.Command("/bin/cat", one))
	mustRun(t, "cat as pid 1 of a new pid namespace, opening the file of pid 1", cat, true)
	k := shared.sink.one(t, "event of the killed cat", kprobeOf(cat.Process.Pid, "claim-nspid")).ProcessKprobe
	if k.Action != event.ActionSigkill || k.Process.Pid == 1 {
		t.Errorf("event = %+v of process pid %d, want SIGKILL reported with the host pid %d", k, k.Process.Pid, cat.Process.Pid)
	}
	mustRun(t, "cat as pid 1 of a new pid namespace, opening the file of pid 2", newPidNs(exec.Command("/bin/cat", two)), false)
	mustRun(t, "cat on the host, opening the file of pid 1", exec.Command("/bin/cat", one), false)
	mustRun(t, "cat on the host, opening the file of pid 2", exec.Command("/bin/cat", two), false)

	// the shell is pid 1, its first child pid 2
	for file, want := range map[string]string{two: "status=137", one: "status=0"} {
		sh := newPidNs(exec.Command("/bin/sh", "-c", `cat "$0" >/dev/null; echo status=$?`, file))
		if out, err := sh.CombinedOutput(); err != nil || !strings.HasSuffix(string(out), want+"\n") {
			t.Errorf("cat as pid 2 of a new pid namespace opening %s: %v, output %q, want %s", filepath.Base(file), err, out, want)
		}
	}
}

// matchNamespaces with host_ns: In matches processes in the host's
// namespace of that type, NotIn those in another one.
func TestClaimMatchNamespacesHostNs(t *testing.T) {
	f := claimFiles(t, "uts-host", "ipc-other")
	utsFile, ipcFile := f[0], f[1]
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-host-ns
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchNamespaces:
      - {namespace: Uts, operator: In, values: [host_ns]}
      matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - action: Sigkill
    - matchNamespaces:
      - {namespace: Ipc, operator: NotIn, values: [host_ns]}
      matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - action: Sigkill
`, utsFile, ipcFile))
	in := func(flags uintptr, name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: flags}
		return cmd
	}
	mustRun(t, "cat in the host's uts namespace", exec.Command("/bin/cat", utsFile), true)
	mustRun(t, "cat in a new uts namespace", in(syscall.CLONE_NEWUTS, "/bin/cat", utsFile), false)
	mustRun(t, "cat in a new ipc namespace", in(syscall.CLONE_NEWIPC, "/bin/cat", ipcFile), true)
	mustRun(t, "cat in the host's ipc namespace", exec.Command("/bin/cat", ipcFile), false)
}

// The operators on a connect's sockaddr: SPortPriv and NotSPortPriv (the
// port it holds below 1024 or not), Family, SAddr and NotSAddr with an
// IPv6 CIDR. DPort, DAddr and their forms are refused there with the YAML
// path: a sockaddr holds one address, tested by the S forms as in Tetragon.
func TestClaimSockaddrOperators(t *testing.T) {
	bin := claimTestBinary(t)
	policyOn := func(name, filters string) string {
		return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  kprobes:
  - call: sys_connect
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: sockaddr}
    selectors:
    - matchBinaries:
      - {operator: In, values: [%q]}
      matchArgs:
%s`, name, bin, filters)
	}
	policies := map[string]string{
		"claim-sa-priv":       "      - {index: 1, operator: SPortPriv}\n",
		"claim-sa-notpriv":    "      - {index: 1, operator: NotSPortPriv}\n",
		"claim-sa-inet":       "      - {index: 1, operator: Family, values: [AF_INET]}\n",
		"claim-sa-v6-lo":      "      - {index: 1, operator: Family, values: [AF_INET6]}\n      - {index: 1, operator: SAddr, values: [\"::1/128\"]}\n",
		"claim-sa-v6-notlo":   "      - {index: 1, operator: Family, values: [AF_INET6]}\n      - {index: 1, operator: NotSAddr, values: [\"::1/128\"]}\n",
		"claim-sa-v6-private": "      - {index: 1, operator: SAddr, values: [\"::ffff:127.0.0.0/104\", \"fd00::/8\"]}\n",
	}
	for name, filters := range policies {
		load(t, policyOn(name, filters))
	}
	// which policies each connect must match; every other one must not
	for _, c := range []struct {
		addr   string
		family string
		match  []string
	}{
		{"127.0.0.1:1", "AF_INET", []string{"claim-sa-priv", "claim-sa-inet"}},
		{"127.0.0.1:40123", "AF_INET", []string{"claim-sa-notpriv", "claim-sa-inet"}},
		{"[::1]:1", "AF_INET6", []string{"claim-sa-priv", "claim-sa-v6-lo"}},
		{"[::1]:40123", "AF_INET6", []string{"claim-sa-notpriv", "claim-sa-v6-lo"}},
		{"[::ffff:127.0.0.1]:40123", "AF_INET6", []string{"claim-sa-notpriv", "claim-sa-v6-notlo", "claim-sa-v6-private"}},
	} {
		cmd := claimHelperCmd("connect", c.addr)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("connect to %s: %v, %q", c.addr, err, out)
		}
		claimSettled(t, cmd.Process.Pid)
		want := netip.MustParseAddrPort(c.addr)
		for name := range policies {
			// one connect, but a signal may interrupt it and the kernel
			// restart it: each entry is an event, as in Tetragon
			evs := shared.sink.find(t, 0, 0, kprobeOf(cmd.Process.Pid, name))
			if wanted := slices.Contains(c.match, name); (len(evs) > 0) != wanted {
				t.Errorf("connect to %s: %d events of %s, want %v", c.addr, len(evs), name, map[bool]string{false: "none", true: "some"}[wanted])
			}
			for _, ev := range evs {
				sa := ev.ProcessKprobe.Args[1].SockaddrArg
				if sa == nil || sa.Family != c.family || sa.Port != uint32(want.Port()) || !claimSameAddr(sa.Addr, want.Addr()) {
					t.Errorf("connect to %s, policy %s: sockaddr %+v", c.addr, name, sa)
				}
			}
		}
	}

	for op, filter := range map[string]string{
		"DPortPriv": "{index: 1, operator: DPortPriv}",
		"DPort":     "{index: 1, operator: DPort, values: [\"1\"]}",
		"DAddr":     "{index: 1, operator: DAddr, values: [\"::1\"]}",
	} {
		err := claimLoadErr(t, policyOn("claim-sa-"+strings.ToLower(op), "      - "+filter+"\n"))
		if err == nil || !strings.Contains(err.Error(), "spec.kprobes[0].selectors[0].matchArgs[0].operator") {
			t.Errorf("%s on a sockaddr: %v, want refused naming the operator's YAML path", op, err)
		}
	}
}

// claimArgs renders arguments for a failure message.
func claimArgs(args []*event.Argument) string {
	b, _ := json.Marshal(args)
	return string(b)
}

func claimSameAddr(s string, a netip.Addr) bool {
	b, err := netip.ParseAddr(s)
	return err == nil && b == a
}

// claimLoadErr parses and loads a policy into the shared agent, returning
// the error of either step; a policy that loads is removed when the test
// ends.
func claimLoadErr(t *testing.T, doc string) error {
	t.Helper()
	docs, err := policy.Parse([]byte(doc), t.Name())
	if err != nil {
		return err
	}
	for _, p := range docs {
		if err := shared.agent.pols.Apply(t.Name(), p); err != nil {
			return err
		}
		name := p.GetName()
		t.Cleanup(func() { _ = shared.agent.pols.Remove(name) })
	}
	return nil
}

// The negated string operators (NotPrefix, NotPostfix) on a path, and the
// negated integer operators (NotInRange, NotInMap) on openat's flags.
// Each selector is scoped to a directory of its own.
func TestClaimNegatedOperators(t *testing.T) {
	f := claimFiles(t, "np/secret", "np/public-a", "npf/id", "npf/id.pub", "nir/f", "nim/f")
	npSecret, npPublic, npfKey, npfPub, nirFile, nimFile := f[0], f[1], f[2], f[3], f[4], f[5]
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-negated
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
      - {index: 1, operator: NotPrefix, values: [%q]}
      matchActions: [{action: Sigkill}]
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
      - {index: 1, operator: NotPostfix, values: [".pub"]}
      matchActions: [{action: Sigkill}]
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
      - {index: 2, operator: NotInRange, values: ["0:1"]}
      matchActions: [{action: Sigkill}]
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
      - {index: 2, operator: NotInMap, values: ["577"]}
      matchActions: [{action: Sigkill}]
`, filepath.Dir(npSecret)+"/", filepath.Dir(npSecret)+"/public", filepath.Dir(npfKey)+"/",
		filepath.Dir(nirFile)+"/", filepath.Dir(nimFile)+"/"))
	const (
		oTrunc  = syscall.O_WRONLY | syscall.O_CREAT | syscall.O_TRUNC  // 577, the shell's >
		oAppend = syscall.O_WRONLY | syscall.O_CREAT | syscall.O_APPEND // 1089, the shell's >>
	)
	write := func(redir, file string) *exec.Cmd {
		return exec.Command("/bin/sh", "-c", `echo x `+redir+` "$0"`, file)
	}

	cat := exec.Command("/bin/cat", npSecret)
	mustRun(t, "NotPrefix: cat of a path without the prefix", cat, true)
	k := shared.sink.one(t, "event of the NotPrefix kill", kprobeOf(cat.Process.Pid, "claim-negated")).ProcessKprobe
	if len(k.Args) != 2 || k.Args[0].StringArg == nil || *k.Args[0].StringArg != npSecret || k.Action != event.ActionSigkill {
		t.Errorf("NotPrefix event = %+v", k)
	}
	mustRun(t, "NotPrefix: cat of a path with the prefix", exec.Command("/bin/cat", npPublic), false)

	mustRun(t, "NotPostfix: cat of a path without the postfix", exec.Command("/bin/cat", npfKey), true)
	mustRun(t, "NotPostfix: cat of a path with the postfix", exec.Command("/bin/cat", npfPub), false)

	sh := write(">", nirFile)
	mustRun(t, fmt.Sprintf("NotInRange 0:1: a write open (flags %d)", oTrunc), sh, true)
	k = shared.sink.one(t, "event of the NotInRange kill", kprobeOf(sh.Process.Pid, "claim-negated")).ProcessKprobe
	if len(k.Args) != 2 || k.Args[1].IntArg == nil || *k.Args[1].IntArg != oTrunc {
		t.Errorf("NotInRange event args %s, want flags %d", claimArgs(k.Args), oTrunc)
	}
	mustRun(t, "NotInRange 0:1: a read open (flags 0)", exec.Command("/bin/cat", nirFile), false)

	mustRun(t, fmt.Sprintf("NotInMap [577]: an append open (flags %d)", oAppend), write(">>", nimFile), true)
	mustRun(t, "NotInMap [577]: a read open (flags 0)", exec.Command("/bin/cat", nimFile), true)
	mustRun(t, fmt.Sprintf("NotInMap [577]: a truncating write open (flags %d)", oTrunc), write(">", nimFile), false)
}

// matchBinaries NotIn, Prefix and Postfix, told apart by two copies of
// cat: the system's and one in a directory of the test's.
func TestClaimMatchBinariesOperators(t *testing.T) {
	sysCat := resolvedPath("/usr/bin/cat")
	myCat := copyBinary(t, sysCat, "claimcat")
	f := claimFiles(t, "notin", "prefix", "postfix")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-binaries
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchBinaries: [{operator: NotIn, values: [%q]}]
      matchActions: [{action: Sigkill}]
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchBinaries: [{operator: Prefix, values: [%q]}]
      matchActions: [{action: Sigkill}]
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchBinaries: [{operator: Postfix, values: ["/claimcat"]}]
      matchActions: [{action: Sigkill}]
`, f[0], myCat, f[1], filepath.Dir(myCat)+"/", f[2]))
	cat := exec.Command(sysCat, f[0])
	mustRun(t, "NotIn [copy]: the system's cat", cat, true)
	if k := shared.sink.one(t, "event of the NotIn kill", kprobeOf(cat.Process.Pid, "claim-binaries")).ProcessKprobe; k.Process.Binary != sysCat {
		t.Errorf("NotIn event binary %q, want %q", k.Process.Binary, sysCat)
	}
	mustRun(t, "NotIn [copy]: the copy", exec.Command(myCat, f[0]), false)
	mustRun(t, "Prefix [copy's dir]: the copy", exec.Command(myCat, f[1]), true)
	mustRun(t, "Prefix [copy's dir]: the system's cat", exec.Command(sysCat, f[1]), false)
	mustRun(t, "Postfix /claimcat: the copy", exec.Command(myCat, f[2]), true)
	mustRun(t, "Postfix /claimcat: the system's cat", exec.Command(sysCat, f[2]), false)
}

// call: "list:NAME" hooks every syscall of a syscalls list: dup and dup3
// each report under their own function name; dup2, not listed, does not.
// Only the helper's events after its exec count: before it, the child of
// the Go test process dup3s the parent's descriptors, whose numbers
// depend on what the test process holds open (77 among them, once).
func TestClaimListCall(t *testing.T) {
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-list-call
spec:
  lists:
  - name: claim-dups
    type: syscalls
    values: [sys_dup, sys_dup3]
  kprobes:
  - call: "list:claim-dups"
    syscall: true
    args:
    - {index: 0, type: int}
    selectors:
    - matchBinaries:
      - {operator: In, values: [%q]}
      matchArgs:
      - {index: 0, operator: Equal, values: ["77"]}
`, claimTestBinary(t)))
	cmd := claimHelperCmd("dups")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v, %q", err, out)
	}
	claimSettled(t, cmd.Process.Pid)
	got := map[string]int{}
	for _, ev := range shared.sink.find(t, 0, 0, kprobeOf(cmd.Process.Pid, "claim-list-call")) {
		k := ev.ProcessKprobe
		if k.Process.Arguments != "dups" {
			continue // the Go child before its exec: its own dup3s may land on fd 77
		}
		got[k.FunctionName]++
		if len(k.Args) != 1 || k.Args[0].IntArg == nil || *k.Args[0].IntArg != 77 {
			t.Errorf("%s: args %s, want the int 77", k.FunctionName, claimArgs(k.Args))
		}
	}
	if want := map[string]int{"__x64_sys_dup": 1, "__x64_sys_dup3": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events by function: %v, want %v (dup2 is not in the list)", got, want)
	}
}

// A hook's message and tags are copied into its events, under Tetragon's
// names policy_name, message and tags, for kprobe and tracepoint events.
func TestClaimTagsAndMessage(t *testing.T) {
	f := claimFiles(t, "tagged", "untagged")
	target := copyBinary(t, "/bin/true", "claimtagged")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: claim-tags
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    message: "tagged file opened"
    tags: ["observability.filesystem", "claim"]
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    message: "tagged program run"
    tags: ["observability.process"]
    args:
    - {index: 4, type: string}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: ["/claimtagged"]}
`, f[0]))
	cat := exec.Command("/bin/cat", f[0], f[1])
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	run := exec.Command(target)
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	claimSettled(t, cat.Process.Pid)
	kp := shared.sink.one(t, "kprobe event (the tagged file's open only)", kprobeOf(cat.Process.Pid, "claim-tags"))
	tp := shared.sink.one(t, "tracepoint event", tracepointOf(run.Process.Pid, "claim-tags"))
	for _, c := range []struct {
		ev         *event.Event
		kind, msg  string
		tags       []string
		structured []string
	}{
		{kp, "process_kprobe", "tagged file opened", []string{"observability.filesystem", "claim"},
			append([]string{kp.ProcessKprobe.Message}, kp.ProcessKprobe.Tags...)},
		{tp, "process_tracepoint", "tagged program run", []string{"observability.process"},
			append([]string{tp.ProcessTracepoint.Message}, tp.ProcessTracepoint.Tags...)},
	} {
		if want := append([]string{c.msg}, c.tags...); fmt.Sprint(c.structured) != fmt.Sprint(want) {
			t.Errorf("%s: message and tags %q, want %q", c.kind, c.structured, want)
		}
		b, err := json.Marshal(c.ev)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]json.RawMessage
		var j struct {
			PolicyName string   `json:"policy_name"`
			Message    string   `json:"message"`
			Tags       []string `json:"tags"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(doc[c.kind], &j); err != nil {
			t.Fatalf("%s JSON: %v: %s", c.kind, err, b)
		}
		if j.PolicyName != "claim-tags" || j.Message != c.msg || fmt.Sprint(j.Tags) != fmt.Sprint(c.tags) {
			t.Errorf("%s JSON: policy_name %q, message %q, tags %q", c.kind, j.PolicyName, j.Message, j.Tags)
		}
	}
	// another program's exec is not reported
	other := exec.Command("/bin/true")
	if err := other.Run(); err != nil {
		t.Fatal(err)
	}
	claimSettled(t, other.Process.Pid)
	if evs := shared.sink.find(t, 0, 0, tracepointOf(other.Process.Pid, "claim-tags")); len(evs) != 0 {
		t.Errorf("another program's exec: %d events", len(evs))
	}
}
