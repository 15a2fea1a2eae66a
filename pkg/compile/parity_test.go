package compile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
	"github.com/vigil-sec/vigil/pkg/usdt/usdttest"
)

func compileWithReturns(doc string) (*Compiled, error) {
	ps, err := policy.Parse([]byte(doc), "t.yaml")
	if err != nil {
		return nil, err
	}
	return Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.Kretprobe, probe.TPBTF)})
}

// TestSockTrackingCompiles: returnArgAction on a returned sock, read into
// the last slot at the return, and TrackSock and UntrackSock on the
// socket at a position of args.
func TestSockTrackingCompiles(t *testing.T) {
	c, err := compileWithReturns(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: track}
spec:
  kprobes:
  - call: sk_alloc
    syscall: false
    return: true
    args: [{index: 1, type: int}]
    returnArg: {index: 0, type: sock}
    returnArgAction: TrackSock
  - call: inet_listen
    syscall: false
    args: [{index: 1, type: int}, {index: 0, type: socket}]
    selectors:
    - matchActions: [{action: UntrackSock, argSock: 1}]
`)
	if err != nil {
		t.Fatal(err)
	}
	alloc, listen := c.Program.Funcs[0].Config, c.Program.Funcs[1].Config
	const last = tracing.MaxArgs - 1
	if alloc.RetSockAct != tracing.SockTrack || alloc.ArgType[last] != tracing.ArgSock ||
		alloc.ArgIndex[last] != tracing.RawRet || alloc.RetCopy != 1<<last || alloc.NArgs != tracing.MaxArgs {
		t.Errorf("sk_alloc: return action %d, last slot type %d index %d, retCopy %b, %d slots",
			alloc.RetSockAct, alloc.ArgType[last], alloc.ArgIndex[last], alloc.RetCopy, alloc.NArgs)
	}
	if a := listen.Actions[0]; a.SockAct != tracing.SockUntrack || a.SockSlot != 1 || a.Post != 1 {
		t.Errorf("inet_listen: action %+v, want UntrackSock of slot 1, posting", a)
	}
	if h := c.Hooks[0]; !h.RetObj || h.Return.Type != tracing.ArgSock || len(h.Args) != 1 {
		t.Errorf("sk_alloc's metadata: %+v, want the return a sock object and one argument", h)
	}
}

// TestSockTrackingRefusals: what socket tracking and returned objects
// refuse, each with its YAML path.
func TestSockTrackingRefusals(t *testing.T) {
	for _, tc := range []struct{ name, hook, want string }{
		{"returnArgAction on an int", `call: sk_alloc
    syscall: false
    return: true
    returnArg: {index: 0, type: int}
    returnArgAction: TrackSock`, "spec.kprobes[0].returnArgAction: TrackSock needs a kernel function that returns a struct sock"},
		{"an object from a syscall", `call: sys_openat
    return: true
    returnArg: {index: 0, type: file}`, "spec.kprobes[0].returnArg.type: a syscall's return value is an integer"},
		{"no slot left", `call: sk_alloc
    syscall: false
    return: true
    args: [{index: 0, type: int}, {index: 1, type: int}, {index: 2, type: int}, {index: 3, type: int}, {index: 4, type: int}]
    returnArg: {index: 0, type: sock}`, "spec.kprobes[0].returnArg.type: the generic hook reads 5 values"},
		{"matchReturnArgs on a sock", `call: sk_alloc
    syscall: false
    return: true
    returnArg: {index: 0, type: sock}
    selectors:
    - matchReturnArgs: [{operator: Family, values: [AF_INET]}]`, "spec.kprobes[0].selectors[0].matchReturnArgs: matchReturnArgs on a returned sock is not implemented yet"},
		{"TrackSock at the return", `call: tcp_close
    syscall: false
    return: true
    args: [{index: 0, type: sock}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchReturnActions: [{action: TrackSock, argSock: 0}]`, "spec.kprobes[0].selectors[0].matchReturnActions[0].action: TrackSock: TrackSock in matchReturnActions is not implemented yet"},
	} {
		_, err := compileWithReturns(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: track}
spec:
  kprobes:
  - ` + tc.hook + "\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestUprobePlaces: uprobes by file offset keep the offset and reference
// counter; addresses are converted through the binary's segments, and one
// that is in none, or a binary that cannot be read, is refused naming
// addrs.
func TestUprobePlaces(t *testing.T) {
	doc := func(place string) (*Compiled, error) {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: places}
spec:
  uprobes:
  - path: /proc/self/exe
    `+place+"\n"), "t.yaml")
		if err != nil {
			return nil, err
		}
		return Compile(ps[0], Target{Kernel: kernelWith(probe.Uprobe)})
	}
	c, err := doc("offsets: [16, 32]\n    refCtrOffsets: [100, 200]")
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Program.Funcs; len(f) != 2 || f[1].Offset != 32 || f[1].RefCtrOffset != 200 || f[1].Symbol != "" ||
		c.Hooks[1].UprobeOffset != 32 || c.Hooks[1].UprobeRefCtr != 200 {
		t.Errorf("hooks %+v, metadata %+v: want the second at offset 32 with counter 200", f, c.Hooks)
	}
	if _, err := doc("addrs: [1]"); err == nil || !strings.Contains(err.Error(), "spec.uprobes[0].addrs: /proc/self/exe: address 0x1 is in no loadable segment") {
		t.Errorf("an address outside the binary: %v", err)
	}
}

// TestSubStringCompiles: SubString's values go to a set of their own,
// searched with bpf_strnstr; SubStringIgnCase's lowercased as the
// kernel's tolower does; refused with the YAML path on a kernel without
// it and beyond its limits.
func TestSubStringCompiles(t *testing.T) {
	doc := func(op, values string) policy.Policy {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: sub}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: `+op+`, values: [`+values+`]}]
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	with := Target{Kernel: kernelWith(probe.TPBTF, probe.StrNStr)}
	c, err := Compile(doc("SubString", "abc, de"), with)
	if err != nil {
		t.Fatal(err)
	}
	cd := c.Program.Hooks[0].Config.Conds[0]
	if cd.Op != tracing.CondSubstr || cd.V1 != 2 || len(c.Program.Subs) != 2 || string(c.Program.Subs[1].Value[:2]) != "de" ||
		c.Program.Subs[1].Key != (tracing.SubstrKey{SetID: cd.SetID, Idx: 1}) {
		t.Errorf("condition %+v, substrings %+v", cd, c.Program.Subs)
	}
	c, err = Compile(doc("SubStringIgnCase", "\"AbC-\u00c9\u00d7\u00de\u00df\""), with)
	if err != nil {
		t.Fatal(err)
	}
	cd = c.Program.Hooks[0].Config.Conds[0]
	// UTF-8 É is c3 89, the rest Latin-1 bytes: c3 is a capital there
	if v := c.Program.Subs[0].Value[:12]; cd.Op != tracing.CondSubstr || cd.V2 != 1 || string(v) != "abc-\xe3\x89\xe3\x97\xe3\x9e\xe3\x9f" {
		t.Errorf("condition %+v, value %q", cd, v)
	}
	const path = "spec.kprobes[0].selectors[0].matchArgs[0]"
	for _, tc := range []struct {
		name, op, values string
		target           Target
		want             string
	}{
		{"no kfunc", "SubString", "abc", Target{Kernel: kernelWith(probe.TPBTF)}, path + ".operator: SubString: "},
		{"too long", "SubString", strings.Repeat("a", 128), with, path + ".values[0]: a SubString value is at most 127 bytes"},
		{"too many", "SubString", strings.Repeat("a,", 100) + "a", with, path + ".values: 101 values, SubString searches for at most 100"},
		{"case-blind without kfunc", "SubStringIgnCase", "abc", Target{Kernel: kernelWith(probe.TPBTF)}, path + ".operator: SubStringIgnCase: "},
		{"case-blind too long", "SubStringIgnCase", strings.Repeat("a", 128), with, path + ".values[0]: a SubStringIgnCase value is at most 127 bytes"},
	} {
		if _, err := Compile(doc(tc.op, tc.values), tc.target); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestRequestsCompile: GetUrl and DnsLookup are kept by selector for the
// agent to make, named as the event's action; NoPost beside them is
// refused, as it leaves no event to make them from.
func TestRequestsCompile(t *testing.T) {
	doc := func(actions string) (*Compiled, error) {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: req}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 0, type: int}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: ["1"]}]
    - matchActions: [`+actions+`]
`), "t.yaml")
		if err != nil {
			return nil, err
		}
		return Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF)})
	}
	c, err := doc(`{action: GetUrl, argUrl: "http://x.test/a"}, {action: DnsLookup, argFqdn: x.test}`)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Hooks[0]
	want := []beacon.Request{{Action: beacon.GetURL, Target: "http://x.test/a"}, {Action: beacon.DNSLookup, Target: "x.test"}}
	if len(h.Requests) != 2 || h.Requests[0] != nil || !slices.Equal(h.Requests[1], want) || h.Actions[1] != event.ActionDNSLookup {
		t.Errorf("requests %+v, actions %v", h.Requests, h.Actions)
	}
	if _, err := doc(`{action: GetUrl, argUrl: "http://x.test/a"}, {action: NoPost}`); err == nil ||
		!strings.Contains(err.Error(), "spec.kprobes[0].selectors[1].matchActions[0].action: GetUrl is made from the event, and NoPost leaves none") {
		t.Errorf("GetUrl with NoPost: %v", err)
	}
}

