package agent

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/symbolize"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// openPolicy posts every openat of file, with the stack traces of actions
// (such as "kernelStackTrace: true") on its Post.
func openPolicy(name, file string, actions ...string) string {
	post := "{action: Post}"
	if len(actions) > 0 {
		post = "{action: Post, " + strings.Join(actions, ", ") + "}"
	}
	return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
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
      - %s
`, name, file, post)
}

// holdOpen starts cmd with its standard input a pipe, waits for the
// event of policy it causes, then lets it end: cmd waits for the end of
// its input, so the event is read while the process still runs.
func holdOpen(t *testing.T, cmd *exec.Cmd, policy string) *event.ProcessKprobe {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	return shared.sink.one(t, policy+" event of "+cmd.Path, kprobeOf(cmd.Process.Pid, policy)).ProcessKprobe
}

// openWait is a helper's side: it opens file, then waits for the end of
// its standard input.
func openWait(file string) {
	f, err := os.Open(file)
	if err != nil {
		os.Exit(2)
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	f.Close()
	os.Exit(0)
}

// TestStackTraces: a Post with kernelStackTrace and userStackTrace puts
// both stacks of the openat in the event, named: the kernel's from the
// syscall entry, a shell's through the C library's open, a Go program's
// through its syscall package; cat's, which exits before its event is
// read, as far as it can be named. A policy without the flags on the same
// open has no stack in its event, and no address is shown by default.
func TestStackTraces(t *testing.T) {
	_, secret, _ := secretFiles(t)
	load(t, openPolicy("stack-traces", secret, "kernelStackTrace: true", "userStackTrace: true"))
	load(t, openPolicy("no-stack-traces", secret))

	sh := exec.Command("/bin/sh", "-c", `exec 3<"$0"; read x`, secret)
	k := holdOpen(t, sh, "stack-traces")
	logStacks(t, "sh", k)
	checkKernelStack(t, "sh", k)
	if len(k.UserStackTrace) == 0 || k.UserStackTraceError != "" {
		t.Fatalf("sh: user stack %d frames, error %q", len(k.UserStackTrace), k.UserStackTraceError)
	}
	top := k.UserStackTrace[0]
	if !strings.HasSuffix(top.Module, "/libc.so.6") || top.Symbol == "" || top.Offset == 0 || top.Address != 0 {
		t.Errorf("sh: the innermost user frame is %+v, want a named function of libc.so.6, without its address", top)
	}
	plain := shared.sink.one(t, "no-stack-traces event of sh", kprobeOf(sh.Process.Pid, "no-stack-traces")).ProcessKprobe
	if plain.KernelStackTrace != nil || plain.UserStackTrace != nil || plain.KernelStackTraceError != "" || plain.UserStackTraceError != "" {
		t.Errorf("a policy without stack traces: %+v", plain.StackTraces)
	}

	helper := exec.Command(os.Args[0])
	helper.Env = append(os.Environ(), helperEnv+"=open-wait:"+secret)
	k = holdOpen(t, helper, "stack-traces")
	logStacks(t, "go helper", k)
	self, _ := filepath.EvalSymlinks(os.Args[0])
	if !hasFrame(k.UserStackTrace, func(f *event.StackTraceEntry) bool {
		return f.Module == self && strings.HasPrefix(f.Symbol, "syscall.")
	}) {
		t.Errorf("go helper: no frame of package syscall in %s", self)
	}

	cat := exec.Command("/bin/cat", secret)
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	k = shared.sink.one(t, "stack-traces event of cat", kprobeOf(cat.Process.Pid, "stack-traces")).ProcessKprobe
	logStacks(t, "cat", k)
	checkKernelStack(t, "cat", k)
	if len(k.UserStackTrace) == 0 {
		t.Fatalf("cat: no user frames (error %q)", k.UserStackTraceError)
	}
	if k.UserStackTrace[0].Module == symbolize.Unknown && k.UserStackTraceError == "" {
		t.Error("cat: unnamed user frames, and no error saying why")
	}
}

// checkKernelStack: the kernel's stack has named frames down to the
// syscall entry, none of the hook's BPF program, and no addresses.
func checkKernelStack(t *testing.T, who string, k *event.ProcessKprobe) {
	t.Helper()
	if len(k.KernelStackTrace) == 0 || k.KernelStackTraceError != "" {
		t.Fatalf("%s: kernel stack %d frames, error %q", who, len(k.KernelStackTrace), k.KernelStackTraceError)
	}
	for _, f := range k.KernelStackTrace {
		if f.Symbol == "" || f.Symbol == symbolize.Unknown || f.Module == "[bpf]" || f.Address != 0 {
			t.Errorf("%s: kernel frame %+v", who, f)
		}
	}
	if !hasFrame(k.KernelStackTrace, func(f *event.StackTraceEntry) bool {
		return f.Symbol == "do_syscall_64" || strings.HasPrefix(f.Symbol, "entry_SYSCALL_64")
	}) {
		t.Errorf("%s: no syscall entry frame (do_syscall_64, entry_SYSCALL_64*) in the kernel stack", who)
	}
}

func hasFrame(frames []*event.StackTraceEntry, match func(*event.StackTraceEntry) bool) bool {
	for _, f := range frames {
		if match(f) {
			return true
		}
	}
	return false
}

func logStacks(t *testing.T, who string, k *event.ProcessKprobe) {
	t.Helper()
	for _, f := range k.KernelStackTrace {
		t.Logf("%s kernel: %s+%#x %s", who, f.Symbol, f.Offset, f.Module)
	}
	for _, f := range k.UserStackTrace {
		t.Logf("%s user: %s+%#x %s", who, f.Module, f.Offset, f.Symbol)
	}
	if k.UserStackTraceError != "" {
		t.Logf("%s user: %s", who, k.UserStackTraceError)
	}
}

// TestStackTraceFailuresAreReported: with a stack map of one bucket, the
// user stack finds it taken by the kernel stack. The event goes out with
// the kernel stack, the error in place of the user stack, and a
// lost_events record counts the stack the kernel could not collect.
func TestStackTraceFailuresAreReported(t *testing.T) {
	r := start(t, Config{
		Tracing:      tracing.Config{StackTraces: 1},
		Process:      process.Options{NodeName: "one-stack"},
		LossInterval: 100 * time.Millisecond,
	})
	defer r.stop()
	_, secret, _ := secretFiles(t)
	docs, err := policy.Parse([]byte(openPolicy("stack-map-full", secret, "kernelStackTrace: true", "userStackTrace: true")), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.agent.pols.Apply(t.Name(), docs[0]); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread() // one thread: one open, whose stacks are taken at once
	defer runtime.UnlockOSThread()
	fd, err := syscall.Open(secret, syscall.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	k := r.sink.one(t, "stack-map-full event", kprobeOf(os.Getpid(), "stack-map-full")).ProcessKprobe
	if len(k.KernelStackTrace) == 0 || len(k.UserStackTrace) != 0 || !strings.Contains(k.UserStackTraceError, "stack map") {
		t.Errorf("kernel stack %d frames (%q), user stack %d frames (%q): want the kernel's and an error for the user's",
			len(k.KernelStackTrace), k.KernelStackTraceError, len(k.UserStackTrace), k.UserStackTraceError)
	}
	lost := r.sink.find(t, 1, 5*time.Second, lostRecords(event.LostStackTrace))
	if len(lost) == 0 || lost[0].LostEvents.Count == 0 {
		t.Errorf("no lost_events record of reason %s", event.LostStackTrace)
	}
	if r.agent.Stats().StackFailed.Load() == 0 || r.agent.Stats().StackErrors.Load() == 0 {
		t.Error("the failed stack is not in the agent's stats")
	}
}

// TestStackEntriesHideAddresses: addresses go into events only when the
// agent is told to expose them.
func TestStackEntriesHideAddresses(t *testing.T) {
	frames := []symbolize.Frame{{Address: 0xffffffff8223caef, Offset: 0x20f, Symbol: "do_syscall_64"}}
	hidden := (&stackTraces{}).entries(frames)
	shown := (&stackTraces{expose: true}).entries(frames)
	if hidden[0].Address != 0 || hidden[0].Symbol != "do_syscall_64" || hidden[0].Offset != 0x20f {
		t.Errorf("by default: %+v", hidden[0])
	}
	if shown[0].Address != 0xffffffff8223caef {
		t.Errorf("exposed: %+v", shown[0])
	}
}

// stackCases are the Post actions BenchmarkStackTraces compares.
var stackCases = []struct {
	name   string
	stacks uint8
}{
	{"post", 0},
	{"post+kernel", tracing.StackKernel},
	{"post+user", tracing.StackUser},
	{"post+kernel+user", tracing.StackKernel | tracing.StackUser},
}

// getpidOf posts the getpid calls of process pid, with stacks.
func getpidOf(pid int, stacks uint8) tracing.Program {
	cfg := tracing.HookConfig{NConds: 1, NSelectors: 1}
	cfg.Conds[0] = tracing.Cond{Subject: tracing.SubjPid, Op: tracing.CondEq, SetID: 1}
	cfg.Actions[0] = tracing.SelAction{Post: 1, Stacks: stacks}
	return tracing.Program{Hooks: []tracing.SyscallHook{{Syscall: uint32(syscall.SYS_GETPID), Config: cfg}},
		Ints: []tracing.IntKey{{SetID: 1, Value: int64(pid)}}}
}

// BenchmarkStackTraces measures what stack traces cost per event. kernel/:
// a getpid of this process that a policy posts, as its caller sees it, in
// batches of 1,000 read between them (kernel/unhooked: before any policy,
// the syscall's floor); kernel+reader/: the same while another goroutine
// reads and names the records as the agent does, on the same CPUs. agent/: the
// agent's side alone, per record: decoding it, reading its stacks from
// the kernel's map and naming the frames (kallsyms and the ELF symbols
// cached, as they are after the first events), with releases as the ring
// buffer drains. Printed, not asserted.
func BenchmarkStackTraces(b *testing.B) {
	pid := os.Getpid()
	s, err := tracing.Load(tracing.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	st := newStackTraces(s.Hooks(), false)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.Run("kernel/unhooked", func(b *testing.B) { getpids(b) })
	var in *tracing.Installed
	for _, c := range stackCases {
		if in, err = s.Hooks().Install(1, tracing.ModeEnforce, getpidOf(pid, c.stacks), in); err != nil {
			b.Fatal(err)
		}
		b.Run("kernel/"+c.name, func(b *testing.B) { kernelSide(b, s, st) })
		b.Run("kernel+reader/"+c.name, func(b *testing.B) {
			done := drain(s, st)
			getpids(b)
			done()
		})
		b.Run("agent/"+c.name, func(b *testing.B) { agentSide(b, s, st) })
	}
}

// getpids times b.N getpid calls.
func getpids(b *testing.B) {
	for b.Loop() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	}
}

// drain reads and names records until the returned function is called.
func drain(s *tracing.Sensor, st *stackTraces) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			readOne(s, st, 10*time.Millisecond)
		}
	}()
	return func() { close(stop); <-done; st.release() }
}

// readOne reads a record, names its stacks, and releases the stacks read
// when the ring buffer is empty.
func readOne(s *tracing.Sensor, st *stackTraces, wait time.Duration) bool {
	rec, err := s.Read(time.Now().Add(wait))
	if g, ok := rec.(*tracing.Generic); ok && err == nil {
		st.traces(g)
	}
	if s.Pending() == 0 {
		st.release()
	}
	return err == nil
}

// kernelSide times getpid calls in batches of 1,000, the records read
// and named between batches.
func kernelSide(b *testing.B, s *tracing.Sensor, st *stackTraces) {
	for n := 0; n < b.N; n += 1000 {
		for range min(1000, b.N-n) {
			_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		}
		b.StopTimer()
		for s.Pending() > 0 {
			readOne(s, st, time.Second)
		}
		b.StartTimer()
	}
}

// agentSide times the agent's side on batches of 1,000 records, all in
// the ring buffer before the reading starts (a few are the Go runtime's
// getpid calls, and other processes' execs).
func agentSide(b *testing.B, s *tracing.Sensor, st *stackTraces) {
	b.StopTimer()
	for n := 0; n < b.N; {
		for range 1000 {
			_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		}
		b.StartTimer()
		start := n
		for ; n < b.N && s.Pending() > 0; n++ {
			readOne(s, st, time.Second)
		}
		b.StopTimer()
		if n == start {
			b.Fatal("the getpid calls posted no record")
		}
	}
}

// TestStackTracesOfATracepoint: a tracepoint hook's event (process_tracepoint)
// carries the stacks too: the kernel's through execve at the exec of a
// binary the selector names.
func TestStackTracesOfATracepoint(t *testing.T) {
	bin := copyBinary(t, "/bin/true", "stacktrue")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: exec-stacks
spec:
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    selectors:
    - matchBinaries:
      - {operator: In, values: [%q]}
      matchActions:
      - {action: Post, kernelStackTrace: true, userStackTrace: true}
`, bin))
	cmd := exec.Command(bin)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	tp := shared.sink.one(t, "tracepoint event of the exec", tracepointOf(cmd.Process.Pid, "exec-stacks")).ProcessTracepoint
	k := &event.ProcessKprobe{StackTraces: tp.StackTraces}
	logStacks(t, "exec", k)
	checkKernelStack(t, "exec", k)
	if !hasFrame(k.KernelStackTrace, func(f *event.StackTraceEntry) bool { return strings.Contains(f.Symbol, "execve") }) {
		t.Error("exec: no execve frame in the kernel stack")
	}
	if len(k.UserStackTrace) == 0 && k.UserStackTraceError == "" {
		t.Error("exec: no user stack, and no error saying why")
	}
}

