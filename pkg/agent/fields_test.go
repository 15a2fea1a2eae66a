package agent

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// Runtime tests of policy fields that policy.Fields names.

// requiresFunctionHooks skips the test, naming what the kernel lacks,
// where it has neither kprobes nor fentry to hook kernel functions.
func requiresFunctionHooks(t *testing.T) {
	t.Helper()
	if kernel().Missing(probe.Kprobe) != nil && kernel().Missing(probe.Fentry) != nil {
		t.Skipf("needs kprobe or fentry: %v; %v", kernel().Missing(probe.Kprobe), kernel().Missing(probe.Fentry))
	}
}

// without is report r with feature f unavailable.
func without(r probe.Report, f probe.Feature) probe.Report {
	r.Features = slices.Clone(r.Features)
	for i := range r.Features {
		if r.Features[i].Feature == f {
			r.Features[i].Available, r.Features[i].Reason = false, "hidden by the test"
		}
	}
	return r
}

// eachEvent waits for the events match selects (some kernels check one
// open twice) and checks every one with check.
func eachEvent(t *testing.T, what string, match func(*event.Event) bool, check func(*event.Event)) {
	t.Helper()
	evs := shared.sink.find(t, 1, 10*time.Second, match)
	if len(evs) == 0 {
		t.Fatalf("no %s", what)
	}
	for _, ev := range evs {
		check(ev)
	}
}

// listed returns the agent's listing of policy name.
func listed(t *testing.T, name string) PolicyInfo {
	t.Helper()
	for _, p := range shared.agent.pols.List() {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("policy %s is not listed", name)
	return PolicyInfo{}
}

// TestIgnoreCallNotFound: a call the kernel lacks is skipped, and said so,
// when its entry sets ignore.callNotFound; the rest of the policy runs.
// Without it the policy is refused.
func TestIgnoreCallNotFound(t *testing.T) {
	_, secret, other := secretFiles(t)
	doc := func(ignore bool) string {
		return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: call-not-found}
spec:
  kprobes:
  - call: vigil_no_such_function
    syscall: false
    ignore: {callNotFound: %v}
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, ignore, secret)
	}
	docs, err := policy.Parse([]byte(doc(false)), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.agent.pols.Apply(t.Name(), docs[0]); err == nil || !strings.Contains(err.Error(), "spec.kprobes[0]") {
		_ = shared.agent.pols.Remove("call-not-found")
		t.Fatalf("without ignore.callNotFound: got %v, want the policy refused at spec.kprobes[0]", err)
	}
	load(t, doc(true))
	want := []string{"spec.kprobes[0].call: vigil_no_such_function is not in this kernel (ignore.callNotFound)"}
	if got := listed(t, "call-not-found").Skipped; !slices.Equal(got, want) {
		t.Errorf("skipped = %q, want %q", got, want)
	}
	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Errorf("cat of the secret: killed by %v, want SIGKILL (the calls the kernel has run)", sig)
	}
	mustRun(t, "cat of another file", exec.Command("/bin/cat", other), false)
}

// TestGeneratedSyscallsList: a generated_syscalls list holds every syscall
// of the architecture: hooked through it, syscalls the list never names
// one by one post events.
func TestGeneratedSyscallsList(t *testing.T) {
	_, secret, _ := secretFiles(t)
	cat := copyBinary(t, "/bin/cat", "gencat")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: generated-syscalls}
spec:
  lists:
  - {name: all, type: generated_syscalls}
  kprobes:
  - call: list:all
    selectors:
    - matchBinaries: [{operator: In, values: [%q]}]
`, cat))
	run := exec.Command(cat, secret)
	mustRun(t, "the copied cat", run, false)
	evs := shared.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
		k := ev.ProcessKprobe
		return k != nil && k.Process.Pid == uint32(run.Process.Pid) && k.FunctionName == "__x64_sys_fadvise64"
	})
	if len(evs) == 0 {
		t.Fatal("no event for fadvise64, which cat calls and only a generated list names")
	}
	for _, f := range []string{"__x64_sys_openat", "__x64_sys_read", "__x64_sys_close"} {
		got := shared.sink.find(t, 1, 5*time.Second, func(ev *event.Event) bool {
			k := ev.ProcessKprobe
			return k != nil && k.Process.Pid == uint32(run.Process.Pid) && k.FunctionName == f
		})
		if len(got) == 0 {
			t.Errorf("no event for %s", f)
		}
	}
}

// TestGeneratedFtraceList: a generated_ftrace list hooks the kernel
// functions its pattern matches.
func TestGeneratedFtraceList(t *testing.T) {
	requiresFunctionHooks(t)
	_, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: generated-ftrace}
spec:
  lists:
  - {name: opens, type: generated_ftrace, pattern: "^security_file_open$"}
  kprobes:
  - call: list:opens
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
`, secret))
	cat := exec.Command("/bin/cat", secret)
	mustRun(t, "cat of the secret", cat, false)
	// some kernels check one open twice: every event must be right
	eachEvent(t, "security_file_open event for the secret", kprobeOf(cat.Process.Pid, "generated-ftrace"), func(ev *event.Event) {
		if k := ev.ProcessKprobe; k.FunctionName != "security_file_open" {
			t.Errorf("function_name = %q, want security_file_open", k.FunctionName)
		}
	})
}

