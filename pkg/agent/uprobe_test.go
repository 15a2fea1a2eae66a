package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/usdt/usdttest"
)

// program writes usdttest's program, which exits with its semaphore's
// value, and returns it with its path as the kernel resolves it.
func program(t *testing.T) usdttest.Program {
	t.Helper()
	p, err := usdttest.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.Path = resolved(t, p.Path)
	return p
}

// runSemaphore runs the program and returns its pid and exit code.
func runSemaphore(t *testing.T, bin string) (pid, code int) {
	t.Helper()
	cmd := exec.Command(bin)
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.Process.Pid, cmd.ProcessState.ExitCode()
}

// TestUprobeByOffsetAndAddress: uprobes placed by file offset with a
// reference counter, and by virtual address, as Tetragon places them; the
// events name the offset (and the counter), and the kernel raises the
// counter in the process while the probe is attached.
func TestUprobeByOffsetAndAddress(t *testing.T) {
	requires(t, probe.Uprobe)
	prog := program(t)
	bin, off, addr, sem := prog.Path, prog.Probe, usdttest.Base+prog.Probe, prog.Semaphore
	if _, code := runSemaphore(t, bin); code != 0 {
		t.Fatalf("with no probe the program exits %d, want 0 (its counter)", code)
	}
	hit := func(t *testing.T, pid int, name string) *event.ProcessUprobe {
		return shared.sink.one(t, name+" event", func(ev *event.Event) bool {
			u := ev.ProcessUprobe
			return u != nil && u.Process.Pid == uint32(pid) && u.PolicyName == name
		}).ProcessUprobe
	}
	t.Run("offsets", func(t *testing.T) {
		load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: uprobe-offset}
spec:
  uprobes:
  - path: %q
    offsets: [%d]
    refCtrOffsets: [%d]
`, bin, off, sem))
		pid, code := runSemaphore(t, bin)
		if code != 1 {
			t.Errorf("exit %d, want 1: the reference counter the probe raises", code)
		}
		if u := hit(t, pid, "uprobe-offset"); u.Path != bin || u.Symbol != "" || u.Offset != off || u.RefCtrOffset != sem {
			t.Errorf("event %+v, want path %s, offset %d, ref_ctr_offset %d", u, bin, off, sem)
		}
	})
	t.Run("addrs", func(t *testing.T) {
		load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: uprobe-addr}
spec:
  uprobes:
  - path: %q
    addrs: [%d]
`, bin, addr))
		pid, code := runSemaphore(t, bin)
		if code != 0 {
			t.Errorf("exit %d, want 0: no reference counter now", code)
		}
		if u := hit(t, pid, "uprobe-addr"); u.Offset != off || u.RefCtrOffset != 0 {
			t.Errorf("event %+v, want the address's file offset %d", u, off)
		}
	})
}

// TestUSDTReadsItsArguments: a USDT hook on usdttest's probe reads its
// three arguments where the SDT note says they are (a register, memory at
// a register plus 8, a constant), filters on them in the kernel, raises
// the probe's semaphore while attached, and posts process_usdt.
func TestUSDTReadsItsArguments(t *testing.T) {
	requires(t, probe.Uprobe)
	prog := program(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: usdt-args}
spec:
  usdts:
  - path: %q
    provider: %s
    name: %s
    args:
    - {index: 0, type: int32}
    - {index: 1, type: int64}
    - {index: 2, type: int32}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: ["%d"]}
      - {index: 2, operator: Equal, values: ["%d"]}
