package compile

import (
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// TestMaxDataMarksItsSlot: maxData marks its char_buf's slot to be read up
// to Tetragon's limit, on every syscall backend; a char_buf without it is
// not marked (the kernel cuts it at tracing.ArgMask).
func TestMaxDataMarksItsSlot(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: max-data}
spec:
  kprobes:
  - call: sys_write
    syscall: true
    args:
    - {index: 2, type: size_t}
    - {index: 1, type: char_buf, sizeArgIndex: 3, maxData: true}
  - call: sys_read
    syscall: true
    args:
    - {index: 1, type: char_buf, sizeArgIndex: 3}
    - {index: 2, type: size_t}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{BackendRawSyscall, tracing.AttachKprobe, tracing.AttachFentry} {
		c, err := Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF, probe.Kprobe, probe.Fentry), SyscallBackend: backend})
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		var cfgs []tracing.HookConfig
		for _, i := range native(c) {
			cfgs = append(cfgs, c.Program.Hooks[i].Config)
		}
		for _, f := range c.Program.Funcs {
			cfgs = append(cfgs, f.Config)
		}
		if len(cfgs) != 2 {
			t.Fatalf("%s: %d hooks, want 2", backend, len(cfgs))
		}
		if w := cfgs[0]; w.MaxDataArgs != 1<<1 || w.MaxData != tracing.DataMax {
			t.Errorf("%s: write hook: maxData slots %#b, max %d; want slot 1, %d", backend, w.MaxDataArgs, w.MaxData, tracing.DataMax)
		}
		if r := cfgs[1]; r.MaxDataArgs != 0 {
			t.Errorf("%s: read hook without maxData: maxData slots %#b", backend, r.MaxDataArgs)
		}
	}
}
