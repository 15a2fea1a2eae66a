package compile

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/syscalls"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Compiled is a policy turned into map entries for the generic hook, with
// what user space needs to render its events.
type Compiled struct {
	Name    string
	Program tracing.Program
	Hooks   []*Hook // one per Program.Hooks entry
	// Skipped says which calls ignore.callNotFound skipped, and where.
	Skipped []string
	// Caveats say where a hook is served by a fallback, and how that
	// differs from the hook the policy names.
	Caveats []string
	Scope   *Scope // nil: the policy applies to every process
	// Workloads are the scopes of the selectors' matchWorkloads, each to
	// get an id in the kernel's scope maps (PointWorkloads).
	Workloads []*Scope
}

// Scope is what a scoped policy applies to: pods (by namespace, pod labels
// and container names) and host processes. Its hooks check it in the
// kernel.
type Scope struct {
	Namespace  string                // a TracingPolicyNamespaced's namespace
	Pods       *policy.LabelSelector // nil: no pod
	Containers *policy.LabelSelector // nil: every container of a pod in scope
	Host       bool                  // processes outside pods
}

// UnsupportedError says which part of a valid policy Vigil cannot run,
// and why: this kernel lacks what it needs (KernelLacks), or Vigil does not
// implement it yet.
type UnsupportedError struct {
	Path        string
	Reason      string
	KernelLacks bool
}

func (e *UnsupportedError) Error() string { return e.Path + ": " + e.Reason }

func unsupported(path, format string, args ...any) error {
	return &UnsupportedError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

func kernelLacks(path, format string, args ...any) error {
	return &UnsupportedError{Path: path, Reason: fmt.Sprintf(format, args...), KernelLacks: true}
}

// Target is what a policy is compiled for.
type Target struct {
	Kernel probe.Report
	// SyscallBackend forces the backend of syscall hooks: BackendAuto (the
	// default: kprobe, fentry, then the syscall's own tracepoint or the raw
	// syscall tracepoint, the first the kernel has), "kprobe", "fentry",
	// BackendSyscallTracepoint or BackendRawSyscall.
	SyscallBackend string
	// NoIA32 leaves ia32 syscalls (32-bit processes, int 0x80) unhooked:
	// the kernel runs no ia32 code, or the operator said so.
	NoIA32 bool
	// Pods says whether the agent knows this node's pods (the Kubernetes
	// API is enabled); without it, a policy that selects pods is refused.
	Pods bool
	// Nodes says whether the agent learns its node's labels from the
	// Kubernetes API; without it, a policy with spec.nodeSelector is
	// refused.
	Nodes bool
	// Functions lists the kernel functions hooks can attach to that keep
	// selects; nil reads this machine's (tracefs, else /proc/kallsyms)
	// on every call, so a module loaded since is seen.
	Functions func(keep func(string) bool) ([]string, error)
}

// KernelRunsNoIA32 says whether the probe found that the kernel runs no
// ia32 code (Target.NoIA32): a report without the check counts as running
// it.
func KernelRunsNoIA32(kernel probe.Report) bool {
	res, ok := kernel.Result(probe.IA32)
	return ok && !res.Available
}

// SyscallTracepoints says whether the hooks that the raw syscall
// tracepoint would serve are served by each syscall's own tracepoints
// (tracing.Config.SyscallTracepoints): the kernel has them, and the
// backend is not forced to the raw syscall tracepoint.
func (t Target) SyscallTracepoints() bool {
	b := t.SyscallBackend
	return t.Kernel.Has(probe.SyscallTracepoint) && (b == "" || b == BackendAuto || b == BackendSyscallTracepoint)
}

// Compile turns a validated policy into a program for the generic hook,
// choosing each hook's backend from what the kernel offers.
func Compile(p policy.Policy, t Target) (*Compiled, error) {
	spec := p.GetSpec()
	c := &compiler{spec: spec, kernel: t.Kernel, target: t, out: &Compiled{Name: QualifiedName(p)}, workloads: map[string]int{}}
	if r := policy.Refusals(spec); len(r) > 0 {
		return nil, c.refusal(r[0])
	}
	for i := range spec.KProbes {
		if err := c.kprobe(fmt.Sprintf("spec.kprobes[%d]", i), &spec.KProbes[i]); err != nil {
			return nil, err
		}
	}
	for i := range spec.Fentries {
		if err := c.fentry(fmt.Sprintf("spec.fentries[%d]", i), &spec.Fentries[i]); err != nil {
			return nil, err
		}
	}
	for i := range spec.Tracepoints {
		if err := c.tracepoint(fmt.Sprintf("spec.tracepoints[%d]", i), &spec.Tracepoints[i]); err != nil {
			return nil, err
		}
	}
	for i := range spec.UProbes {
		if err := c.uprobe(fmt.Sprintf("spec.uprobes[%d]", i), &spec.UProbes[i]); err != nil {
			return nil, err
		}
	}
	for i := range spec.Usdts {
		if err := c.usdt(fmt.Sprintf("spec.usdts[%d]", i), &spec.Usdts[i]); err != nil {
			return nil, err
		}
	}
	for i := range spec.LsmHooks {
		if err := c.lsmHook(fmt.Sprintf("spec.lsmhooks[%d]", i), &spec.LsmHooks[i]); err != nil {
			return nil, err
		}
	}
	if spec.Loader {
		if err := c.loader(); err != nil {
			return nil, err
		}
	}
	c.out.Hooks = append(c.out.Hooks, c.funcMetas...) // the order of hook ids
	if len(c.out.Hooks) == 0 {
		return nil, unsupported("spec", "the policy has no hook Vigil can attach")
	}
	if p.GetSpec().NodeSelector != nil && !t.Nodes {
		return nil, unsupported("spec.nodeSelector", "selecting nodes needs the node's labels from the Kubernetes API (vigil agent --enable-k8s-api --node-name NAME)")
	}
	if err := c.scope(p); err != nil {
		return nil, err
	}
	return c.out, nil
}

// refusal is the error of a field the table refuses: the enforcers name
// the feature a kernel without them lacks, as it is the first obstacle.
func (c *compiler) refusal(r policy.Refusal) error {
	enforcer := strings.HasPrefix(r.Path, "spec.enforcers") || len(c.spec.Enforcers) > 0 && strings.HasPrefix(r.Reason, "NotifyEnforcer")
	if enforcer && !c.kernel.Has(probe.OverrideReturn) && !c.kernel.Has(probe.FmodRetSyscall) {
		return kernelLacks(r.Path, "enforcers make syscalls return early, which needs bpf_override_return or fmod_ret on syscalls: %v; %v",
			c.kernel.Missing(probe.OverrideReturn), c.kernel.Missing(probe.FmodRetSyscall))
	}
	return unsupported(r.Path, "%s", r.Reason)
}

// QualifiedName is the name a policy goes by in the agent and its events:
// its name, prefixed with "namespace/" for a TracingPolicyNamespaced (two
// namespaces may hold policies of the same name).
func QualifiedName(p policy.Policy) string {
	if _, ok := p.(*policy.TracingPolicyNamespaced); ok {
		return p.GetNamespace() + "/" + p.GetName()
	}
	return p.GetName()
}

// scope describes a scoped policy's scope and makes its hooks check it. A
// policy that names pods, containers or the host applies to those only;
// a TracingPolicyNamespaced to the pods of its namespace.
func (c *compiler) scope(p policy.Policy) error {
	s := c.spec
	at, ns := "spec.podSelector", ""
	if s.ContainerSelector != nil && s.PodSelector == nil {
		at = "spec.containerSelector"
	}
	if _, ok := p.(*policy.TracingPolicyNamespaced); ok {
		ns, at = p.GetNamespace(), "metadata.namespace"
	}
	sc, err := c.newScope(at, s.PodSelector, s.ContainerSelector, s.HostSelector, ns)
	if sc == nil || err != nil {
		return err
	}
	c.out.Scope = sc
	for i := range c.out.Program.Hooks {
		c.out.Program.Hooks[i].Config.Scoped = 1
	}
	for i := range c.out.Program.Funcs {
		c.out.Program.Funcs[i].Config.Scoped = 1
	}
	return nil
}

// newScope is the scope of pod, container and host selectors within a
// namespace ("" for every one), as Tetragon reads them: containers alone
// are those containers in every pod. It is nil when nothing is selected;
// at is the YAML path of a refusal.
func (c *compiler) newScope(at string, pods, containers, host *policy.LabelSelector, ns string) (*Scope, error) {
	sc := &Scope{Pods: pods, Containers: containers, Host: host != nil, Namespace: ns}
	if sc.Pods == nil && (ns != "" || containers != nil) {
		sc.Pods = &policy.LabelSelector{}
	}
	if sc.Pods == nil && !sc.Host {
		return nil, nil
	}
	if sc.Pods != nil && !c.target.Pods {
		return nil, unsupported(at, "selecting pods needs the node's pods from the Kubernetes API (vigil agent --enable-k8s-api)")
	}
	return sc, nil
}

type compiler struct {
	spec    *policy.TracingPolicySpec
	kernel  probe.Report
	target  Target
	out     *Compiled
	nextSet uint32
	// data0 and nData: the first slot and the count of the data entries
	// of the hook being compiled (matchData)
	data0 uint8
	nData int
	// workloads: the index in out.Workloads of each matchWorkloads, by
	// YAML path (the hooks of one kprobes entry share one)
	workloads map[string]int
	// bulk: the kprobes entry being compiled hooks many syscalls (see
	// bulkSyscalls)
	bulk bool
	// funcMetas are the metadata of out.Program.Funcs, which follow those
	// of out.Program.Hooks in out.Hooks (as hook ids do) once compiled
	funcMetas []*Hook
}

// bulkSyscalls is how many syscalls one kprobes entry hooks before the
// automatic backend puts them on the raw syscall tracepoint, one program
// for all, rather than a kprobe or fentry program each (a
// generated_syscalls list would load some 350).
const bulkSyscalls = 32

// needs reports what is missing for what: the kernel features, when it has
// none of them, or else Vigil's backend.
func (c *compiler) needs(path, what string, features ...probe.Feature) error {
	var lacks []string
	for _, f := range features {
		if c.kernel.Has(f) {
			return unsupported(path, "%s: this kernel has %s, but Vigil's backend for it is not implemented yet", what, f)
		}
		lacks = append(lacks, c.kernel.Missing(f).Error())
	}
	return kernelLacks(path, "%s: %s", what, strings.Join(lacks, "; "))
}

// kprobe compiles a kprobes (or fentries) entry: one hook per call, or per
// call of the list it names.
func (c *compiler) kprobe(path string, k *policy.KProbeSpec) error {
	calls, err := c.callsOf(path, k)
	if err != nil {
		return err
	}
	c.bulk = len(calls) > bulkSyscalls
	defer func() { c.bulk = false }()
	for _, call := range calls {
		if err := c.call(path, call, k); err != nil {
			return err
		}
	}
	return nil
}

// callsOf lists the calls of a kprobes entry that this kernel has: its
// call, or the values of the list it names ("list:NAME"), without those
// ignore.callNotFound lets it skip (noted in Compiled.Skipped).
func (c *compiler) callsOf(path string, k *policy.KProbeSpec) ([]string, error) {
	calls := []string{k.Call}
	if name, ok := strings.CutPrefix(k.Call, "list:"); ok {
		l := c.list(name)
		if l == nil {
			return nil, unsupported(path+".call", "list %q is not defined in spec.lists", name)
		}
		var err error
		if calls, err = c.listValues(l); err != nil {
			return nil, kernelLacks(path+".call", "list %q: %v", name, err)
		}
	}
	return c.present(path, k, calls)
}

// present keeps the calls this kernel has. A kernel function it lacks is
// skipped with ignore.callNotFound (noted in Compiled.Skipped) and refused
// without, naming it; so is, with ignore.callNotFound, a syscall name
// the architecture lacks (without, compiling it says so).
func (c *compiler) present(path string, k *policy.KProbeSpec, calls []string) ([]string, error) {
	ignore := k.Ignore != nil && k.Ignore.CallNotFound
	functions := map[string]bool{}
	for _, call := range calls {
		_, err := syscalls.Number(call)
		switch {
		case err == nil && c.spec.HooksSyscalls(k):
		case k.Syscall != nil && *k.Syscall && !ignore:
		default:
			functions[call] = true
		}
	}
	if len(functions) == 0 {
		return calls, nil
	}
	have, err := c.functions(func(name string) bool { return functions[name] })
	if err != nil {
		return nil, kernelLacks(path+".call", "%v", err)
	}
	found := make(map[string]bool, len(have))
	for _, f := range have {
		found[f] = true
	}
	var out []string
	for _, call := range calls {
		switch {
		case !functions[call] || found[call]:
			out = append(out, call)
		case ignore:
			c.out.Skipped = append(c.out.Skipped, fmt.Sprintf("%s.call: %s is not in this kernel (ignore.callNotFound)", path, call))
		default:
			return nil, kernelLacks(path+".call", "%s is not in this kernel (ignore.callNotFound: true would skip it)", call)
		}
	}
	return out, nil
}

// listValues is what list l holds on this kernel: its values, or
// generated, every syscall of the architecture (generated_syscalls, those
// of the kernel's functions where it lists them) or the kernel functions
// its pattern matches (generated_ftrace). A list that comes out empty is
// an error.
func (c *compiler) listValues(l *policy.ListSpec) ([]string, error) {
	var out []string
	var err error
	switch l.Type {
	case "generated_syscalls":
		out = syscalls.Names()
		if have, ferr := c.functions(func(n string) bool { return strings.HasPrefix(n, "__x64_sys_") }); ferr == nil {
			out = slices.DeleteFunc(out, func(n string) bool { return !slices.Contains(have, syscalls.Symbol(n)) })
		}
	case "generated_ftrace":
		re, rerr := regexp.Compile(*l.Pattern)
		if rerr != nil {
			return nil, rerr
		}
		out, err = c.functions(re.MatchString)
	default:
		out = l.Values
	}
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("the %s list expands to nothing on this kernel", l.Type)
	}
	return out, err
}