`, prog.Path, usdttest.Provider, usdttest.Name, usdttest.Arg0, usdttest.Arg2))
	pid, code := runSemaphore(t, prog.Path)
	if code != 1 {
		t.Errorf("exit %d, want 1: the semaphore the USDT hook raises", code)
	}
	u := shared.sink.one(t, "process_usdt event", func(ev *event.Event) bool {
		return ev.ProcessUsdt != nil && ev.ProcessUsdt.Process.Pid == uint32(pid)
	}).ProcessUsdt
	if u.Path != prog.Path || u.Provider != usdttest.Provider || u.Name != usdttest.Name || u.PolicyName != "usdt-args" || len(u.Args) != 3 {
		t.Fatalf("event %+v", u)
	}
	if a := u.Args; a[0].IntArg == nil || *a[0].IntArg != usdttest.Arg0 || a[1].LongArg == nil || *a[1].LongArg != usdttest.Arg1 ||
		a[2].IntArg == nil || *a[2].IntArg != usdttest.Arg2 {
		t.Errorf("args %+v %+v %+v, want %d %d %d", a[0], a[1], a[2], usdttest.Arg0, usdttest.Arg1, usdttest.Arg2)
	}
}

// TestUprobeReturn: a uprobe return probe on usdttest's function, by file
// offset, reads its argument at the entry and its return value at the
// return, filters on the return value in the kernel (matchReturnArgs), and
// puts it after the arguments, as Tetragon's uprobe events carry it.
func TestUprobeReturn(t *testing.T) {
	requires(t, probe.Uprobe)
	prog := program(t)
	doc := func(name, op string) string {
		return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  uprobes:
  - path: %q
    offsets: [%d]
    return: true
    args:
    - {index: 0, type: int, label: first}
    returnArg: {index: 0, type: int, label: result}
    selectors:
    - matchReturnArgs:
      - {operator: %s, values: ["%d"]}
`, name, prog.Path, prog.Function, op, usdttest.Returns)
	}
	load(t, doc("uretprobe-equal", "Equal"))
	load(t, doc("uretprobe-notequal", "NotEqual"))
	pid, _ := runSemaphore(t, prog.Path)
	u := shared.sink.one(t, "process_uprobe event at the return", func(ev *event.Event) bool {
		u := ev.ProcessUprobe
		return u != nil && u.Process.Pid == uint32(pid) && u.PolicyName == "uretprobe-equal"
	}).ProcessUprobe
	if a := u.Args; len(a) != 2 || a[0].IntArg == nil || *a[0].IntArg != usdttest.Arg0 || a[0].Label != "first" ||
		a[1].IntArg == nil || *a[1].IntArg != usdttest.Returns || a[1].Label != "result" || u.Offset != prog.Function {
		t.Errorf("event %+v args %+v, want the argument %d then the return value %d", u, a, usdttest.Arg0, usdttest.Returns)
	}
	runSemaphore(t, "/bin/true") // a later process: the other policy's event, if any, is in
	if n := len(shared.sink.find(t, 0, 0, func(ev *event.Event) bool {
		u := ev.ProcessUprobe
		return u != nil && u.Process.Pid == uint32(pid) && u.PolicyName == "uretprobe-notequal"
	})); n != 0 {
		t.Errorf("%d events of the policy whose matchReturnArgs fails", n)
	}
}

