package tracing

import (
	"encoding/binary"
	"testing"
)

// TestQuickFilter checks which hooks get a prefilter and what it holds:
// only where every selector requires a value of one register, as read.
func TestQuickFilter(t *testing.T) {
	strKey := func(set uint32, v string, exact bool) StrKey {
		k := StrKey{SetID: set, Prefixlen: uint32(32 + 8*len(v))}
		copy(k.Data[:], v)
		if exact {
			k.Prefixlen += 8
		}
		return k
	}
	head := func(s string) uint64 {
		var w [8]byte
		copy(w[:], s)
		return binary.NativeEndian.Uint64(w[:])
	}
	strs := []StrKey{strKey(1, "/etc/shadow", true), strKey(2, "/usr/", false), strKey(3, "", false),
		strKey(4, "/a", true)}
	var ints []IntKey
	for v := range int64(9) {
		ints = append(ints, IntKey{SetID: 5, Value: v})
		if v < 5 {
			ints = append(ints, IntKey{SetID: 6, Value: 10 * v})
		}
	}
	base := func(conds ...Cond) HookConfig {
		cfg := HookConfig{NArgs: 2, ArgType: [MaxArgs]uint8{ArgString, ArgInt}, ArgIndex: [MaxArgs]uint8{1, 2}}
		for _, c := range conds {
			cfg.Conds[cfg.NConds] = c
			cfg.NConds++
			cfg.NSelectors = max(cfg.NSelectors, c.Selector+1)
		}
		return cfg
	}
	str := func(sel, op uint8, set uint32) Cond { return Cond{Selector: sel, Subject: 0, Op: op, SetID: set} }
	num := func(sel uint8, v1, v2 int64) Cond { return Cond{Selector: sel, Subject: 1, Op: CondEq, V1: v1, V2: v2} }
	for _, c := range []struct {
		name string
		cfg  HookConfig
		edit func(*HookConfig)
		want Quick
	}{
		{name: "eq string", cfg: base(str(0, CondEq, 1)),
			want: Quick{Kind: QuickStr, Reg: 1, Type: ArgString, N: 1, Mask: 1<<56 - 1, Vals: [8]uint64{head("/etc/sh")}}},
		{name: "short eq and a prefix in two selectors: the shortest sets the head", cfg: base(str(0, CondEq, 4), str(1, CondPrefix, 2)),
			want: Quick{Kind: QuickStr, Reg: 1, Type: ArgString, N: 2, Mask: 1<<24 - 1, Vals: [8]uint64{head("/a\x00"), head("/us")}}},
		{name: "inline integers", cfg: base(num(0, 7, 3)),
			want: Quick{Kind: QuickInt, Reg: 2, Type: ArgInt, N: 2, Vals: [8]uint64{3, 7}}},
		{name: "integer set", cfg: base(Cond{Subject: 1, Op: CondEq, SetID: 6}),
			want: Quick{Kind: QuickInt, Reg: 2, Type: ArgInt, N: 5, Vals: [8]uint64{0, 10, 20, 30, 40}}},
		{name: "the first usable condition of a selector", cfg: base(Cond{Subject: 1, Op: CondGT, V1: 4}, str(0, CondPrefix, 2)),
			want: Quick{Kind: QuickStr, Reg: 1, Type: ArgString, N: 1, Mask: 1<<40 - 1, Vals: [8]uint64{head("/usr/")}}},
		{name: "none: more values than it holds", cfg: base(Cond{Subject: 1, Op: CondEq, SetID: 5})},
		{name: "none: an empty prefix", cfg: base(str(0, CondPrefix, 3))},
		{name: "none: negated", cfg: base(Cond{Subject: 0, Op: CondEq, SetID: 1, Negate: 1})},
		{name: "none: postfix", cfg: base(str(0, CondPostfix, 2))},
		{name: "none: a selector without one", cfg: base(str(0, CondEq, 1), Cond{Selector: 1, Subject: 1, Op: CondGT, V1: 4})},
		{name: "none: two selectors on two slots", cfg: base(str(0, CondEq, 1), num(1, 1, 1))},
		{name: "none: no selectors", cfg: base()},
		{name: "none: at exit", cfg: base(num(0, 1, 1)), edit: func(c *HookConfig) { c.AtExit = 1 }},
		{name: "none: kernel memory", cfg: base(str(0, CondEq, 1)), edit: func(c *HookConfig) { c.KernelMem = 1 }},
		{name: "none: a resolve path", cfg: base(num(0, 1, 1)), edit: func(c *HookConfig) { c.NResolve[1] = 1 }},
		{name: "none: the current task", cfg: base(num(0, 1, 1)), edit: func(c *HookConfig) { c.FromTask = 2 }},
		{name: "none: an object", cfg: base(str(0, CondEq, 1)), edit: func(c *HookConfig) { c.ArgObj[0] = ObjNetDevice }},
		{name: "none: the return value", cfg: base(num(0, 1, 1)), edit: func(c *HookConfig) { c.ArgIndex[1] = RawRet }},
		{name: "none: a file's identity", cfg: base(Cond{Subject: 0, Op: CondEq, SetID: 1, V1: CondObjIdentity})},
		{name: "none: a file", cfg: base(str(0, CondEq, 1)), edit: func(c *HookConfig) { c.ArgType[0] = ArgFd }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.edit != nil {
				c.edit(&c.cfg)
			}
			if got := quickFilter(&c.cfg, strs, ints); got != c.want {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