// call compiles one hooked call: a syscall (syscall unset or true, and the
// name is a syscall's) or a kernel function.
func (c *compiler) call(path, call string, k *policy.KProbeSpec) error {
	nr, err := syscalls.Number(call)
	switch {
	case err == nil && c.spec.HooksSyscalls(k):
		return c.syscall(path, call, nr, k)
	case k.Syscall != nil && *k.Syscall:
		return unsupported(path+".call", "%v", err)
	}
	if fb := fallbackFor(call); fb != nil && !c.hasFunctionHooks() {
		return fb(c, path, call, k, false)
	}
	b, err := c.functionBackend(path+".call", "kernel function hook "+call)
	if err == nil && atReturn(k) {
		b, err = c.returnBackend(path+".return", b)
	}
	if err != nil {
		return err
	}
	return c.funcHook(path, tracing.FuncHook{Attach: b, Symbol: call}, call, k)
}

// atReturn says whether k's hooks run at return: return probes, and
// hooks reading a buffer the call fills (returnCopy).
func atReturn(k *policy.KProbeSpec) bool {
	return k.Return || slices.ContainsFunc(k.Args, func(a policy.KProbeArg) bool { return a.ReturnCopy })
}

// returnBackend is the return-hook form of an entry backend.
func (c *compiler) returnBackend(path, entry string) (string, error) {
	b, f := tracing.AttachKretprobe, probe.Kretprobe
	if entry == tracing.AttachFentry {
		b, f = tracing.AttachFexit, probe.Fexit
	}
	if err := c.kernel.Missing(f); err != nil {
		return "", kernelLacks(path, "return hooks on kernel functions: %v", err)
	}
	return b, nil
}

// syscall picks a syscall's backend: kprobe, then fentry, on the syscall's
// wrapper, then the raw syscall tracepoint, unless told otherwise. Return
// hooks use the raw syscall exit, where the arguments are still at hand.
func (c *compiler) syscall(path, call string, nr uint32, k *policy.KProbeSpec) error {
	b := c.target.SyscallBackend
	if b == BackendSyscallTracepoint {
		b = BackendRawSyscall // the same hook lists, run by other programs
	}
	if b == "" || b == BackendAuto {
		b = c.bestSyscallBackend()
		if c.bulk {
			b = BackendRawSyscall
		}
	}
	if atReturn(k) {
		b = BackendRawSyscall
	}
	if b == BackendRawSyscall && c.wantsOverride(k) {
		// the raw syscall tracepoint cannot change a return value:
		// funcHook picks the Override backend (and its return's)
		b = tracing.AttachKprobe
	} else if b != BackendRawSyscall {
		if err := c.kernel.Missing(backendFeature[b]); err != nil {
			return kernelLacks(path+".call", "syscall backend %s: %v", b, err)
		}
	}
	if b != BackendRawSyscall {
		if err := c.funcHook(path, tracing.FuncHook{Attach: b, Symbol: syscalls.Symbol(call), Syscall: true}, syscalls.Symbol(call), k); err != nil {
			return err
		}
		return c.compatOnRawSyscalls(path, call, k)
	}
	if err := c.kernel.Missing(probe.TPBTF); err != nil {
		return kernelLacks(path+".call", "syscall hooks need the raw syscall tracepoint: %v", err)
	}
	hook, meta, err := c.hook(path, syscalls.Symbol(call), k, false)
	if err != nil {
		return err
	}
	meta.Backend = BackendRawSyscall
	if c.target.SyscallTracepoints() {
		meta.Backend = BackendSyscallTracepoint
	}
	c.syscallHook(call, tracing.SyscallHook{Syscall: nr, Config: *hook}, meta)
	return nil
}