// TestSelectorsMacrosAtRunTime: a selector that names macros gets their
// filters (ANDed with its own) and their actions.
func TestSelectorsMacrosAtRunTime(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: macros-run}
spec:
  selectorsMacros:
    cat: {matchBinaries: [{operator: In, values: [%q]}]}
    kill: {matchActions: [{action: Sigkill}]}
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      macros: [cat, kill]
`, resolvedPath("/bin/cat"), dir+"/secret"))
	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Errorf("cat of the secret: killed by %v, want SIGKILL (the kill macro's action)", sig)
	}
	mustRun(t, "cat of another file", exec.Command("/bin/cat", other), false)
	mustRun(t, "head of the secret (not the cat macro's binary)", exec.Command("/usr/bin/head", secret), false)
}

// TestReturnHookActsAtEntry: with return: true, matchArgs is evaluated and
// matchActions run at the call's entry, matchReturnArgs filters at its
// return (Tetragon's timing). A kill whose return filter fails still
// kills, and posts nothing; the return filter still decides the events.
func TestReturnHookActsAtEntry(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: return-timing}
spec:
  kprobes:
  - call: sys_openat
    return: true
    args: [{index: 1, type: string}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchReturnArgs: [{operator: LT, values: ["0"]}]
      matchActions: [{action: Sigkill}]
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchReturnArgs: [{operator: LT, values: ["0"]}]
`, secret, dir+"/missing"))
	cat := exec.Command("/bin/cat", secret)
	if sig := killedBy(cat.Run()); sig != syscall.SIGKILL {
		t.Fatalf("cat of the secret: killed by %v, want SIGKILL at the open's entry", sig)
	}
	shared.sink.one(t, "exit of the killed cat", exitOf(cat.Process.Pid))
	if evs := shared.sink.find(t, 1, 0, kprobeOf(cat.Process.Pid, "return-timing")); len(evs) != 0 {
		t.Errorf("the open succeeded (return 0), so matchReturnArgs LT 0 fails: want no event, got %d", len(evs))
	}
	missing := exec.Command("/bin/cat", dir+"/missing")
	_ = missing.Run()
	k := shared.sink.one(t, "failed open of a missing file", kprobeOf(missing.Process.Pid, "return-timing")).ProcessKprobe
	if k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg != -int32(syscall.ENOENT) {
		t.Errorf("return = %+v, want -ENOENT", k.Return)
	}
	mustRun(t, "cat of another file", exec.Command("/bin/cat", other), false)
}

// TestResolveFollowsMembers: resolve reads a member path from a kernel
// object argument in the kernel, here the exec'd file's name from the
// linux_binprm of security_bprm_check, typed as the last member.
func TestResolveFollowsMembers(t *testing.T) {
	requiresFunctionHooks(t)
	bin := copyBinary(t, "/bin/true", "resolvetrue")
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolve-members}
spec:
  kprobes:
  - call: security_bprm_check
    syscall: false
    args:
    - {index: 0, type: string, resolve: "file.f_path.dentry.d_name.name", label: name}
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: ["resolvetrue"]}]
`)
	run := exec.Command(bin)
	mustRun(t, "the copied true", run, false)
	k := shared.sink.one(t, "bprm check of the copied true", kprobeOf(run.Process.Pid, "resolve-members")).ProcessKprobe
	if len(k.Args) != 1 || k.Args[0].StringArg == nil || *k.Args[0].StringArg != "resolvetrue" || k.Args[0].Label != "name" {
		t.Fatalf("args = %+v, want the file name resolvetrue", k.Args)
	}
	mustRun(t, "/bin/true", exec.Command("/bin/true"), false)
	if evs := shared.sink.find(t, 2, 0, func(ev *event.Event) bool {
		return ev.ProcessKprobe != nil && ev.ProcessKprobe.PolicyName == "resolve-members"
	}); len(evs) != 1 {
		t.Errorf("%d events, want only the copied true's", len(evs))
	}
}

// TestPathArgument: a path argument (struct path *) is resolved to the
// file's full path in the kernel.
func TestPathArgument(t *testing.T) {
	requiresFunctionHooks(t)
	dir, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: path-arg}
spec:
  kprobes:
  - call: security_inode_getattr
    syscall: false
    args: [{index: 0, type: path}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: [%q]}]
`, dir))
	stat := exec.Command("/usr/bin/stat", secret)
	mustRun(t, "stat of the secret", stat, false)
	eachEvent(t, "security_inode_getattr event for stat", kprobeOf(stat.Process.Pid, "path-arg"), func(ev *event.Event) {
		if a := ev.ProcessKprobe.Args; len(a) != 1 || a[0].PathArg == nil || a[0].PathArg.Path != secret {
			t.Errorf("args = %+v, want path_arg %s", a, secret)
		}
	})
}