// TestEnforcersNameWhatTheKernelLacks: enforcers make syscalls return
// early; a kernel with neither bpf_override_return nor fmod_ret on
// syscalls lacks what they need, and the refusal says so.
func TestEnforcersNameWhatTheKernelLacks(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: enf}
spec:
  enforcers: [{calls: [sys_dup]}]
  kprobes:
  - call: sys_dup
    selectors:
    - matchActions: [{action: NotifyEnforcer, argError: -1}]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF, probe.FmodRet)})
	var u *UnsupportedError
	if !errors.As(err, &u) || !u.KernelLacks || !strings.Contains(err.Error(), "spec.kprobes[0].selectors[0].matchActions[0].action: enforcers make syscalls return early, which needs bpf_override_return or fmod_ret on syscalls") {
		t.Errorf("without the features: %v, want the kernel's lack named", err)
	}
	_, err = Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF, probe.OverrideReturn)})
	if !errors.As(err, &u) || u.KernelLacks {
		t.Errorf("with bpf_override_return: %v, want not implemented yet", err)
	}
}

// TestUSDTSetCompiles: Set runs the USDT program that writes memory, on
// an argument in memory only, with a 32-bit value, where lockdown allows
// the write.
func TestUSDTSetCompiles(t *testing.T) {
	prog, err := usdttest.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc := func(idx int, value int64) policy.Policy {
		ps, err := policy.Parse([]byte(fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: set}
spec:
  usdts:
  - path: %q
    provider: %s
    name: %s
    args: [{index: 0, type: int32}, {index: 1, type: int64}]
    selectors:
    - matchActions: [{action: Set, argIndex: %d, argValue: %d}]
`, prog.Path, usdttest.Provider, usdttest.Name, idx, value)), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	with := Target{Kernel: kernelWith(probe.Uprobe, probe.ProbeWriteUser)}
	c, err := Compile(doc(1, 32), with)
	if err != nil {
		t.Fatal(err)
	}
	if fh := c.Program.Funcs[0]; fh.Attach != tracing.AttachUSDTSet || fh.Config.Actions[0].SetArg != 2 || fh.Config.Actions[0].SetValue != 32 {
		t.Errorf("program %s, action %+v", fh.Attach, fh.Config.Actions[0])
	}
	const at = "spec.usdts[0].selectors[0].matchActions[0]"
	for _, tc := range []struct {
		name        string
		idx         int
		value       int64
		target      Target
		want        string
		kernelLacks bool
	}{
		{"a register", 0, 32, with, at + ".argIndex: Set writes an argument in memory; argument 0 of vigil:probe is not", false},
		{"wider than 32 bits", 1, 1 << 32, with, at + ".argValue: Set writes 32 bits", false},
		{"lockdown", 1, 32, Target{Kernel: kernelWith(probe.Uprobe)}, at + ".action: Set writes the process's memory: kernel lacks bpf_probe_write_user", true},
	} {
		_, err := Compile(doc(tc.idx, tc.value), tc.target)
		var u *UnsupportedError
		if !errors.As(err, &u) || !strings.HasPrefix(err.Error(), tc.want) || u.KernelLacks != tc.kernelLacks {
			t.Errorf("%s: %v, want %q (kernel lacks %v)", tc.name, err, tc.want, tc.kernelLacks)
		}
	}
}

// TestSelectorLabelsCompile: each selector's label goes to its hook, its
// own before its first macro's; one past MaxLabelLen is refused with the
// YAML path.
func TestSelectorLabelsCompile(t *testing.T) {
	doc := func(label string) policy.Policy {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: labels}
spec:
  selectorsMacros:
    a: {label: from-a}
    b: {label: from-b}
  kprobes:
  - call: sys_openat
    selectors:
    - {macros: [a, b], label: "`+label+`"}
    - {macros: [b, a]}
    - {}
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	with := Target{Kernel: kernelWith(probe.TPBTF)}
	c, err := Compile(doc("own"), with)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Hooks[0].Labels; !slices.Equal(got, []string{"own", "from-b", ""}) {
		t.Errorf("labels %q", got)
	}
	_, err = Compile(doc(strings.Repeat("x", MaxLabelLen+1)), with)
	if want := "spec.kprobes[0].selectors[0].label: a selector label is at most 256 bytes"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v, want %q", err, want)
	}
}

// TestMatchWorkloadsCompile: a selector's matchWorkloads is a scope of its
// own, checked by a condition that PointWorkloads aims at the scope's id;
// null or {} everywhere is no condition; pods need the Kubernetes API; a
// macro's matchWorkloads, which Tetragon drops, is refused.
func TestMatchWorkloadsCompile(t *testing.T) {
	doc := func(workloads string) policy.Policy {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wl}
spec:
  selectorsMacros:
    hosts: {matchWorkloads: {hostSelector: {}}}
  kprobes:
  - call: sys_openat
    selectors:
    - `+workloads+`
`), "t.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return ps[0]
	}
	pods := Target{Kernel: kernelWith(probe.TPBTF), Pods: true}
	c, err := Compile(doc("matchWorkloads: {containerSelector: {matchLabels: {name: main}}}"), pods)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Workloads) != 1 || c.Workloads[0].Pods == nil || c.Workloads[0].Host {
		t.Fatalf("workloads %+v, want every pod's main container", c.Workloads)
	}
	if err := c.PointWorkloads([]uint32{77}); err != nil {
		t.Fatal(err)
	}
	cd := c.Program.Hooks[0].Config.Conds[0]
	if cd.Subject != tracing.SubjWorkload || cd.V1 != 77 {
		t.Errorf("condition %+v, want the workload scope 77", cd)
	}
	for _, w := range []string{"matchWorkloads: {}", "matchWorkloads: {podSelector: {}, containerSelector: {}, hostSelector: {}}"} {
		if c, err := Compile(doc(w), pods); err != nil || len(c.Workloads) != 0 || c.Program.Hooks[0].Config.NConds != 0 {
			t.Errorf("%s: %v, %d workloads", w, err, len(c.Workloads))
		}
	}
	const path = "spec.kprobes[0].selectors[0]"
	for w, want := range map[string]string{
		"matchWorkloads: {podSelector: {matchLabels: {app: a}}}": path + ".matchWorkloads: selecting pods needs",
		"macros: [hosts]": path + ".macros[0]: macro \"hosts\" has matchWorkloads",
	} {
		if _, err := Compile(doc(w), Target{Kernel: kernelWith(probe.TPBTF)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", w, err, want)
		}
	}
}