// compatOnRawSyscalls serves, beside a syscall hook on a kernel function
// (kprobe, fentry), the ia32 syscall of the same name on the raw syscall
// tracepoint, whose ia32 entry points vary by kernel (__ia32_sys_,
// __ia32_compat_sys_). The raw tracepoint cannot deny: a policy with
// Override says so in its caveats.
func (c *compiler) compatOnRawSyscalls(path, call string, k *policy.KProbeSpec) error {
	nr, ok := syscalls.Compat(call)
	if !ok || c.target.NoIA32 || c.kernel.Missing(probe.TPBTF) != nil || atReturn(k) {
		return nil
	}
	hook, meta, err := c.hook(path, syscalls.Symbol(call), k, false)
	if err != nil {
		return err
	}
	if c.wantsOverride(k) {
		for i := range hook.Actions {
			hook.Actions[i].Override = 0
		}
		c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: a 32-bit process's %s is seen on the raw syscall tracepoint, where Override cannot deny it (its other actions run)", path, call))
	}
	renamed := *meta
	renamed.Function, renamed.Backend = syscalls.CompatSymbol(call), BackendRawSyscall
	c.out.Program.Hooks = append(c.out.Program.Hooks, tracing.SyscallHook{Syscall: nr, Config: *hook})
	c.out.Hooks = append(c.out.Hooks, &renamed)
	return nil
}

// syscallHook adds hk, on x86_64 syscall name, and its copy on the ia32
// syscall that serves the same call, where there is one, as Tetragon
// hooks the ia32 entry points beside the 64-bit ones: a 32-bit process
// does not slip past a syscall policy. Events of a syscall hook's copy
// name the ia32 function; a fallback's keep the hook they serve.
func (c *compiler) syscallHook(name string, hk tracing.SyscallHook, meta *Hook) {
	c.out.Program.Hooks = append(c.out.Program.Hooks, hk)
	c.out.Hooks = append(c.out.Hooks, meta)
	nr, ok := syscalls.Compat(name)
	if !ok || c.target.NoIA32 {
		return
	}
	compat := meta
	if meta.Function == syscalls.Symbol(name) {
		renamed := *meta
		renamed.Function = syscalls.CompatSymbol(name)
		renamed.Backend = BackendRawSyscall // per-syscall tracepoints skip ia32 calls
		compat = &renamed
	}
	hk.Syscall = nr
	c.out.Program.Hooks = append(c.out.Program.Hooks, hk)
	c.out.Hooks = append(c.out.Hooks, compat)
}

// fentry compiles a fentries entry: like kprobes, on the fentry backend.
func (c *compiler) fentry(path string, k *policy.KProbeSpec) error {
	if err := c.kernel.Missing(probe.Fentry); err != nil {
		return kernelLacks(path, "fentry hooks: %v", err)
	}
	attach := tracing.AttachFentry
	if atReturn(k) {
		b, err := c.returnBackend(path+".return", attach)
		if err != nil {
			return err
		}
		attach = b
	}
	calls, err := c.callsOf(path, k)
	if err != nil {
		return err
	}
	for _, call := range calls {
		_, err := syscalls.Number(call)
		syscall := err == nil && c.spec.HooksSyscalls(k)
		sym := call
		if syscall {
			sym = syscalls.Symbol(call)
		}
		if err := c.funcHook(path, tracing.FuncHook{Attach: attach, Symbol: sym, Syscall: syscall}, sym, k); err != nil {
			return err
		}
	}
	return nil
}

// lsmHook compiles an lsmhooks entry: a BPF LSM program, which can deny,
// or where the kernel lacks BPF LSM, an observe-only hook on the
// security_ function.
func (c *compiler) lsmHook(path string, h *policy.LsmHookSpec) error {
	k := &policy.KProbeSpec{Call: h.Hook, Args: h.Args, Selectors: h.Selectors, Tags: h.Tags, Message: h.Message}
	fh := tracing.FuncHook{Attach: tracing.AttachLSM, Symbol: h.Hook}
	if at := imaHashAt(path, h); at != "" {
		ima, err := c.imaProgram(at, h.Hook)
		if err != nil {
			return err
		}
		fh.IMA = ima
	}
	if fb := fallbackFor(h.Hook); fb != nil && !c.kernel.Has(probe.LSM) && !c.hasFunctionHooks() {
		return fb(c, path, h.Hook, k, true)
	}
	if !c.kernel.Has(probe.LSM) {
		b, err := c.functionBackend(path+".hook", "LSM hook "+h.Hook+" (without BPF LSM: observed on security_"+h.Hook+")")
		if err != nil {
			return err
		}
		fh = tracing.FuncHook{Attach: b, Symbol: "security_" + h.Hook}
	}
	if err := c.funcHook(path, fh, h.Hook, k); err != nil {
		return err
	}
	c.funcMetas[len(c.funcMetas)-1].LSM = true
	return nil
}

// backendFeature is the kernel feature each per-hook backend needs.
var backendFeature = map[string]probe.Feature{
	tracing.AttachKprobe: probe.Kprobe, tracing.AttachFentry: probe.Fentry, tracing.AttachLSM: probe.LSM,
}

func (c *compiler) bestSyscallBackend() string {
	for _, b := range []string{tracing.AttachKprobe, tracing.AttachFentry} {
		if c.kernel.Has(backendFeature[b]) {
			return b
		}
	}
	return BackendRawSyscall
}

// functionBackend picks kprobe, else fentry, for a kernel function.
func (c *compiler) functionBackend(path, what string) (string, error) {
	for _, b := range []string{tracing.AttachKprobe, tracing.AttachFentry} {
		if c.kernel.Has(backendFeature[b]) {
			return b, nil
		}
	}
	return "", c.needs(path, what, probe.Kprobe, probe.Fentry)
}

// funcHook compiles a hook that has a program of its own. A hook that
// may Override runs where the return value can be changed: BPF LSM for
// lsmhooks, else fmod_ret, else a kprobe with bpf_override_return.
func (c *compiler) funcHook(path string, fh tracing.FuncHook, function string, k *policy.KProbeSpec) error {
	hook, meta, err := c.hook(path, function, k, !fh.Syscall)
	if err != nil {
		return err
	}
	if i := overrideAt(meta); i >= 0 && fh.Attach != tracing.AttachLSM {
		ap := fmt.Sprintf("%s.selectors[%d].matchActions", path, i)
		b, err := c.overrideBackend(ap, fh.Syscall)
		if err != nil {
			return err
		}
		if hook.AtExit != 0 {
			b, err = c.returnWithOverride(ap, b)
			if err != nil {
				return err
			}
			fh.Override = true
		}
		fh.Attach = b
	}
	if err := argsFilled(path, fh, k); err != nil {
		return err
	}
	fh.Config = *hook
	meta.Backend = fh.Attach
	c.out.Program.Funcs = append(c.out.Program.Funcs, fh)
	c.funcMetas = append(c.funcMetas, meta)
	return nil
}

// argsFilled checks k's argument indexes against the arguments fh's
// backend reads: a kprobe (or uprobe) on a function reads the first five
// registers, the other backends six arguments (validation's bound).
func argsFilled(path string, fh tracing.FuncHook, k *policy.KProbeSpec) error {
	probe := fh.Attach == tracing.AttachKprobe || fh.Attach == tracing.AttachKretprobe ||
		fh.Attach == tracing.AttachKprobeOverride || fh.Attach == tracing.AttachUprobe || fh.Attach == tracing.AttachUretprobe
	if !probe || fh.Syscall {
		return nil
	}
	const n = 5
	for i, a := range k.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, i)
		if a.Index >= n {
			return unsupported(ap+".index", "%d is out of range: a %s hook reads the first %d arguments of a function (indexes 0-%d)", a.Index, fh.Attach, n, n-1)
		}
		if a.SizeArgIndex > n {
			return unsupported(ap+".sizeArgIndex", "%d is out of range: a %s hook reads the first %d arguments of a function (sizeArgIndex counts from 1)", a.SizeArgIndex, fh.Attach, n)
		}
	}
	return nil
}

// overrideAt is the first selector whose actions Override, or -1.
func overrideAt(meta *Hook) int {
	return slices.Index(meta.Actions, event.ActionOverride)
}

// wantsOverride says whether a selector of k, or a macro it names,
// Overrides.
func (c *compiler) wantsOverride(k *policy.KProbeSpec) bool {
	for i := range k.Selectors {
		sel, err := c.withMacros("", &k.Selectors[i])
		if err != nil {
			return false
		}
		for _, a := range sel.MatchActions {
			if a.Action == "Override" {
				return true
			}
		}
	}
	return false
}

// overrideAllowed rejects Override on a backend that cannot deny.
func (c *compiler) overrideAllowed(path, backend string, meta *Hook) error {
	if i := overrideAt(meta); i >= 0 && backend != tracing.AttachLSM {
		return unsupported(fmt.Sprintf("%s.selectors[%d].matchActions", path, i), "Override cannot act on a %s hook", backend)
	}
	return nil
}

// hook compiles a hook's arguments and selectors; kernelMem says its
// pointer arguments point to kernel memory (a kernel function's).
func (c *compiler) hook(path, call string, k *policy.KProbeSpec, kernelMem bool) (*tracing.HookConfig, *Hook, error) {
	cfg := &tracing.HookConfig{}
	if kernelMem {
		cfg.KernelMem = 1<<tracing.MaxArgs - 1
	}
	meta := c.meta(call, k.Message, k.Tags)
	slots, err := c.args(path, call, k, cfg, meta)
	if err != nil {
		return nil, nil, err
	}
	if err := c.data(path, k, cfg, meta); err != nil {
		return nil, nil, err
	}
	if err := c.returnArg(path, k, cfg, meta); err != nil {
		return nil, nil, err
	}
	return cfg, meta, c.selectors(path, k.Selectors, slots, cfg, meta)
}

