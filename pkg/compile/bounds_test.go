package compile

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// kernelWith is a report in which exactly the features given are available.
func kernelWith(features ...probe.Feature) probe.Report {
	var r probe.Report
	for _, f := range probe.Features() {
		available := false
		for _, g := range features {
			available = available || f == g
		}
		r.Features = append(r.Features, probe.Result{Feature: f, Available: available, Reason: "not in this test's kernel"})
	}
	return r
}

// TestArgIndexWithinWhatTheBackendReads: a kprobe reads five registers, so
// index 5 of a kernel function is refused there and accepted on fentry,
// which reads six.
func TestArgIndexWithinWhatTheBackendReads(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: sixth}
spec:
  kprobes:
  - call: do_sys_openat2
    syscall: false
    args:
    - {index: 5, type: int}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe)})
	var u *UnsupportedError
	if !errors.As(err, &u) || u.Path != "spec.kprobes[0].args[0].index" {
		t.Fatalf("on kprobe: got %v, want an UnsupportedError at spec.kprobes[0].args[0].index", err)
	}
	t.Log(err)
	if _, err := Compile(ps[0], Target{Kernel: kernelWith(probe.Fentry)}); err != nil {
		t.Errorf("on fentry: %v", err)
	}
}

// TestLimitsAreTheKernels: the limits validation checks are the ones the
// generic hook is sized for, so that what validates compiles.
func TestLimitsAreTheKernels(t *testing.T) {
	for _, l := range []struct {
		name         string
		policy, hook int
	}{
		{"args per hook", policy.MaxArgs, tracing.MaxArgs},
		{"selectors per hook", policy.MaxSelectorsPerHook, tracing.MaxSelectors},
	} {
		if l.policy != l.hook {
			t.Errorf("%s: validation allows %d, the generic hook %d", l.name, l.policy, l.hook)
		}
	}
}

// TestImaHashCompiles: imaHash runs the hook's sleepable program that
// hashes its file (a linux_binprm's for the bprm_ hooks); a kernel without
// BPF LSM or bpf_ima_file_hash lacks what it needs, named; a hook whose
// file Tetragon does not hash is refused.
func TestImaHashCompiles(t *testing.T) {
	doc := func(hook, typ string) policy.Policy {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ima}
spec:
  lsmhooks:
  - hook: `+hook+`
    args: [{index: 0, type: `+typ+`}]
    selectors:
    - matchActions: [{action: Post, imaHash: true}]
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	const at = "spec.lsmhooks[0].selectors[0].matchActions[0].imaHash"
	for _, tc := range []struct {
		name, hook, typ string
		kernel          probe.Report
		want            string // the program, or the refusal's start
		kernelLacks     bool
	}{
		{"file", "file_open", "file", kernelWith(probe.LSM, probe.IMAFileHash), tracing.AttachLSMIMAFile, false},
		{"bprm", "bprm_check_security", "linux_binprm", kernelWith(probe.LSM, probe.IMAFileHash), tracing.AttachLSMIMABprm, false},
		{"no LSM", "file_open", "file", kernelWith(probe.Kprobe), at + ": imaHash needs a sleepable BPF LSM program", true},
		{"no helper", "file_open", "file", kernelWith(probe.LSM), at + ": imaHash asks IMA for the file's hash", true},
		{"other hook", "inode_unlink", "nop", kernelWith(probe.LSM, probe.IMAFileHash), at + ": imaHash hashes the file of the LSM hooks", false},
	} {
		c, err := Compile(doc(tc.hook, tc.typ), Target{Kernel: tc.kernel})
		var u *UnsupportedError
		switch {
		case err == nil && (c.Program.Funcs[0].IMA != tc.want || c.Program.Funcs[0].Config.Actions[0].IMA != 1):
			t.Errorf("%s: program %q, action %+v, want %s", tc.name, c.Program.Funcs[0].IMA, c.Program.Funcs[0].Config.Actions[0], tc.want)
		case err != nil && (!errors.As(err, &u) || !strings.HasPrefix(err.Error(), tc.want) || u.KernelLacks != tc.kernelLacks):
			t.Errorf("%s: %v (kernel lacks: %v), want %q, kernel lacks %v", tc.name, err, u != nil && u.KernelLacks, tc.want, tc.kernelLacks)
		}
	}
}