// TestStackTracesOfAReturnHook: a return hook's event carries the stacks
// of its entry, where its actions run (on the raw syscall tracepoint,
// sys_enter's path, not sys_exit's).
func TestStackTracesOfAReturnHook(t *testing.T) {
	_, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: return-stacks
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    return: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [%q]}
      matchActions:
      - {action: Post, kernelStackTrace: true, userStackTrace: true}
`, secret))
	sh := exec.Command("/bin/sh", "-c", `exec 3<"$0"; read x`, secret)
	k := holdOpen(t, sh, "return-stacks")
	logStacks(t, "return hook", k)
	if k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg < 0 {
		t.Errorf("return = %+v, want the descriptor", k.Return)
	}
	checkKernelStack(t, "return hook", k)
	if len(k.UserStackTrace) == 0 || !strings.HasSuffix(k.UserStackTrace[0].Module, "/libc.so.6") {
		t.Errorf("return hook: user stack %+v (%q)", k.UserStackTrace, k.UserStackTraceError)
	}
	if (k.Backend == compile.BackendRawSyscall || k.Backend == compile.BackendSyscallTracepoint) && !hasFrame(k.KernelStackTrace, func(f *event.StackTraceEntry) bool {
		return strings.HasPrefix(f.Symbol, "syscall_trace_enter") // .constprop.0 on some builds
	}) {
		t.Errorf("return hook on %s: no syscall_trace_enter frame: not the entry's stack", k.Backend)
	}
}