func (c *compiler) meta(function, message string, tags []string) *Hook {
	return &Hook{Policy: c.out.Name, Function: function, Message: message, Tags: tags}
}

// selectors compiles a hook's selectors; slots maps the index that
// matchArgs names to the argument slot.
func (c *compiler) selectors(path string, sels []policy.KProbeSelector, slots map[uint32]uint8, cfg *tracing.HookConfig, meta *Hook) error {
	if len(sels) > tracing.MaxSelectors {
		return unsupported(path+".selectors", "%d selectors, the generic hook runs at most %d", len(sels), tracing.MaxSelectors)
	}
	cfg.NSelectors = uint8(len(sels))
	meta.Actions = make([]string, len(sels))
	meta.Labels = make([]string, len(sels))
	for i := range sels {
		sp := fmt.Sprintf("%s.selectors[%d]", path, i)
		if err := c.selector(sp, uint8(i), &sels[i], slots, cfg, meta); err != nil {
			return err
		}
	}
	return nil
}

// returnArg makes a return hook run at syscall exit, where the return
// value is known to selectors and events.
func (c *compiler) returnArg(path string, k *policy.KProbeSpec, cfg *tracing.HookConfig, meta *Hook) error {
	if !k.Return {
		return nil
	}
	cfg.AtExit = 1
	meta.Return = &HookArg{Type: tracing.ArgS64}
	if k.ReturnArg == nil {
		return nil
	}
	switch k.ReturnArg.Type {
	case "int", "int32":
		meta.Return.Type = tracing.ArgInt
		cfg.AtExit = tracing.AtExitInt
	case "int64", "long", "":
	default:
		if err := returnObject(path, k, cfg, meta); err != nil {
			return err
		}
	}
	meta.Return.Label = k.ReturnArg.Label
	return returnSockAction(path, k, cfg)
}

// returnObject reads the object a kernel function returns (a sock, a
// file, ...) at the return, into the last argument slot.
func returnObject(path string, k *policy.KProbeSpec, cfg *tracing.HookConfig, meta *Hook) error {
	p := path + ".returnArg.type"
	t, ok := funcArgTypes[k.ReturnArg.Type]
	if cfg.KernelMem == 0 || !ok || t == tracing.ArgCharBuf || funcArgObjs[k.ReturnArg.Type] == tracing.ObjCaps {
		return unsupported(p, "a syscall's return value is an integer, and an object returned can be read only from a kernel function, of type %s: type %q cannot describe one", retObjectTypes, k.ReturnArg.Type)
	}
	const slot = tracing.MaxArgs - 1
	if len(k.Args)+len(k.Data) > slot {
		return unsupported(p, "the generic hook reads %d values: %d arguments and data entries leave none for the object returned", tracing.MaxArgs, len(k.Args)+len(k.Data))
	}
	if s := slices.IndexFunc(k.Selectors, func(s policy.KProbeSelector) bool { return len(s.MatchReturnArgs) > 0 }); s >= 0 {
		return unsupported(fmt.Sprintf("%s.selectors[%d].matchReturnArgs", path, s), "matchReturnArgs on a returned %s is not implemented yet", k.ReturnArg.Type)
	}
	cfg.ArgType[slot], cfg.ArgIndex[slot], cfg.ArgObj[slot] = uint8(t), tracing.RawRet, funcArgObjs[k.ReturnArg.Type]
	cfg.RetCopy |= 1 << slot
	cfg.NArgs = tracing.MaxArgs
	meta.RetCopy |= 1 << slot
	meta.Return.Type, meta.RetObj = t, true
	return nil
}

// retObjectTypes are the types returnObject reads.
const retObjectTypes = "file, path, dentry, kiocb, linux_binprm, sock, socket, skb, net_device, cred, user_namespace, bpf_attr, bpf_prog, bpf_map or perf_event"

// returnSockAction compiles returnArgAction: TrackSock or UntrackSock on
// the socket a kernel function returns, at its return, once the entry's
// selectors matched (their actions may say NoPost), as Tetragon does.
func returnSockAction(path string, k *policy.KProbeSpec, cfg *tracing.HookConfig) error {
	acts := map[string]uint8{"TrackSock": tracing.SockTrack, "UntrackSock": tracing.SockUntrack}
	act, ok := acts[k.ReturnArgAction]
	if !ok {
		return nil // Post, or none: the event
	}
	if k.ReturnArg.Type != "sock" || cfg.KernelMem == 0 {
		return unsupported(path+".returnArgAction", "%s needs a kernel function that returns a struct sock (returnArg type sock)", k.ReturnArgAction)
	}
	cfg.RetSockAct = act
	return nil
}

// syscallArgTypes maps policy argument types to the generic hook's, for syscall
// arguments (registers: integers and user-memory pointers).
var syscallArgTypes = map[string]int{
	"int": tracing.ArgInt, "int32": tracing.ArgInt, "sint32": tracing.ArgInt,
	"int8": tracing.ArgS8, "sint8": tracing.ArgS8, "uint8": tracing.ArgU8,
	"int16": tracing.ArgS16, "sint16": tracing.ArgS16, "uint16": tracing.ArgU16,
	"uint32": tracing.ArgUint,
	"int64":  tracing.ArgS64, "sint64": tracing.ArgS64, "long": tracing.ArgS64,
	"uint64": tracing.ArgU64, "size_t": tracing.ArgU64,
	"string": tracing.ArgString, "filename": tracing.ArgString,
	"fd":       tracing.ArgFd,
	"sockaddr": tracing.ArgSockaddr, "sockaddr_un": tracing.ArgSockaddrUn,
	"char_buf": tracing.ArgCharBuf, "char_iovec": tracing.ArgCharIovec,
	"syscall64": tracing.ArgS64, "capability": tracing.ArgInt,
	"nop": tracing.ArgNone, // a placeholder: not read, not in events
}

// shownAs are the integer types events show in a form of their own.
var shownAs = map[string]string{"syscall64": "syscall64", "capability": "capability"}

// funcArgTypes are the types only a kernel function's arguments can have:
// kernel objects, resolved in the kernel.
var funcArgTypes = map[string]int{
	"file": tracing.ArgFile, "path": tracing.ArgPath, "linux_binprm": tracing.ArgBprm, "sock": tracing.ArgSock,
	"cred": tracing.ArgCred, "skb": tracing.ArgSkb,
	"user_namespace": tracing.ArgUserNs, "bpf_attr": tracing.ArgBpfAttr, "bpf_prog": tracing.ArgBpfProg,
	"bpf_map": tracing.ArgBpfMap, "perf_event": tracing.ArgPerfEvent,
	"module": tracing.ArgModule, "load_info": tracing.ArgLoadInfo,
	// pointers to an object another type reads (funcArgObjs)
	"socket": tracing.ArgSock, "kiocb": tracing.ArgFile, "net_device": tracing.ArgString,
	"dentry": tracing.ArgPath, "kernel_cap_t": tracing.ArgU64, "cap_effective": tracing.ArgU64,
	"cap_permitted": tracing.ArgU64, "cap_inheritable": tracing.ArgU64, "iov_iter": tracing.ArgCharBuf,
}

// funcArgObjs are the types of funcArgTypes whose argument points to
// something else than the object their type reads: the kernel goes from
// it to that object first (tracing.Obj*).
var funcArgObjs = map[string]uint8{
	"socket": tracing.ObjSocket, "kiocb": tracing.ObjKiocb, "net_device": tracing.ObjNetDevice,
	"dentry": tracing.ObjDentry, "kernel_cap_t": tracing.ObjCaps, "cap_effective": tracing.ObjCaps,
	"cap_permitted": tracing.ObjCaps, "cap_inheritable": tracing.ObjCaps, "iov_iter": tracing.ObjIovIter,
}

