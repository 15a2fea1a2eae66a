package compile

import (
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/syscalls"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

func compileDoc(t *testing.T, doc string, kernel probe.Report) (*Compiled, error) {
	t.Helper()
	ps, err := policy.Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return Compile(ps[0], Target{Kernel: kernel})
}

const fileOpenPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: open}
spec:
  %s
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: ["/etc/shadow"]}]
      matchActions: [{action: %s}]
`

// TestFileOpenFallback: without kprobes, fentry and BPF LSM, a hook on the
// file being opened (lsmhooks file_open, kprobe security_file_open) runs at
// the exit of every open syscall, reading the returned descriptor; with
// them, it is the real hook.
func TestFileOpenFallback(t *testing.T) {
	bare := kernelWith(probe.TPBTF, probe.SendSignal)
	for _, hook := range []string{"lsmhooks:\n  - hook: file_open", "kprobes:\n  - call: security_file_open"} {
		doc := strings.Replace(strings.Replace(fileOpenPolicy, "%s", hook, 1), "%s", "Sigkill", 1)
		c, err := compileDoc(t, doc, bare)
		if err != nil {
			t.Fatalf("%s: %v", hook, err)
		}
		if len(native(c)) != len(openSyscalls) || len(c.Program.Hooks) != len(openSyscalls)+compats(openSyscalls) ||
			len(c.Program.Funcs) != 0 || len(c.Caveats) != 1 {
			t.Fatalf("%s: %d syscall hooks, %d function hooks, caveats %q", hook, len(c.Program.Hooks), len(c.Program.Funcs), c.Caveats)
		}
		for i, hk := range c.Program.Hooks {
			if !hk.Exit || hk.Config.ArgIndex[0] != tracing.RawRet || hk.Config.ArgType[0] != tracing.ArgFd ||
				c.Hooks[i].Backend != BackendOpenExit || c.Hooks[i].Args[0].Type != tracing.ArgFile {
				t.Errorf("%s: hook %d = %+v, %+v", hook, i, hk, c.Hooks[i])
			}
		}
		c, err = compileDoc(t, doc, kernelWith(probe.TPBTF, probe.SendSignal, probe.Kprobe))
		if err != nil || len(c.Program.Funcs) != 1 || len(c.Caveats) != 0 {
			t.Errorf("%s with kprobes: %v, want the real hook", hook, err)
		}
	}
	doc := strings.Replace(strings.Replace(fileOpenPolicy, "%s", "lsmhooks:\n  - hook: file_open", 1), "%s", "Override, argError: -1", 1)
	if _, err := compileDoc(t, doc, bare); err == nil || !strings.Contains(err.Error(), "spec.lsmhooks[0].selectors: Override on file_open needs BPF LSM") {
		t.Errorf("Override on the fallback: %v", err)
	}
}

// TestFilePermissionFallback: without kprobes, fentry and BPF LSM, a hook
// on a file about to be read or written runs at the entry of every syscall
// that reads or writes a descriptor, its file slot on that descriptor and
// its mask slot reading the access as a constant of the hook.
func TestFilePermissionFallback(t *testing.T) {
	doc := `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: perm}
spec:
  lsmhooks:
  - hook: file_permission
    args: [{index: 0, type: file}, {index: 1, type: int}]
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: ["/etc/shadow"]}
      - {index: 1, operator: Mask, values: ["4"]}
      matchActions: [{action: Sigkill}]
`
	c, err := compileDoc(t, doc, kernelWith(probe.TPBTF, probe.SendSignal))
	if err != nil {
		t.Fatal(err)
	}
	if len(native(c)) != len(fileAccesses) || len(c.Caveats) != 1 {
		t.Fatalf("%d syscall hooks, caveats %q", len(c.Program.Hooks), c.Caveats)
	}
	for j, i := range native(c) {
		hk, fa := c.Program.Hooks[i], fileAccesses[j]
		if hk.Exit || hk.Config.ArgIndex[0] != fa.fdArg || hk.Config.ArgIndex[1] != tracing.RawConst ||
			hk.Config.ArgConst != fa.mask || c.Hooks[i].Backend != BackendAccessEntry {
			t.Errorf("hook %d (%s) = %+v", i, fa.syscall, hk)
		}
	}
	bad := strings.Replace(strings.Replace(doc, "{index: 1, type: int}", "{index: 2, type: int}", 1), "{index: 1, operator: Mask", "{index: 2, operator: Mask", 1)
	if _, err := compileDoc(t, bad, kernelWith(probe.TPBTF, probe.SendSignal)); err == nil || !strings.Contains(err.Error(), "spec.lsmhooks[0].args[1]") {
		t.Errorf("an argument the fallback lacks: %v", err)
	}
}

// native lists the indexes of c's hooks on x86_64 syscalls, without their
// ia32 copies.
func native(c *Compiled) []int {
	var out []int
	for i, hk := range c.Program.Hooks {
		if hk.Syscall < syscalls.CompatBase {
			out = append(out, i)
		}
	}
	return out
}

// compats counts the syscalls of names that ia32 has too.
func compats(names []string) int {
	n := 0
	for _, name := range names {
		if _, ok := syscalls.Compat(name); ok {
			n++
		}
	}
	return n
}
