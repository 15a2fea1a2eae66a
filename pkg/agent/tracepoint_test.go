package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
)

// copyBinary copies an executable into a fresh directory under name, so a
// policy can single it out by path or command name.
func copyBinary(t *testing.T, src, name string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

func tracepointOf(pid int, policy string) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		tp := ev.ProcessTracepoint
		return tp != nil && tp.Process.Pid == uint32(pid) && tp.PolicyName == policy
	}
}

// Tetragon's killer example, minus its enforcer: raw_syscalls/sys_enter
// with the syscall id (format field 4) matched against a list of syscalls.
func TestTracepointKillsListedSyscalls(t *testing.T) {
	bash := copyBinary(t, "/bin/bash", "dupbash")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: kill-dups
spec:
  lists:
  - name: dups
    type: syscalls
    values: [sys_dup, sys_dup2, sys_dup3]
  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    args:
    - {index: 4, type: syscall64}
    selectors:
    - matchArgs:
      - {index: 0, operator: InMap, values: ["list:dups"]}
      matchBinaries:
      - {operator: In, values: [%q]}
      matchActions:
      - action: Sigkill
`, bash))
	if out, err := exec.Command(bash, "-c", "echo fine").CombinedOutput(); err != nil || string(out) != "fine\n" {
		t.Fatalf("bash without a dup must run: %v, %q", err, out)
	}
	cmd := exec.Command(bash, "-c", "exec 3>&1; echo survived")
	out, err := cmd.CombinedOutput()
	if sig := killedBy(err); sig != syscall.SIGKILL || strings.Contains(string(out), "survived") {
		t.Fatalf("bash calling dup2: killed by %v (output %q), want SIGKILL before the echo", sig, out)
	}
	tp := shared.sink.one(t, "tracepoint event of the killed bash", tracepointOf(cmd.Process.Pid, "kill-dups")).ProcessTracepoint
	if tp.Subsys != "raw_syscalls" || tp.Event != "sys_enter" || tp.Action != event.ActionSigkill ||
		len(tp.Args) != 1 || tp.Args[0].SyscallID == nil || tp.Args[0].SyscallID.ID != uint32(syscall.SYS_DUP2) {
		t.Errorf("event = %+v", tp)
	}
	if tp.Process.Binary != bash {
		t.Errorf("event binary = %q, want %q", tp.Process.Binary, bash)
	}
}

// Fields read by their place in the format: integers, a char array in the
// record (comm) and a __data_loc string (the exec's filename).
func TestTracepointFieldsFromTheFormat(t *testing.T) {
	target := copyBinary(t, "/bin/sleep", "vigiltarget")
	load(t, fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: tp-fields
spec:
  tracepoints:
  - subsystem: signal
    event: signal_generate
    args:
    - {index: 4, type: int, label: sig}
    - {index: 7, type: string, label: comm}
    - {index: 8, type: int, label: pid}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: ["10"]}
      - {index: 1, operator: Equal, values: [vigiltarget]}
  - subsystem: sched
    event: sched_process_exec
    args:
    - {index: 4, type: string}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: [%q]}
`, "/"+filepath.Base(target)))
	cmd := exec.Command(target, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ex := shared.sink.one(t, "sched_process_exec of the target", tracepointOf(cmd.Process.Pid, "tp-fields")).ProcessTracepoint
	if ex.Event != "sched_process_exec" || len(ex.Args) != 1 || ex.Args[0].StringArg == nil || *ex.Args[0].StringArg != target {
		t.Errorf("exec event = %+v", ex)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGUSR2); err != nil { // not matched: sig is 12
		t.Fatal(err)
	}
	_ = cmd.Wait()
	cmd = exec.Command(target, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	sigs := shared.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
		tp := ev.ProcessTracepoint
		return tp != nil && tp.PolicyName == "tp-fields" && tp.Event == "signal_generate"
	})
	if len(sigs) != 1 {
		t.Fatalf("signal_generate events: want 1 (SIGUSR1 only), got %d", len(sigs))
	}
	tp := sigs[0].ProcessTracepoint
	if tp.Process.Pid != uint32(os.Getpid()) || len(tp.Args) != 3 || *tp.Args[0].IntArg != int32(syscall.SIGUSR1) ||
		*tp.Args[1].StringArg != "vigiltarget" || *tp.Args[2].IntArg != int32(cmd.Process.Pid) || tp.Args[1].Label != "comm" {
		t.Errorf("signal event = %+v (args %+v %+v %+v)", tp, tp.Args[0], tp.Args[1], tp.Args[2])
	}
}

// Tetragon's rawtp example with a filter: TP_PROTO's third argument of
// sched_process_exec, the linux_binprm, resolved to the program's path.
func TestRawTracepointReadsTPProtoArguments(t *testing.T) {
	target := copyBinary(t, "/bin/true", "vigilraw")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: rawtp
spec:
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    raw: true
    args:
    - {index: 2, type: linux_binprm}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: [%q]}
`, "/"+filepath.Base(target)))
	cmd := exec.Command(target)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	tp := shared.sink.one(t, "raw sched_process_exec event", tracepointOf(cmd.Process.Pid, "rawtp")).ProcessTracepoint
	if tp.Subsys != "sched" || tp.Event != "sched_process_exec" || len(tp.Args) != 1 ||
		tp.Args[0].LinuxBinprmArg == nil || tp.Args[0].LinuxBinprmArg.Path != target {
		t.Errorf("event = %+v args %+v", tp, tp.Args)
	}
	if err := exec.Command("/bin/true").Run(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if evs := shared.sink.find(t, 2, 0, func(ev *event.Event) bool {
		return ev.ProcessTracepoint != nil && ev.ProcessTracepoint.PolicyName == "rawtp"
	}); len(evs) != 1 {
		t.Errorf("want only the listed program's exec, got %d events", len(evs))
	}
}

// TestTracepointAutoTypes: type auto types a field from the tracepoint's
// format, as Tetragon does (its example tracepoint-lseek-pid): whence and
// fd of sys_enter_lseek, 8-byte unsigned fields, are read as uint64.
func TestTracepointAutoTypes(t *testing.T) {
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: tp-auto}
spec:
  tracepoints:
  - subsystem: syscalls
    event: sys_enter_lseek
    args:
    - {index: 7, type: auto}
    - {index: 5, type: auto}
    selectors:
    - matchArgs:
      - {index: 7, operator: Equal, values: ["4444"]}
`)
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := unix.Seek(int(f.Fd()), 0, 4444); err == nil {
		t.Fatal("lseek with whence 4444 succeeded")
	}
	_, _ = unix.Seek(int(f.Fd()), 0, 0) // whence 0: not matched
	ev := shared.sink.one(t, "the lseek with whence 4444", tracepointOf(os.Getpid(), "tp-auto")).ProcessTracepoint
	if len(ev.Args) != 2 || ev.Args[0].SizeArg == nil || *ev.Args[0].SizeArg != 4444 ||
		ev.Args[1].SizeArg == nil || *ev.Args[1].SizeArg != uint64(f.Fd()) {
		t.Errorf("args = %+v, want whence 4444 and the descriptor as uint64", ev.Args)
	}
}