// args fills the argument slots; it returns the slot of each arg index.
func (c *compiler) args(path, function string, k *policy.KProbeSpec, cfg *tracing.HookConfig, meta *Hook) (map[uint32]uint8, error) {
	slots := map[uint32]uint8{}
	for i, a := range k.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, i)
		t, ok := syscallArgTypes[a.Type]
		if ft, isFunc := funcArgTypes[a.Type]; isFunc && cfg.KernelMem != 0 {
			t, ok = ft, true
		}
		if !ok && cfg.KernelMem != 0 {
			return nil, unsupported(ap+".type", "type %q cannot be read from a kernel function's argument yet (types that can: the integers, string, fd, sockaddr, char_buf, file, path, dentry, kiocb, linux_binprm, sock, socket, skb, net_device, cred, user_namespace, kernel_cap_t, cap_effective, cap_permitted, cap_inheritable, bpf_attr, bpf_prog, bpf_map, perf_event, module, load_info, iov_iter, capability, nop)", a.Type)
		}
		if !ok {
			return nil, unsupported(ap+".type", "type %q cannot be read from a syscall argument (types that can: the integers, string, fd, sockaddr, char_buf, char_iovec, capability, nop)", a.Type)
		}
		if a.Type == "char_iovec" && cfg.KernelMem != 0 {
			return nil, unsupported(ap+".type", "a char_iovec is an iovec array in user memory: a syscall's argument (syscall: true) or a uprobe's, not a kernel function's")
		}
		if a.ReturnCopy && a.Type == "iov_iter" {
			return nil, unsupported(ap+".returnCopy", "returnCopy on an iov_iter is not implemented yet")
		}
		if a.ReturnCopy {
			// the hook runs at return, where the buffer is filled
			cfg.RetCopy |= 1 << i
			meta.RetCopy |= 1 << i
			cfg.AtExit = 1
		}
		if err := resolveArg(ap, function, a, i, cfg); err != nil {
			return nil, err
		}
		cfg.ArgType[i], cfg.ArgIndex[i] = uint8(t), uint8(a.Index)
		slots[a.Index] = uint8(i)
		as := shownAs[a.Type]
		if obj, ok := funcArgObjs[a.Type]; ok && cfg.KernelMem != 0 {
			cfg.ArgObj[i] = obj
			as = a.Type
		}
		meta.Args = append(meta.Args, HookArg{Type: t, Label: a.Label, As: as})
	}
	cfg.NArgs = uint8(len(k.Args))
	return slots, c.charBufSizes(path, k, cfg, slots)
}

// resolveArg sets slot i's resolve path: a's members followed from a
// kernel function's argument, in the kernel.
func resolveArg(path, function string, a policy.KProbeArg, i int, cfg *tracing.HookConfig) error {
	if a.Resolve == "" {
		return nil
	}
	if cfg.KernelMem == 0 {
		return unsupported(path+".resolve", "resolve follows members of kernel objects: it applies to the arguments of kernel functions and LSM hooks, not to a syscall's or a uprobe's")
	}
	steps, err := resolvePath(function, a)
	var cast *castError
	if errors.As(err, &cast) {
		return kernelLacks(path+"."+cast.field, "%v", cast.err)
	}
	if err != nil {
		return kernelLacks(path+".resolve", "%s: %v", a.Resolve, err)
	}
	cfg.NResolve[i] = uint8(len(steps))
	copy(cfg.Resolve[i][:], steps)
	return nil
}

// charBufSizes points each char_buf at the slot holding its size
// (sizeArgIndex counts arguments from 1). A char_buf is cut at
// tracing.ArgMask bytes, with maxData at tracing.DataMax (Tetragon's
// limits), its bytes beyond the first ArgMask in data records.
func (c *compiler) charBufSizes(path string, k *policy.KProbeSpec, cfg *tracing.HookConfig, slots map[uint32]uint8) error {
	for i, a := range k.Args {
		if a.Type == "iov_iter" && cfg.KernelMem != 0 {
			// its size is its own
			if a.MaxData {
				cfg.MaxDataArgs |= 1 << i
				cfg.MaxData = tracing.DataMax
			}
			continue
		}
		if a.Type != "char_buf" && a.Type != "char_iovec" {
			continue
		}
		slot, ok := slots[a.SizeArgIndex-1]
		if a.SizeArgIndex == 0 || !ok || cfg.ArgType[slot] == tracing.ArgCharBuf || cfg.ArgType[slot] == tracing.ArgCharIovec {
			return unsupported(fmt.Sprintf("%s.args[%d].sizeArgIndex", path, i),
				"a %s needs sizeArgIndex naming an integer argument the hook also reads (its size, or its count of iovecs)", a.Type)
		}
		if a.Type == "char_iovec" && a.MaxData {
			return unsupported(fmt.Sprintf("%s.args[%d].maxData", path, i), "maxData on a char_iovec is not implemented yet: its first %d iovecs are read, up to %d bytes", tracing.MaxIovecs, tracing.ArgMask)
		}
		cfg.ArgSize[i] = slot
		if a.MaxData {
			cfg.MaxDataArgs |= 1 << i
			cfg.MaxData = tracing.DataMax
		}
	}
	return nil
}

func (c *compiler) newSet() uint32 {
	c.nextSet++
	return c.nextSet
}

func (c *compiler) cond(cfg *tracing.HookConfig, path string, cd tracing.Cond) error {
	if int(cfg.NConds) >= tracing.MaxConds {
		return unsupported(path, "more than %d conditions in one hook's selectors", tracing.MaxConds)
	}
	cfg.Conds[cfg.NConds] = cd
	cfg.NConds++
	switch cd.Subject {
	case tracing.SubjCapsChanged:
		cfg.CapsChanges |= 1 << cd.Selector
	case tracing.SubjNsChanged:
		cfg.NsChanges |= 1 << cd.Selector
	}
	return nil
}