// TestLSMHookObservedWithoutBPFLSM: where the kernel has no BPF LSM, an
// lsmhooks hook is observed on its security_ function (a kprobe or fentry)
// and posts process_lsm events. On a kernel with BPF LSM the test hides
// it from the compiler, so the fallback runs wherever function hooks do.
func TestLSMHookObservedWithoutBPFLSM(t *testing.T) {
	requiresFunctionHooks(t)
	if kernel().Has(probe.LSM) {
		saved := shared.agent.pols.Target()
		hidden := saved
		hidden.Kernel = without(saved.Kernel, probe.LSM)
		shared.agent.pols.SetTarget(hidden)
		t.Cleanup(func() { shared.agent.pols.SetTarget(saved) })
	}
	dir, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: lsm-fallback}
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: [%q]}]
`, dir))
	cat := exec.Command("/bin/cat", secret)
	mustRun(t, "cat of the secret", cat, false)
	// some kernels check one open twice: every event must be right
	lsmOf := func(ev *event.Event) bool {
		return ev.ProcessLsm != nil && ev.ProcessLsm.PolicyName == "lsm-fallback" && ev.ProcessLsm.Process.Pid == uint32(cat.Process.Pid)
	}
	eachEvent(t, "process_lsm event for the secret's open", lsmOf, func(ev *event.Event) {
		lsm := ev.ProcessLsm
		if lsm.FunctionName != "file_open" || lsm.Args[0].FileArg == nil || lsm.Args[0].FileArg.Path != secret || lsm.Backend == "lsm" {
			t.Errorf("event = %+v (backend %s)", lsm, lsm.Backend)
		}
	})
}

// readBefore is what the readinto helper's buffer holds before its read.
const readBefore = "BEFORE-THE-READ-BEFORE!"

// TestReturnHookArgumentsFromEntry: a return hook's event carries its
// arguments as they were at the call's entry (Tetragon's), its return
// value from the return: a read's buffer shows what it held before the
// read filled it, unless returnCopy asks for it at the return.
func TestReturnHookArgumentsFromEntry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, []byte("AFTER!"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, returnCopy, want string
	}{
		{"entry-buffer", "false", readBefore},
		{"return-buffer", "true", "AFTER!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  kprobes:
  - call: sys_read
    return: true
    args:
    - {index: 1, type: char_buf, sizeArgIndex: 3, returnCopy: %s}
    - {index: 2, type: size_t}
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs: [{index: 2, operator: Equal, values: ["%d"]}]
`, tc.name, tc.returnCopy, len(readBefore)))
			cmd := claimHelperCmd("readinto", file)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("helper: %v %s", err, out)
			}
			k := shared.sink.one(t, "the helper's read", kprobeOf(cmd.Process.Pid, tc.name)).ProcessKprobe
			if k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg != 6 {
				t.Errorf("return = %+v, want 6", k.Return)
			}
			if got := string(k.Args[0].BytesArg); got != tc.want {
				t.Errorf("buffer = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSelectorLabelsCountMatches: a selector's label, or without one its
// first macro's (as Tetragon takes it), names the selector's matches in
// the counts the metrics serve, exactly; unlabelled selectors are not
// listed.
func TestSelectorLabelsCountMatches(t *testing.T) {
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: labels-run}
spec:
  selectorsMacros:
    tagged: {label: from-macro, matchArgs: [{index: 1, operator: Equal, values: [%q]}]}
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      label: secret-read
    - macros: [tagged]
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
`, other, secret, dir+"/unlabelled"))
	for _, path := range []string{secret, secret, other, dir + "/unlabelled"} {
		_ = exec.Command("/bin/cat", path).Run()
	}
	got := map[string]uint64{}
	for _, c := range shared.agent.SelectorCounts() {
		if c.Policy == "labels-run" {
			got[c.Label] = c.Hits
		}
	}
	if want := map[string]uint64{"secret-read": 2, "from-macro": 1}; !maps.Equal(got, want) {
		t.Errorf("selector counts %v, want %v", got, want)
	}
}
