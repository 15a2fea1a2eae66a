package compile

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// compileOn compiles the one policy of doc for a kernel with kprobes.
func compileOn(t *testing.T, doc string) (*Compiled, error) {
	t.Helper()
	ps, err := policy.Parse([]byte(doc), "t.yaml")
	if err != nil {
		return nil, err
	}
	return Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe)})
}

// TestArgTypesCorpusDocuments: the corpus documents that use Tetragon's
// kernel object types compile for a kernel with kprobes; those that also
// use a type Vigil does not read yet are refused at that type.
func TestArgTypesCorpusDocuments(t *testing.T) {
	const dir = "../policy/testdata/tetragon/examples/"
	for _, f := range []string{
		"policylibrary/privileges/privileges-raise.yaml",
		"tracingpolicy/process-credentials/creds-capability-usage.yaml",
		"tracingpolicy/security-socket-connect-block-others.yaml",
		"tracingpolicy/security_inode_follow_link.yaml",
		"tracingpolicy/dev_hard_start_xmit.yaml",
		"tracingpolicy/bpf.yaml",
		"policylibrary/bpf.yaml",
		"tracingpolicy/tty.yaml",
	} {
		ps, err := policy.ParseFile(dir + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compile(ps[0], Target{Kernel: kernelWith(probe.Kprobe, probe.Kretprobe, probe.OverrideReturn)}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestArgTypeSlots: each type reads the object its argument points to,
// as the type its selectors and events see.
func TestArgTypeSlots(t *testing.T) {
	for _, c := range []struct {
		call, typ string
		index     int
		argType   int
		obj       uint8
	}{
		{"security_socket_connect", "socket", 0, tracing.ArgSock, tracing.ObjSocket},
		{"tty_write", "kiocb", 0, tracing.ArgFile, tracing.ObjKiocb},
		{"dev_hard_start_xmit", "net_device", 1, tracing.ArgString, tracing.ObjNetDevice},
		{"security_inode_follow_link", "dentry", 0, tracing.ArgPath, tracing.ObjDentry},
		{"security_capset", "cap_effective", 2, tracing.ArgU64, tracing.ObjCaps},
		{"security_capset", "cap_inheritable", 3, tracing.ArgU64, tracing.ObjCaps},
		{"security_capset", "cap_permitted", 4, tracing.ArgU64, tracing.ObjCaps},
		{"security_capset", "kernel_cap_t", 4, tracing.ArgU64, tracing.ObjCaps},
		{"cap_capable", "user_namespace", 1, tracing.ArgUserNs, tracing.ObjSelf},
		{"bpf_check", "bpf_attr", 1, tracing.ArgBpfAttr, tracing.ObjSelf},
		{"security_bpf_prog", "bpf_prog", 0, tracing.ArgBpfProg, tracing.ObjSelf},
		{"security_bpf_map", "bpf_map", 0, tracing.ArgBpfMap, tracing.ObjSelf}, // on 5.10 too
		{"security_perf_event_alloc", "perf_event", 0, tracing.ArgPerfEvent, tracing.ObjSelf},
		{"generic_write_checks", "iov_iter", 1, tracing.ArgCharBuf, tracing.ObjIovIter},
	} {
		out, err := compileOn(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: types}
spec:
  kprobes:
  - call: `+c.call+`
    syscall: false
    args:
    - {index: `+string(rune('0'+c.index))+`, type: `+c.typ+`}
`)
		if err != nil {
			t.Errorf("%s: %v", c.typ, err)
			continue
		}
		cfg := out.Program.Funcs[0].Config
		if int(cfg.ArgType[0]) != c.argType || cfg.ArgObj[0] != c.obj || cfg.KernelMem&1 == 0 {
			t.Errorf("%s: slot type %d object %d kernel memory %b, want type %d object %d", c.typ,
				cfg.ArgType[0], cfg.ArgObj[0], cfg.KernelMem, c.argType, c.obj)
		}
	}
}

// TestArgTypeSelectors: the operators Tetragon applies to each type, and
// refusals (with the YAML path) of those it does not.
func TestArgTypeSelectors(t *testing.T) {
	hook := func(call, typ, op, values string) string {
		return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: sel}
spec:
  kprobes:
  - call: ` + call + `
    syscall: false
    args:
    - {index: 0, type: ` + typ + `}
    selectors:
    - matchArgs:
      - {index: 0, operator: ` + op + `, values: [` + values + `]}
`
	}
	for _, c := range []struct {
		name, doc string
		refused   string // the path of the refusal, "" when it compiles
		cond      tracing.Cond
	}{
		{"caps NotEqual 0", hook("security_capset", "cap_effective", "NotEqual", `"0"`), "",
			tracing.Cond{Op: tracing.CondEq, Negate: 1}},
		{"caps Equal by names", hook("security_capset", "cap_permitted", "Equal", `"CAP_SYS_ADMIN,cap_net_raw"`), "",
			tracing.Cond{Op: tracing.CondEq, V1: 1<<21 | 1<<13, V2: 1<<21 | 1<<13}},
		{"caps Mask", hook("security_capset", "cap_inheritable", "Mask", `"CAP_SETUID"`), "",
			tracing.Cond{Op: tracing.CondMask, V1: 1 << 7}},
		{"caps unknown name", hook("security_capset", "cap_effective", "Equal", `"CAP_NOPE"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].values[0]", tracing.Cond{}},
		{"caps Prefix", hook("security_capset", "cap_effective", "Prefix", `"CAP"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"net_device Equal", hook("dev_hard_start_xmit", "net_device", "Equal", `"lo"`), "",
			tracing.Cond{Op: tracing.CondEq}},
		{"net_device GT", hook("dev_hard_start_xmit", "net_device", "GT", `"1"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"socket Protocol", hook("security_socket_connect", "socket", "Protocol", `"IPPROTO_TCP"`), "",
			tracing.Cond{Op: tracing.CondProtocol, V1: 6, V2: 6}},
		{"socket Equal", hook("security_socket_connect", "socket", "Equal", `"1"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"dentry Postfix", hook("security_inode_follow_link", "dentry", "Postfix", `"link"`), "",
			tracing.Cond{Op: tracing.CondPostfix}},
		{"user_namespace", hook("cap_capable", "user_namespace", "Equal", `"0"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"bpf_attr", hook("bpf_check", "bpf_attr", "Prefix", `"x"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"bpf_map", hook("security_bpf_map", "bpf_map", "Equal", `"1"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"kiocb", hook("tty_write", "kiocb", "Prefix", `"/dev"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
		{"iov_iter", hook("tty_write", "iov_iter", "Prefix", `"x"`),
			"spec.kprobes[0].selectors[0].matchArgs[0].operator", tracing.Cond{}},
	} {
		out, err := compileOn(t, c.doc)
		if c.refused != "" {
			// by validation (with the file's line) or by the compiler
			if err == nil || !strings.Contains(err.Error(), c.refused+": ") {
				t.Errorf("%s: got %v, want a refusal at %s", c.name, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		cfg := out.Program.Funcs[0].Config
		got := cfg.Conds[0]
		if cfg.NConds != 1 || got.Op != c.cond.Op || got.Negate != c.cond.Negate || got.V1 != c.cond.V1 || got.V2 != c.cond.V2 {
			t.Errorf("%s: condition %+v, want %+v", c.name, got, c.cond)
		}
	}
}

// TestArgTypesRender: the new types' events, in Tetragon's JSON shape.
func TestArgTypesRender(t *testing.T) {
	enc := func(v any) []byte {
		b, err := binary.Append(nil, binary.NativeEndian, v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	prog := tracing.BpfProgArg{ProgType: 2, InsnCnt: 12}
	copy(prog.Name[:], "probe")
	bmap := tracing.BpfMapArg{MapType: 40, KeySize: 4, ValueSize: 8, MaxEntries: 16}
	copy(bmap.Name[:], "counts")
	h := &Hook{Args: []HookArg{
		{Type: tracing.ArgU64, As: "cap_effective"},
		{Type: tracing.ArgUserNs},
		{Type: tracing.ArgBpfAttr},
		{Type: tracing.ArgBpfMap},
		{Type: tracing.ArgU64, As: "kernel_cap_t"},
	}}
	g := &tracing.Generic{}
	g.ArgVal[0] = 1<<21 | 1
	g.Args[1] = enc(tracing.UserNsArg{Level: 1, UID: 1000, GID: 1000, Inum: 4026532000})
	g.Args[2] = enc(prog)
	g.Args[3] = enc(bmap)
	g.ArgVal[4] = 0x1ffffffffff
	b, err := json.Marshal(h.Event(g).Args)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"cap_effective_arg":"0000000000200001"},` +
		`{"user_ns_arg":{"level":1,"uid":1000,"gid":1000,"ns":{"inum":4026532000}}},` +
		`{"bpf_attr_arg":{"ProgType":"BPF_PROG_TYPE_KPROBE","InsnCnt":12,"ProgName":"probe"}},` +
		`{"bpf_map_arg":{"MapType":"40","KeySize":4,"ValueSize":8,"MaxEntries":16,"MapName":"counts"}},` +
		`{"kernel_cap_t_arg":"000001ffffffffff"}]`
	if string(b) != want {
		t.Errorf("args\n got %s\nwant %s", b, want)
	}
	pe := tracing.PerfEventArg{Type: 1, Config: 9, ProbeOffset: 16}
	copy(pe.KprobeFunc[:], "vfs_read")
	b, err = json.Marshal(renderArg(tracing.ArgPerfEvent, 0, enc(pe)))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"perf_event_arg":{"KprobeFunc":"vfs_read","Type":"PERF_TYPE_SOFTWARE","Config":"9","ProbeOffset":"16"}}`
	if string(b) != want {
		t.Errorf("perf event\n got %s\nwant %s", b, want)
	}
	host := userNs(enc(tracing.UserNsArg{Inum: 4026531837}))
	if !host.Ns.IsHost {
		t.Errorf("level 0 user namespace %+v is not the host's", host)
	}
	if len(bpfProgTypes) != 32 || bpfProgTypes[31] != "SYSCALL" || len(bpfMapTypes) != 31 || bpfMapTypes[30] != "BLOOM_FILTER" {
		t.Errorf("BPF type tables: %d program types, %d map types", len(bpfProgTypes), len(bpfMapTypes))
	}
}

// TestNarrowIntegerTypes: Tetragon's 8- and 16-bit types (and its sint
// spellings) read a register's low bits, signed or not, and show as
// int_arg or uint_arg.
func TestNarrowIntegerTypes(t *testing.T) {
	c, err := compileOn(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: narrow}
spec:
  kprobes:
  - call: sys_dup3
    syscall: true
    args: [{index: 0, type: sint8}, {index: 1, type: uint16}, {index: 2, type: sint32}]
`)
	if err != nil {
		t.Fatal(err)
	}
	var cfg tracing.HookConfig
	if len(c.Program.Funcs) > 0 {
		cfg = c.Program.Funcs[0].Config
	} else {
		cfg = c.Program.Hooks[0].Config
	}
	if got := cfg.ArgType[:3]; got[0] != tracing.ArgS8 || got[1] != tracing.ArgU16 || got[2] != tracing.ArgInt {
		t.Errorf("types %v, want s8, u16, int", got)
	}
	if a := renderArg(tracing.ArgS8, -2, nil); a.IntArg == nil || *a.IntArg != -2 {
		t.Errorf("s8 -2 shows as %+v", a)
	}
	if a := renderArg(tracing.ArgU16, 0x9d9c, nil); a.UintArg == nil || *a.UintArg != 0x9d9c {
		t.Errorf("u16 shows as %+v", a)
	}
}