func (c *compiler) selector(path string, idx uint8, sel *policy.KProbeSelector, slots map[uint32]uint8, cfg *tracing.HookConfig, meta *Hook) error {
	s, err := c.withMacros(path, sel)
	if err != nil {
		return err
	}
	if len(s.Label) > MaxLabelLen {
		return unsupported(path+".label", "a selector label is at most %d bytes, this one %d", MaxLabelLen, len(s.Label))
	}
	meta.Labels[idx] = s.Label
	if len(s.MatchReturnArgs) > 0 && cfg.AtExit == 0 {
		return unsupported(path+".matchReturnArgs", "matchReturnArgs needs return: true on the hook")
	}
	for i := range s.MatchArgs {
		if err := c.matchArg(fmt.Sprintf("%s.matchArgs[%d]", path, i), idx, &s.MatchArgs[i], slots, cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchData {
		if err := c.matchData(fmt.Sprintf("%s.matchData[%d]", path, i), idx, &s.MatchData[i], slots, cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchReturnArgs {
		if err := c.matchReturn(fmt.Sprintf("%s.matchReturnArgs[%d]", path, i), idx, &s.MatchReturnArgs[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchPIDs {
		if err := c.matchPID(fmt.Sprintf("%s.matchPIDs[%d]", path, i), idx, &s.MatchPIDs[i], cfg); err != nil {
			return err
		}
	}
	if err := c.processSelectors(path, idx, s, cfg); err != nil {
		return err
	}
	if err := c.actions(path, idx, s.MatchActions, cfg, meta); err != nil {
		return err
	}
	return c.returnActions(path, idx, s.MatchReturnActions, cfg, meta)
}

// withMacros returns sel with the selectors macros it names merged in: their
// match lists appended to its own (ANDed), their actions after its own,
// and without a label of its own, the first label of theirs.
func (c *compiler) withMacros(path string, sel *policy.KProbeSelector) (*policy.KProbeSelector, error) {
	out := *sel
	out.Macros = nil
	for i, name := range sel.Macros {
		m, ok := c.spec.SelectorsMacros[name]
		if !ok {
			return nil, unsupported(fmt.Sprintf("%s.macros[%d]", path, i), "macro %q is not defined in spec.selectorsMacros", name)
		}
		if len(m.Macros) > 0 {
			return nil, unsupported(fmt.Sprintf("%s.macros[%d]", path, i), "macro %q names macros itself", name)
		}
		if m.MatchWorkloads != nil {
			return nil, unsupported(fmt.Sprintf("%s.macros[%d]", path, i), "macro %q has matchWorkloads, which Tetragon does not take from a macro: put it in the selector", name)
		}
		out.MatchPIDs = joined(out.MatchPIDs, m.MatchPIDs)
		out.MatchArgs = joined(out.MatchArgs, m.MatchArgs)
		out.MatchData = joined(out.MatchData, m.MatchData)
		out.MatchReturnArgs = joined(out.MatchReturnArgs, m.MatchReturnArgs)
		out.MatchBinaries = joined(out.MatchBinaries, m.MatchBinaries)
		out.MatchParentBinaries = joined(out.MatchParentBinaries, m.MatchParentBinaries)
		out.MatchNamespaces = joined(out.MatchNamespaces, m.MatchNamespaces)
		out.MatchNamespaceChanges = joined(out.MatchNamespaceChanges, m.MatchNamespaceChanges)
		out.MatchCapabilities = joined(out.MatchCapabilities, m.MatchCapabilities)
		out.MatchCapabilityChanges = joined(out.MatchCapabilityChanges, m.MatchCapabilityChanges)
		out.MatchActions = joined(out.MatchActions, m.MatchActions)
		out.MatchReturnActions = joined(out.MatchReturnActions, m.MatchReturnActions)
		if out.Label == "" {
			out.Label = m.Label // as Tetragon: the first macro's with one
		}
	}
	return &out, nil
}

// joined is a followed by b, never writing into a's backing array.
func joined[T any](a, b []T) []T { return append(a[:len(a):len(a)], b...) }

// matchPID: followForks also matches the descendants of a listed process
// (up to 16 generations), isNamespacePID compares ids in each process's
// own pid namespace.
func (c *compiler) matchPID(path string, sel uint8, m *policy.PIDSelector, cfg *tracing.HookConfig) error {
	set := c.newSet()
	for _, v := range m.Values {
		c.out.Program.Ints = append(c.out.Program.Ints, tracing.IntKey{SetID: set, Value: int64(v)})
	}
	flags := int64(0)
	if m.FollowForks {
		flags |= tracing.PidFollowForks
	}
	if m.IsNamespacePID {
		flags |= tracing.PidNamespace
	}
	return c.cond(cfg, path, tracing.Cond{Selector: sel, Subject: tracing.SubjPid, Op: tracing.CondEq,
		Negate: b2u(m.Operator == "NotIn"), SetID: set, V1: flags})
}

func (c *compiler) matchBinary(path string, sel, subject uint8, m *policy.BinarySelector, cfg *tracing.HookConfig) error {
	if m.FollowChildren && subject != tracing.SubjBinary {
		return unsupported(path+".followChildren", "followChildren applies to matchBinaries only")
	}
	op, negate := tracing.CondEq, strings.HasPrefix(m.Operator, "Not")
	switch strings.TrimPrefix(m.Operator, "Not") {
	case "Prefix":
		op = tracing.CondPrefix
	case "Postfix":
		op = tracing.CondPostfix
	}
	set, err := c.strSet(path, op, m.Values)
	if err != nil {
		return err
	}
	cd := tracing.Cond{Selector: sel, Subject: subject, Op: uint8(op), Negate: b2u(negate), SetID: set}
	if m.FollowChildren {
		cd.V1 = tracing.BinFollowChildren
	}
	return c.cond(cfg, path, cd)
}

// strSet adds a string set: exact values with their NUL, prefixes as
// they are, postfixes reversed.
func (c *compiler) strSet(path string, op int, values []string) (uint32, error) {
	set := c.newSet()
	for i, v := range values {
		if len(v) >= tracing.StrKeyLen {
			return 0, unsupported(fmt.Sprintf("%s.values[%d]", path, i), "value of %d bytes, in-kernel string matching compares at most %d", len(v), tracing.StrKeyLen-1)
		}
		k := tracing.StrKey{SetID: set}
		switch op {
		case tracing.CondPostfix:
			for j := 0; j < len(v); j++ {
				k.Data[j] = v[len(v)-1-j]
			}
			k.Prefixlen = uint32(32 + 8*len(v))
		case tracing.CondPrefix:
			copy(k.Data[:], v)
			k.Prefixlen = uint32(32 + 8*len(v))
		default: // exact: the key ends with the NUL, which a value may spell
			v = strings.TrimSuffix(v, "\x00")
			copy(k.Data[:], v)
			k.Prefixlen = uint32(32 + 8*(len(v)+1))
		}
		c.out.Program.Strs = append(c.out.Program.Strs, k)
	}
	return set, nil
}

// substrings puts SubString's values in a set of their own, which the
// kernel searches each for with bpf_strnstr (Linux 6.17), as Tetragon
// does; where the kernel lacks it, the condition is refused (Tetragon's
// would never match). SubStringIgnCase's values are lowercased, as is the
// argument in the kernel, each as the kernel's tolower does: that of
// bpf_strncasestr, which Tetragon calls.
func (c *compiler) substrings(path, op string, values []string, cd *tracing.Cond) error {
	if err := c.kernel.Missing(probe.StrNStr); err != nil {
		return kernelLacks(path+".operator", "%s: %v", op, err)
	}
	if len(values) > tracing.MaxSubstrs {
		return unsupported(path+".values", "%d values, %s searches for at most %d", len(values), op, tracing.MaxSubstrs)
	}
	cd.Op, cd.SetID, cd.V1 = tracing.CondSubstr, c.newSet(), int64(len(values))
	if op == "SubStringIgnCase" {
		cd.V2 = 1
	}
	for i, v := range values {
		if len(v) >= tracing.SubstrLen || strings.IndexByte(v, 0) >= 0 {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "a %s value is at most %d bytes, with no NUL", op, tracing.SubstrLen-1)
		}
		s := tracing.Substr{Key: tracing.SubstrKey{SetID: cd.SetID, Idx: uint32(i)}}
		copy(s.Value[:], v)
		if cd.V2 != 0 {
			lowerBytes(s.Value[:len(v)])
		}
		c.out.Program.Subs = append(c.out.Program.Subs, s)
	}
	return nil
}

// lowerBytes lowercases b in place as the kernel's tolower does: ASCII
// and Latin-1 capitals, byte by byte (the C side's lower).
func lowerBytes(b []byte) {
	for i, c := range b {
		if (c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) {
			b[i] = c + 'a' - 'A'
		}
	}
}

// ints puts an integer set in cd: inline in V1 and V2 when it has at most
// two values (no map lookup in the kernel), otherwise as a set.
func (c *compiler) ints(path string, values []string, cd *tracing.Cond) error {
	values, err := c.expandLists(path, values)
	if err != nil {
		return err
	}
	var nums []int64
	for i, v := range values {
		if nums, err = appendRange(nums, v); err != nil {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "%v", err)
		}
	}
	if len(nums) == 0 {
		return unsupported(path+".values", "no values")
	}
	if len(nums) <= 2 {
		cd.V1, cd.V2 = nums[0], nums[len(nums)-1]
		return nil
	}
	cd.SetID = c.newSet()
	for _, n := range nums {
		c.out.Program.Ints = append(c.out.Program.Ints, tracing.IntKey{SetID: cd.SetID, Value: n})
	}
	return nil
}

// appendRange appends to nums the integer v, or every integer of the range
// "min:max" (InMap, ports, protocols: Tetragon fills its value map with
// each one too), up to policy.MaxValuesPerSet in all.
func appendRange(nums []int64, v string) ([]int64, error) {
	lo, hi, isRange := strings.Cut(v, ":")
	if !isRange {
		hi = lo
	}
	a, errA := strconv.ParseInt(lo, 0, 64)
	b, errB := strconv.ParseInt(hi, 0, 64)
	if errA != nil || errB != nil {
		return nums, fmt.Errorf("%q is not an integer or a range of integers", v)
	}
	if a > b {
		a, b = b, a
	}
	if uint64(b-a) >= uint64(policy.MaxValuesPerSet-len(nums)) {
		return nums, fmt.Errorf("range %q makes the set hold more than %d values", v, policy.MaxValuesPerSet)
	}
	for n := a; ; n++ {
		nums = append(nums, n)
		if n == b {
			return nums, nil
		}
	}
}

// expandLists replaces each "list:NAME" value by the values of that
// spec.lists entry; a syscalls list gives syscall numbers.
func (c *compiler) expandLists(path string, values []string) ([]string, error) {
	var out []string
	for i, v := range values {
		name, ok := strings.CutPrefix(v, "list:")
		if !ok {
			out = append(out, v)
			continue
		}
		l := c.list(name)
		if l == nil {
			return nil, unsupported(fmt.Sprintf("%s.values[%d]", path, i), "list %q is not defined in spec.lists", name)
		}
		if l.Type != "" && l.Type != "syscalls" {
			return nil, unsupported(fmt.Sprintf("%s.values[%d]", path, i), "lists of type %s are not implemented yet", l.Type)
		}
		for _, sc := range l.Values {
			nr, err := syscalls.Number(sc)
			if err != nil {
				return nil, unsupported(fmt.Sprintf("%s.values[%d]", path, i), "list %q: %v", name, err)
			}
			out = append(out, strconv.Itoa(int(nr)))
		}
	}
	return out, nil
}

func (c *compiler) list(name string) *policy.ListSpec {
	for i := range c.spec.Lists {
		if c.spec.Lists[i].Name == name {
			return &c.spec.Lists[i]
		}
	}
	return nil
}

// matchReturn filters on the return value with the integer operators.
func (c *compiler) matchReturn(path string, sel uint8, m *policy.ArgSelector, cfg *tracing.HookConfig) error {
	cd := tracing.Cond{Selector: sel, Subject: tracing.SubjRet, Negate: b2u(strings.HasPrefix(m.Operator, "Not"))}
	var err error
	switch op := strings.TrimPrefix(m.Operator, "Not"); op {
	case "Equal", "InMap":
		cd.Op = tracing.CondEq
		err = c.ints(path, m.Values, &cd)
	case "GT", "GreaterThan", "LT", "LessThan", "Mask":
		err = c.numeric(path, op, m.Values, &cd)
	case "InRange":
		err = c.inRange(path, m.Values, &cd)
	default:
		return unsupported(path+".operator", "operator %s does not apply to a return value", m.Operator)
	}
	if err != nil {
		return err
	}
	return c.cond(cfg, path, cd)
}

func (c *compiler) matchArg(path string, sel uint8, m *policy.ArgSelector, slots map[uint32]uint8, cfg *tracing.HookConfig) error {
	slot, ok := slots[m.Index]
	if len(m.Args) > 0 {
		// positions in args, which are the slots
		slot, ok = uint8(m.Args[0]), m.Args[0] < uint32(cfg.NArgs)
	}
	if !ok {
		return unsupported(path+".index", "no args entry has index %d", m.Index)
	}
	if m.Operator == "CapabilitiesGained" {
		return c.capsGained(path, sel, m, cfg)
	}
	typ := int(cfg.ArgType[slot])
	obj := cfg.ArgObj[slot]
	if name, ok := unfiltered(typ, obj); ok {
		return unsupported(path+".index", "matchArgs on a %s argument: Tetragon does not filter on one in the kernel, and Vigil refuses the condition rather than ignore it", name)
	}
	cd := tracing.Cond{Selector: sel, Subject: slot, Negate: b2u(strings.HasPrefix(m.Operator, "Not"))}
	op := strings.TrimPrefix(m.Operator, "Not")
	if obj == tracing.ObjCaps {
		return c.matchCaps(path, m.Operator, m.Values, cd, cfg)
	}
	if obj == tracing.ObjNetDevice && op != "Equal" && op != "Prefix" && op != "Postfix" {
		return unsupported(path+".operator", "operator %s does not apply to a net_device argument (its name: Equal, NotEqual, Prefix, NotPrefix, Postfix, NotPostfix)", m.Operator)
	}
	var err error
	switch op {
	case "Equal", "InMap":
		cd.Op = tracing.CondEq
		if isString(typ) {
			cd.SetID, err = c.strSet(path, tracing.CondEq, m.Values)
		} else {
			err = c.ints(path, m.Values, &cd)
		}
	case "Prefix", "Postfix":
		cd.Op = map[string]uint8{"Prefix": tracing.CondPrefix, "Postfix": tracing.CondPostfix}[op]
		cd.SetID, err = c.strSet(path, int(cd.Op), m.Values)
	case "SubString", "SubStringIgnCase":
		if !isString(typ) {
			return unsupported(path+".operator", "operator %s applies to strings, paths and buffers", op)
		}
		err = c.substrings(path, op, m.Values, &cd)
	case "GT", "GreaterThan", "LT", "LessThan", "Mask":
		err = c.numeric(path, op, m.Values, &cd)
	case "InRange":
		err = c.inRange(path, m.Values, &cd)
	case "FileType":
		if !isFile(typ) {
			return unsupported(path+".operator", "operator %s applies to file and path arguments", m.Operator)
		}
		cd.Op = tracing.CondFileType
		err = c.ints(path, fileModes(m.Values), &cd)
	case "SPort", "DPort", "Family", "Protocol", "State":
		cd.Op = netOps[op]
		err = c.ints(path, netNumbers(op, m.Values), &cd)
	case "SPortPriv", "SportPriv", "DPortPriv":
		cd.Op = netOps[op]
	case "SAddr", "DAddr":
		cd.Op = netOps[op]
		cd.SetID, err = c.addrSet(path, m.Values)
	default:
		return unsupported(path+".operator", "operator %s is not implemented yet for syscall arguments", m.Operator)
	}
	if err != nil {
		return err
	}
	if !opApplies(typ, cd.Op) {
		return unsupported(path+".operator", "operator %s does not apply to an argument of this type", m.Operator)
	}
	if isFile(typ) && (cd.Op == tracing.CondEq || cd.Op == tracing.CondPrefix) && c.objNames(cd.SetID, m.Values) {
		cd.V1 = tracing.CondObjIdentity
	}
	return c.cond(cfg, path, cd)
}

// unfiltered names the argument types Tetragon never filters on in the
// kernel, from a slot's type and object: a matchArgs condition on one is
// refused, never accepted and ignored.
func unfiltered(typ int, obj uint8) (string, bool) {
	name, ok := map[int]string{tracing.ArgCred: "cred", tracing.ArgUserNs: "user_namespace",
		tracing.ArgBpfAttr: "bpf_attr", tracing.ArgBpfProg: "bpf_prog", tracing.ArgBpfMap: "bpf_map",
		tracing.ArgPerfEvent: "perf_event", tracing.ArgModule: "module", tracing.ArgLoadInfo: "load_info"}[typ]
	switch obj {
	case tracing.ObjKiocb:
		return "kiocb", true
	case tracing.ObjIovIter:
		return "iov_iter", true
	}
	return name, ok
}

// matchCaps filters a capability set argument as Tetragon does: Equal,
// GT, LT and Mask (and their Not forms) on the 64-bit set, values being
// masks: a number, or capability names joined by commas.
func (c *compiler) matchCaps(path, operator string, values []string, cd tracing.Cond, cfg *tracing.HookConfig) error {
	masks := make([]string, len(values))
	for i, v := range values {
		mask, err := capsMask(v)
		if err != nil {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "%v", err)
		}
		masks[i] = strconv.FormatUint(mask, 10)
	}
	var err error
	switch op := strings.TrimPrefix(operator, "Not"); op {
	case "Equal":
		cd.Op = tracing.CondEq
		err = c.ints(path, masks, &cd)
	case "GT", "GreaterThan", "LT", "LessThan", "Mask":
		err = c.numeric(path, op, masks, &cd)
	default:
		return unsupported(path+".operator", "operator %s does not apply to a capability set (Equal, NotEqual, GT, LT, Mask)", operator)
	}
	if err != nil {
		return err
	}
	return c.cond(cfg, path, cd)
}

// capsGained compiles CapabilitiesGained: args[1]'s capability set has
// some that args[0]'s lacks (the policy validated two positions of
// capability sets).
func (c *compiler) capsGained(path string, sel uint8, m *policy.ArgSelector, cfg *tracing.HookConfig) error {
	cd := tracing.Cond{Selector: sel, Subject: uint8(m.Args[0]), Op: tracing.CondCapsGained, V1: int64(m.Args[1])}
	return c.cond(cfg, path, cd)
}

// capsMask parses a capability mask: a number, or capability names
// joined by commas.
func capsMask(v string) (uint64, error) {
	if n, err := strconv.ParseUint(v, 0, 64); err == nil {
		return n, nil
	}
	var mask uint64
	for _, name := range strings.Split(v, ",") {
		n := slices.Index(event.CapabilityNames, strings.ToUpper(strings.TrimSpace(name)))
		if n < 0 {
			return 0, fmt.Errorf("%q is neither a number nor capability names joined by commas", v)
		}
		mask |= 1 << n
	}
	return mask, nil
}

// objNames names the objects at the absolute paths among values, whose
// identities join string set set; it says whether there is one. A file
// argument then matches another path to the same object, or for a prefix
// to an object below it.
func (c *compiler) objNames(set uint32, values []string) bool {
	named := false
	for _, v := range values {
		v = strings.TrimSuffix(v, "\x00")
		if strings.HasPrefix(v, "/") {
			c.out.Program.Objs = append(c.out.Program.Objs, tracing.ObjName{SetID: set, Path: v})
			named = true
		}
	}
	return named
}

// fileModes are the S_IF* modes of FileType's values, as strings.
func fileModes(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strconv.FormatInt(policy.FileTypes[v], 10)
	}
	return out
}

// isFile says whether an argument of type typ is an open file or path,
// which selectors may match by identity.
func isFile(typ int) bool {
	switch typ {
	case tracing.ArgFd, tracing.ArgFile, tracing.ArgPath, tracing.ArgBprm:
		return true
	}
	return false
}

// netOps are the operators on network arguments.
var netOps = map[string]uint8{
	"SPort": tracing.CondSPort, "DPort": tracing.CondDPort, "SAddr": tracing.CondSAddr, "DAddr": tracing.CondDAddr,
	"Family": tracing.CondFamily, "Protocol": tracing.CondProtocol, "State": tracing.CondState,
	"SPortPriv": tracing.CondSPortPriv, "SportPriv": tracing.CondSPortPriv, "DPortPriv": tracing.CondDPortPriv,
}

func netOp(op uint8) bool { return op >= tracing.CondSPort && op <= tracing.CondDPortPriv }

// opApplies: the network operators apply to network arguments only, and
// of them Family to a sockaddr_un too (whose name the string operators
// take).
func opApplies(typ int, op uint8) bool {
	if typ == tracing.ArgSockaddrUn {
		return op == tracing.CondFamily || !netOp(op)
	}
	return netOp(op) == (typ == tracing.ArgSockaddr || typ == tracing.ArgSock || typ == tracing.ArgSkb)
}

// isString says whether arguments of type typ compare as strings: their
// text, or the path they resolve to.
func isString(typ int) bool {
	switch typ {
	case tracing.ArgString, tracing.ArgFd, tracing.ArgCharBuf, tracing.ArgFile, tracing.ArgPath, tracing.ArgBprm,
		tracing.ArgSockaddrUn:
		return true
	}
	return false
}

func (c *compiler) numeric(path, op string, values []string, cd *tracing.Cond) error {
	var acc int64
	for i, v := range values {
		n, err := strconv.ParseInt(v, 0, 64)
		if err != nil {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "%q is not an integer", v)
		}
		if i > 0 && op != "Mask" {
			return unsupported(path+".values", "%s takes one value", op)
		}
		acc |= n
	}
	cd.V1 = acc
	cd.Op = map[string]uint8{"GT": tracing.CondGT, "GreaterThan": tracing.CondGT, "LT": tracing.CondLT,
		"LessThan": tracing.CondLT, "Mask": tracing.CondMask}[op]
	return nil
}

func (c *compiler) inRange(path string, values []string, cd *tracing.Cond) error {
	if len(values) != 1 {
		return unsupported(path+".values", "InRange over several ranges is not implemented yet")
	}
	lo, hi, ok := strings.Cut(values[0], ":")
	a, err1 := strconv.ParseInt(lo, 0, 64)
	b, err2 := strconv.ParseInt(hi, 0, 64)
	if !ok || err1 != nil || err2 != nil {
		return unsupported(path+".values[0]", "%q is not a range min:max", values[0])
	}
	cd.Op, cd.V1, cd.V2 = tracing.CondInRange, a, b
	return nil
}

// netNumbers turns the names an operator's values may use into numbers,
// leaving numbers as they are.
func netNumbers(op string, values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		if n, ok := policy.NetValues[op][v]; ok {
			v = strconv.Itoa(n)
		}
		out[i] = v
	}
	return out
}

func (c *compiler) addrSet(path string, values []string) (uint32, error) {
	set := c.newSet()
	for i, v := range values {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return 0, unsupported(fmt.Sprintf("%s.values[%d]", path, i), "%q is not an address or CIDR", v)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		k := tracing.AddrKey{SetID: set, Family: 2, Prefixlen: uint32(32 + 8 + pfx.Bits())}
		if pfx.Addr().Is6() {
			k.Family = 10
		}
		copy(k.Addr[:], pfx.Addr().AsSlice())
		c.out.Program.Addrs = append(c.out.Program.Addrs, k)
	}
	return set, nil
}

func (c *compiler) actions(path string, sel uint8, acts []policy.ActionSelector, cfg *tracing.HookConfig, meta *Hook) error {
	a, action, err := c.actionList(path+".matchActions", acts)
	if err != nil {
		return err
	}
	if err := requests(path+".matchActions", sel, acts, a, meta); err != nil {
		return err
	}
	if a.SockAct != 0 && (int(a.SockSlot) >= len(meta.Args) || cfg.ArgType[a.SockSlot] != tracing.ArgSock) {
		return unsupported(path+".matchActions", "argSock %d: this hook reads no sock or socket at that position of args", a.SockSlot)
	}
	cfg.Actions[sel], meta.Actions[sel] = a, action
	return nil
}

// requests keeps selector sel's GetUrl and DnsLookup requests, which the
// agent makes when the selector posts an event (as Tetragon's user space
// does, from the event): refused with NoPost, which leaves none.
func requests(path string, sel uint8, acts []policy.ActionSelector, a tracing.SelAction, meta *Hook) error {
	for i, act := range acts {
		target := map[string]string{beacon.GetURL: act.ArgURL, beacon.DNSLookup: act.ArgFqdn}[act.Action]
		if target == "" {
			continue
		}
		if a.Post == 0 {
			return unsupported(fmt.Sprintf("%s[%d].action", path, i), "%s is made from the event, and NoPost leaves none", act.Action)
		}
		if meta.Requests == nil {
			meta.Requests = make([][]beacon.Request, len(meta.Actions))
		}
		meta.Requests[sel] = append(meta.Requests[sel], beacon.Request{Action: act.Action, Target: target})
	}
	return nil
}

// returnActions compiles matchReturnActions: at the return, once the
// selector's matchReturnArgs hold, they signal and decide whether the
// event is posted (as Tetragon's return probe runs them); the event then
// names their action.
func (c *compiler) returnActions(path string, sel uint8, acts []policy.ActionSelector, cfg *tracing.HookConfig, meta *Hook) error {
	if len(acts) == 0 {
		return nil
	}
	p := path + ".matchReturnActions"
	if cfg.AtExit == 0 {
		return unsupported(p, "matchReturnActions needs return: true on the hook")
	}
	if cfg.Actions[sel].Post == 0 || cfg.Actions[sel].RateLimitMs != 0 {
		return unsupported(p, "matchReturnActions after a matchActions NoPost or rateLimit is %s: the entry then keeps nothing for the return", "not implemented yet")
	}
	a, action, err := c.actionList(p, acts)
	if err != nil {
		return err
	}
	if a.SockAct != 0 {
		return unsupported(p, "TrackSock and UntrackSock in matchReturnActions are %s: returnArgAction tracks a returned socket", "not implemented yet")
	}
	if a.IMA != 0 {
		return unsupported(p, "imaHash in matchReturnActions: an LSM hook has no return to act at")
	}
	cfg.RetActs |= 1 << sel
	cfg.RetActions[sel], meta.Actions[sel] = a, action
	return nil
}

// actionList compiles a list of actions, at the call's entry or at its
// return (where the policy refuses Override and stack traces), and says
// which the event reports.
func (c *compiler) actionList(path string, acts []policy.ActionSelector) (tracing.SelAction, string, error) {
	a, action := tracing.SelAction{Post: 1}, event.ActionPost
	for i, act := range acts {
		ap := fmt.Sprintf("%s[%d]", path, i)
		if err := rateLimit(ap, &act, &a); err != nil {
			return a, "", err
		}
		switch act.Action {
		case "Post":
			a.Stacks |= stacks(&act)
			if act.ImaHash {
				a.IMA = 1
			}
		case "NoPost":
			a.Post = 0
		case "Sigkill", "Signal":
			if err := c.kernel.Missing(probe.SendSignal); err != nil {
				return a, "", kernelLacks(ap+".action", "%s: %v", act.Action, err)
			}
			a.Sig, action = 9, event.ActionSigkill
			if act.Action == "Signal" {
				a.Sig, action = uint8(act.ArgSig), event.ActionSignal
			}
		case "Override":
			a.Override, action = act.ArgError, event.ActionOverride
		case beacon.GetURL:
			action = event.ActionGetURL
		case beacon.DNSLookup:
			action = event.ActionDNSLookup
		case "TrackSock":
			a.SockAct, a.SockSlot = tracing.SockTrack, uint8(act.ArgSock)
		case "UntrackSock":
			a.SockAct, a.SockSlot = tracing.SockUntrack, uint8(act.ArgSock)
		case "Set":
			if act.ArgValue < 0 || act.ArgValue > math.MaxUint32 {
				return a, "", unsupported(ap+".argValue", "Set writes 32 bits, as Tetragon's: a value from 0 to 4294967295, not %d", act.ArgValue)
			}
			a.SetArg, a.SetValue = uint8(act.ArgIndex)+1, uint32(act.ArgValue)
		default:
			return a, "", unsupported(ap+".action", "action %s is not implemented yet", act.Action)
		}
	}
	return a, action, nil
}

// stacks are the stack traces a Post action asks for (validation keeps
// the flags to Post).
func stacks(act *policy.ActionSelector) uint8 {
	var s uint8
	if act.KernelStackTrace {
		s |= tracing.StackKernel
	}
	if act.UserStackTrace {
		s |= tracing.StackUser
	}
	return s
}

// rateLimit sets how often the same event may be posted: rateLimit is a
// duration ("30s", "1m", "2h") or a number of seconds; the scope is
// thread (the default), process or global.
func rateLimit(path string, act *policy.ActionSelector, a *tracing.SelAction) error {
	if act.RateLimit == "" {
		return nil
	}
	d, err := time.ParseDuration(act.RateLimit)
	if err != nil {
		secs, nerr := strconv.ParseUint(act.RateLimit, 10, 32)
		if nerr != nil {
			return unsupported(path+".rateLimit", "%q is not a duration", act.RateLimit)
		}
		d = time.Duration(secs) * time.Second
	}
	if d <= 0 || d.Milliseconds() > math.MaxUint32 {
		return unsupported(path+".rateLimit", "%s is out of range", act.RateLimit)
	}
	a.RateLimitMs = uint32(d.Milliseconds())
	scopes := map[string]uint8{"": tracing.ScopeThread, "thread": tracing.ScopeThread,
		"process": tracing.ScopeProcess, "global": tracing.ScopeGlobal}
	scope, ok := scopes[act.RateLimitScope]
	if !ok {
		return unsupported(path+".rateLimitScope", "%q is not thread, process or global", act.RateLimitScope)
	}
	a.Scope = scope
	return nil
}

// override explains why Override cannot load on a hook's backend: only
// BPF LSM hooks deny in Vigil so far.
// overrideBackend is how this kernel can Override a function's return
// (a syscall's needs fmod_ret on syscall functions).
// returnWithOverride is the return backend that pairs with override
// backend b: a return hook's matchActions run at the entry, so an Override
// there skips the function, and the return program sees the error.
func (c *compiler) returnWithOverride(path, b string) (string, error) {
	ret, feature := tracing.AttachFexit, probe.Fexit
	if b == tracing.AttachKprobeOverride {
		ret, feature = tracing.AttachKretprobe, probe.Kretprobe
	}
	if err := c.kernel.Missing(feature); err != nil {
		return "", kernelLacks(path, "Override on a return hook runs on %s with %s: %v", b, ret, err)
	}
	return ret, nil
}

func (c *compiler) overrideBackend(path string, syscall bool) (string, error) {
	fmodRet := probe.FmodRet
	if syscall {
		fmodRet = probe.FmodRetSyscall
	}
	switch {
	case c.kernel.Has(fmodRet):
		return tracing.AttachFmodRet, nil
	case c.kernel.Has(probe.OverrideReturn):
		return tracing.AttachKprobeOverride, nil
	}
	return "", kernelLacks(path, "Override needs fmod_ret or bpf_override_return (or BPF LSM, on lsmhooks): %v; %v",
		c.kernel.Missing(fmodRet), c.kernel.Missing(probe.OverrideReturn))
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
