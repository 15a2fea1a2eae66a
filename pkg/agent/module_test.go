package agent

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// modprobe runs modprobe with args, from the kernel package the kernel
// matrix booted (VMRUN_KERNEL_ROOT) when there is one.
func modprobe(t *testing.T, args ...string) {
	t.Helper()
	if root := os.Getenv("VMRUN_KERNEL_ROOT"); root != "" {
		args = append([]string{"-d", root}, args...)
	}
	if out, err := exec.Command("modprobe", args...).CombinedOutput(); err != nil {
		t.Fatalf("modprobe %v: %v: %s", args, err, out)
	}
}

// TestKernelModuleArguments: module arguments show the module's name and
// taint flags (do_init_module when the dummy network module loads,
// free_module when it goes); a load_info shows its signature check, at
// load_module's entry before the kernel has read anything (so no name
// yet, and not checked).
func TestKernelModuleArguments(t *testing.T) {
	requiresFunctionHooks(t)
	if _, err := os.Stat("/proc/modules"); err != nil {
		t.Skipf("needs loadable kernel modules (CONFIG_MODULES): %v", err)
	}
	_ = exec.Command("modprobe", "-r", "dummy").Run() // left by an earlier run
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: modules}
spec:
  kprobes:
  - call: do_init_module
    syscall: false
    args: [{index: 0, type: module}]
  - call: free_module
    syscall: false
    args: [{index: 0, type: module}]
  - call: load_module
    syscall: false
    args: [{index: 0, type: load_info}]
`)
	modprobe(t, "dummy")
	modprobe(t, "-r", "dummy")
	module := func(function, name string) func(*event.Event) bool {
		return func(ev *event.Event) bool {
			k := ev.ProcessKprobe
			return k != nil && k.PolicyName == "modules" && k.FunctionName == function && len(k.Args) == 1 &&
				k.Args[0].ModuleArg != nil && k.Args[0].ModuleArg.Name == name
		}
	}
	for _, f := range []string{"do_init_module", "free_module"} {
		m := shared.sink.one(t, f+" of dummy", module(f, "dummy")).ProcessKprobe.Args[0].ModuleArg
		if m.SignatureOk != nil {
			t.Errorf("%s: a struct module shows signature_ok %v; Tetragon shows it for load_info only", f, *m.SignatureOk)
		}
		t.Logf("%s: %+v", f, m)
	}
	evs := shared.sink.find(t, 1, 10*time.Second, module("load_module", ""))
	if len(evs) == 0 {
		t.Fatal("no load_module event with an empty load_info")
	}
	if m := evs[0].ProcessKprobe.Args[0].ModuleArg; m.SignatureOk == nil || *m.SignatureOk {
		t.Errorf("load_module's load_info at entry: %+v, want signature_ok false (not checked yet)", m)
	}
}