// TestBulkSyscallsShareOneProgram: a kprobes entry over many syscalls goes
// on the raw syscall tracepoint, one program for all, where a few go on a
// kprobe each.
func TestBulkSyscallsShareOneProgram(t *testing.T) {
	for _, tc := range []struct {
		name, list, backend string
	}{
		{"few", "{name: few, values: [sys_dup, sys_dup3]}", tracing.AttachKprobe},
		{"all", "{name: all, type: generated_syscalls}", BackendRawSyscall},
	} {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bulk}
spec:
  lists: [`+tc.list+`]
  kprobes:
  - call: "list:`+tc.name+`"
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.TPBTF)})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range c.Hooks {
			if strings.HasPrefix(h.Function, "__ia32_") && h.Backend == BackendRawSyscall {
				continue // a 32-bit process's calls, on the raw syscall tracepoint
			}
			if h.Backend != tc.backend {
				t.Fatalf("%s: %s via %s, want %s", tc.list, h.Function, h.Backend, tc.backend)
			}
		}
		t.Logf("%s: %d hooks via %s", tc.list, len(c.Hooks), tc.backend)
	}
}

// TestCompatBesideKernelFunctions: a syscall hook served by a kprobe has an
// ia32 copy on the raw syscall tracepoint, its metadata in the order of
// hook ids (syscall hooks, then function hooks); an Override there is
// dropped, and the caveats say so.
func TestCompatBesideKernelFunctions(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: compat}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: ["/etc/shadow"]}]
      matchActions: [{action: Override, argError: -1}]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.OverrideReturn, probe.TPBTF)})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Program.Hooks) != 1 || len(c.Program.Funcs) != 1 || len(c.Hooks) != 2 {
		t.Fatalf("%d syscall hooks, %d function hooks, %d metadata: want 1, 1, 2", len(c.Program.Hooks), len(c.Program.Funcs), len(c.Hooks))
	}
	if h := c.Hooks[0]; h.Function != "__ia32_sys_openat" || h.Backend != BackendRawSyscall || c.Program.Hooks[0].Config.Actions[0].Override != 0 {
		t.Errorf("first (syscall hook) metadata %+v, want the ia32 copy without Override", h)
	}
	if h := c.Hooks[1]; h.Function != "__x64_sys_openat" || len(c.Caveats) != 1 {
		t.Errorf("second metadata %+v, caveats %q: want the kprobe's, one caveat", h, c.Caveats)
	}
}

// TestNodeSelectorNeedsTheNodeLabels: without the Kubernetes API the agent
// cannot know its node's labels, so a policy with spec.nodeSelector is
// refused, not loaded on every node.
func TestNodeSelectorNeedsTheNodeLabels(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: gpu-only}
spec:
  nodeSelector: {matchLabels: {pool: gpu}}
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	k := kernelWith(probe.Kprobe)
	if _, err := Compile(ps[0], Target{Kernel: k}); err == nil || !strings.Contains(err.Error(), "spec.nodeSelector") {
		t.Errorf("without the node's labels: %v, want a refusal at spec.nodeSelector", err)
	}
	if _, err := Compile(ps[0], Target{Kernel: k, Nodes: true}); err != nil {
		t.Errorf("with them: %v", err)
	}
}