// TestDataCompiles: a data entry takes the slot after the arguments,
// starts at the current task and follows its resolve path in kernel
// memory; matchData counts data entries by position. What Vigil does not
// read is refused with the YAML path.
func TestDataCompiles(t *testing.T) {
	compile := func(data, match string) (*Compiled, error) {
		ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: data}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    data: `+data+`
    selectors:
    - matchData: `+match+`
`), "t.yaml")
		if err != nil {
			return nil, err
		}
		return Compile(ps[0], Target{Kernel: kernelWith(probe.TPBTF)})
	}
	c, err := compile("[{index: 0, type: int, source: current_task, resolve: pid}, {index: 0, type: string, source: current_task, resolve: comm}]",
		"[{index: 1, operator: Equal, values: [cat]}]")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Program.Hooks[0].Config
	if cfg.NArgs != 4 || cfg.FromTask != 0b1100 || cfg.KernelMem != 0b1100 || cfg.NResolve[2] != 1 || cfg.NResolve[3] != 1 ||
		cfg.Conds[0].Subject != 3 || len(c.Hooks[0].Args) != 4 {
		t.Errorf("config %+v", cfg)
	}
	const path = "spec.kprobes[0]"
	for _, tc := range []struct{ data, match, want string }{
		{"[{index: 0, type: int, source: pt_regs, resolve: ax}]", "[]", path + ".data[0].source: source \"pt_regs\""},
		{"[{index: 0, type: char_buf, source: current_task, resolve: comm}]", "[]", path + ".data[0].type: type \"char_buf\" cannot be read from the current task"},
		{"[{index: 0, type: int, source: current_task, resolve: no_such_member}]", "[]", path + ".data[0].resolve: no_such_member"},
		{"[{index: 0, type: int, source: current_task, resolve: pid}]", "[{index: 1, operator: Equal, values: [\"1\"]}]", path + ".selectors[0].matchData[0].index: 1 is not a position in data"},
		{"[" + strings.Repeat("{index: 0, type: int, source: current_task, resolve: pid},", 4) + "]", "[]", path + ".data: the generic hook reads 5 values: 2 arguments and 4 data entries"},
	} {
		if _, err := compile(tc.data, tc.match); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.data, err, tc.want)
		}
	}
}