// TestUSDTSetWritesTheArgument: a Set action writes its value over the
// probe's argument in memory (usdttest's second, at a register plus 8),
// as Tetragon's usdt-set example does; the program exits with what the
// argument holds after the probe.
func TestUSDTSetWritesTheArgument(t *testing.T) {
	requires(t, probe.Uprobe)
	requires(t, probe.ProbeWriteUser)
	prog, err := usdttest.WriteExit(t.TempDir(), usdttest.ExitArg1)
	if err != nil {
		t.Fatal(err)
	}
	prog.Path = resolved(t, prog.Path)
	const unwritten, value = usdttest.Arg1 & 0xff, 32
	if _, code := runSemaphore(t, prog.Path); code != unwritten {
		t.Fatalf("with no probe the program exits %d, want %d (its argument's low byte)", code, unwritten)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: usdt-set}
spec:
  usdts:
  - path: %q
    provider: %s
    name: %s
    args: [{index: 1, type: int64}]
    selectors:
    - matchActions: [{action: Set, argIndex: 1, argValue: %d}]
`, prog.Path, usdttest.Provider, usdttest.Name, value))
	pid, code := runSemaphore(t, prog.Path)
	if code != value {
		t.Errorf("exit %d, want %d: the value Set wrote", code, value)
	}
	u := shared.sink.one(t, "process_usdt event", func(ev *event.Event) bool {
		return ev.ProcessUsdt != nil && ev.ProcessUsdt.Process.Pid == uint32(pid)
	}).ProcessUsdt
	if u.PolicyName != "usdt-set" || len(u.Args) != 1 || u.Args[0].LongArg == nil || *u.Args[0].LongArg != usdttest.Arg1 {
		t.Errorf("event %+v: want the argument as the probe saw it, before the write", u)
	}
}

// TestUprobeBinaryDigests: a uprobe with binaryDigests is attached only
// where the binary matches one of them, as in Tetragon: a mismatch refuses
// the policy with the path, or with ignore.digestVerificationFailure
// skips that uprobe (listed as skipped) and loads the rest.
func TestUprobeBinaryDigests(t *testing.T) {
	requires(t, probe.Uprobe)
	prog := program(t)
	content, err := os.ReadFile(prog.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	right, wrong := "sha256:"+hex.EncodeToString(sum[:]), "sha256:"+strings.Repeat("ab", 32)
	entry := func(digests, tag, ignore string) string {
		return fmt.Sprintf(`
  - path: %q
    offsets: [%d]
    binaryDigests: [%s]
    tags: [%s]%s`, prog.Path, prog.Probe, digests, tag, ignore)
	}
	policy := func(name string, entries ...string) string {
		return fmt.Sprintf("apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: %s}\nspec:\n  uprobes:%s\n",
			name, strings.Join(entries, ""))
	}
	tagged := func(pid int, name, tag string) func(*event.Event) bool {
		return func(ev *event.Event) bool {
			u := ev.ProcessUprobe
			return u != nil && u.Process.Pid == uint32(pid) && u.PolicyName == name && slices.Contains(u.Tags, tag)
		}
	}
	t.Run("mismatch", func(t *testing.T) {
		docs, err := policy0(policy("digest-mismatch", entry(wrong, "t", "")))
		if err != nil {
			t.Fatal(err)
		}
		err = shared.agent.pols.Apply(t.Name(), docs)
		if err == nil {
			_ = shared.agent.pols.Remove("digest-mismatch")
			t.Fatal("a binary matching none of binaryDigests was hooked")
		}
		if !strings.Contains(err.Error(), "spec.uprobes[0].binaryDigests: "+prog.Path+" matches none of them (its sha256 is "+right[7:]) {
			t.Errorf("error %v, want the path, the binary and its digest", err)
		}
	})
	t.Run("match-or-skip", func(t *testing.T) {
		load(t, policy("digest-match", entry(wrong+", "+right, "kept", ""),
			entry(wrong, "rejected", "\n    ignore: {digestVerificationFailure: true}")))
		if s := listed(t, "digest-match").Skipped; len(s) != 1 || !strings.Contains(s[0], "spec.uprobes[1].binaryDigests") {
			t.Errorf("skipped %q, want the second uprobe", s)
		}
		for range 2 {
			pid, _ := runSemaphore(t, prog.Path)
			shared.sink.one(t, "the matching uprobe's event", tagged(pid, "digest-match", "kept"))
			if evs := shared.sink.find(t, 0, 0, tagged(pid, "digest-match", "rejected")); len(evs) != 0 {
				t.Errorf("the uprobe whose digest did not match posted %d events", len(evs))
			}
		}
	})
}

// policy0 parses a document of one policy.
func policy0(doc string) (policy.Policy, error) {
	docs, err := policy.Parse([]byte(doc), "test.yaml")
	if err != nil || len(docs) != 1 {
		return nil, fmt.Errorf("%d policies, %v", len(docs), err)
	}
	return docs[0], nil
}