// TestSyscallTracepointBackend: where the kernel has per-syscall
// tracepoints a syscall hook's events name them, its ia32 copy the raw
// syscall tracepoint (per-syscall tracepoints skip ia32 calls); forcing
// the raw backend names it; NoIA32 leaves the copy out.
func TestSyscallTracepointBackend(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: own}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kernel := kernelWith(probe.TPBTF, probe.SyscallTracepoint)
	for _, tc := range []struct {
		name   string
		target Target
		want   []string // function/backend of each hook
	}{
		{"auto", Target{Kernel: kernel}, []string{"__x64_sys_openat/syscall_tracepoint", "__ia32_sys_openat/raw_syscall_tracepoint"}},
		{"forced raw", Target{Kernel: kernel, SyscallBackend: BackendRawSyscall}, []string{"__x64_sys_openat/raw_syscall_tracepoint", "__ia32_sys_openat/raw_syscall_tracepoint"}},
		{"no ia32", Target{Kernel: kernel, NoIA32: true}, []string{"__x64_sys_openat/syscall_tracepoint"}},
		{"no per-syscall tracepoints", Target{Kernel: kernelWith(probe.TPBTF)}, []string{"__x64_sys_openat/raw_syscall_tracepoint", "__ia32_sys_openat/raw_syscall_tracepoint"}},
	} {
		c, err := Compile(ps[0], tc.target)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, h := range c.Hooks {
			got = append(got, h.Function+"/"+h.Backend)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: hooks %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestArgsPositions: matchArgs' args names arguments by their position in
// args (Tetragon's semantics): one position for most operators, the old
// and the new capability set for CapabilitiesGained.
func TestArgsPositions(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: positions}
spec:
  kprobes:
  - call: security_capset
    syscall: false
    args:
    - {index: 1, type: cap_effective, resolve: cap_effective}
    - {index: 2, type: cap_effective}
    selectors:
    - matchArgs:
      - {args: [0, 1], operator: CapabilitiesGained}
  - call: sys_openat
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {args: [1], operator: Prefix, values: [/etc/]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.TPBTF), NoIA32: true})
	if err != nil {
		t.Fatal(err)
	}
	caps := c.Program.Funcs[0].Config.Conds[0]
	if caps.Op != tracing.CondCapsGained || caps.Subject != 0 || caps.V1 != 1 {
		t.Errorf("CapabilitiesGained compiled to %+v, want CondCapsGained on slot 0 against slot 1", caps)
	}
	open := c.Program.Funcs[1].Config.Conds[0]
	if open.Op != tracing.CondPrefix || open.Subject != 1 {
		t.Errorf("args: [1] Prefix compiled to %+v, want CondPrefix on slot 1", open)
	}
}

// TestReturnActionsRefusals: matchReturnActions that cannot do what
// Tetragon does are refused with their path.
func TestReturnActionsRefusals(t *testing.T) {
	for _, tc := range []struct{ name, sel, want string }{
		{"override", `matchReturnActions: [{action: Override, argError: -1}]`,
			"spec.kprobes[0].selectors[0].matchReturnActions[0].action: Override: matchReturnActions run after the call returned"},
		{"after NoPost", `{matchActions: [{action: NoPost}], matchReturnActions: [{action: Sigkill}]}`,
			"spec.kprobes[0].selectors[0].matchReturnActions: matchReturnActions after a matchActions NoPost"},
	} {
		sel := tc.sel
		if sel[0] != '{' {
			sel = "{" + sel + "}"
		}
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ret}
spec:
  kprobes:
  - call: sys_openat
    return: true
    returnArg: {index: 0, type: int}
    selectors: [`+sel+`]
`), "t.yaml")
		if err == nil {
			_, err = Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF, probe.SendSignal)})
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestOverrideOnAReturnHook: a return hook's matchActions run at the
// entry, so Override there runs on fmod_ret before fexit, or on a kprobe
// with bpf_override_return before kretprobe; a syscall's return hook,
// which would otherwise run on the raw syscall tracepoint, moves there
// too, and is refused where the kernel has neither.
func TestOverrideOnAReturnHook(t *testing.T) {
	doc := func(call string) policy.Policy {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ret-override}
spec:
  kprobes:
  - call: `+call+`
    return: true
    returnArg: {index: 0, type: int}
    selectors:
    - matchActions: [{action: Override, argError: -13}]
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	for _, tc := range []struct {
		name, call string
		kernel     probe.Report
		want       string // the return program's attach type, "" when refused
	}{
		{"fmod_ret", "security_file_open", kernelWith(probe.Fentry, probe.Fexit, probe.FmodRet, probe.SendSignal), tracing.AttachFexit},
		{"kprobe override", "security_file_open", kernelWith(probe.Kprobe, probe.Kretprobe, probe.OverrideReturn), tracing.AttachKretprobe},
		{"syscall, kprobe override", "sys_openat", kernelWith(probe.Kprobe, probe.Kretprobe, probe.OverrideReturn, probe.TPBTF), tracing.AttachKretprobe},
		{"syscall, raw tracepoint only", "sys_openat", kernelWith(probe.TPBTF, probe.SyscallTracepoint), ""},
	} {
		c, err := Compile(doc(tc.call), Target{Kernel: tc.kernel, NoIA32: true})
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "Override needs fmod_ret or bpf_override_return") {
				t.Errorf("%s: %v, want Override refused", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if fh := c.Program.Funcs[0]; fh.Attach != tc.want || !fh.Override {
			t.Errorf("%s: %s with Override %v, want %s with Override", tc.name, fh.Attach, fh.Override, tc.want)
		}
	}
}
