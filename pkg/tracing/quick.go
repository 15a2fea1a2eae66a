package tracing

import (
	"encoding/binary"
	"slices"
)

// Quick mirrors struct quick of bpf/include/generic.h: a syscall hook's
// prefilter, which the hook list checks before running the hook. The hook
// can only match when syscall register Reg, read as an integer of Type
// (QuickInt), or the first bytes of the user string it points to, up to
// its NUL and masked with Mask (QuickStr), is one of Vals[:N].
type Quick struct {
	Kind uint8
	Reg  uint8
	Type uint8
	N    uint8
	Pad  uint32
	Mask uint64
	Vals [QuickVals]uint64
}

// QuickVals is how many values a prefilter holds at most.
const QuickVals = 8

// Prefilter kinds, as in enum quick_kind.
const (
	QuickNone = iota
	QuickInt
	QuickStr
)

// quickHead is how many bytes of a string a prefilter compares at most:
// the kernel reads it into 8 bytes, the last one its NUL.
const quickHead = 7

// quickFilter derives a syscall hook's prefilter from its conditions and
// its program's value sets (ids local to the program). There is one only
// where it is exact: every selector has a positive Equal or Prefix
// condition on the same slot, which reads a syscall register as it is (an
// integer, or a string in user memory), and their values fit in Vals. A
// hook at exit has none: its entry must run to clear what it stashed.
func quickFilter(cfg *HookConfig, strs []StrKey, ints []IntKey) Quick {
	if cfg.AtExit != 0 || cfg.NSelectors == 0 {
		return Quick{}
	}
	conds := make([]*Cond, cfg.NSelectors)
	for i := range cfg.Conds[:cfg.NConds] {
		c := &cfg.Conds[i]
		if int(c.Selector) < len(conds) && conds[c.Selector] == nil && quickSlot(cfg, c) {
			conds[c.Selector] = c
		}
	}
	if slices.Contains(conds, nil) {
		return Quick{}
	}
	slot := conds[0].Subject
	for _, c := range conds {
		if c.Subject != slot {
			return Quick{}
		}
	}
	q := Quick{Reg: cfg.ArgIndex[slot], Type: cfg.ArgType[slot]}
	if q.Type == ArgString {
		return quickStrings(q, conds, strs)
	}
	return quickInts(q, conds, ints)
}

// quickSlot is whether c can be a prefilter: Equal on an integer, or
// Equal or Prefix on a string, not negated, on a slot that reads its
// register as it is.
func quickSlot(cfg *HookConfig, c *Cond) bool {
	i := int(c.Subject)
	if i >= MaxArgs || c.Negate != 0 {
		return false
	}
	if cfg.ArgIndex[i] >= RawRet || cfg.NResolve[i] != 0 || cfg.ArgObj[i] != ObjSelf ||
		(cfg.FromTask|cfg.KernelMem)&(1<<i) != 0 {
		return false
	}
	switch cfg.ArgType[i] {
	case ArgInt, ArgUint, ArgS8, ArgU8, ArgS16, ArgU16, ArgS64, ArgU64:
		return c.Op == CondEq
	case ArgString: // V1: flags (a file's identity), never on a string
		return (c.Op == CondEq || c.Op == CondPrefix) && c.V1 == 0
	}
	return false
}

func quickInts(q Quick, conds []*Cond, ints []IntKey) Quick {
	var vals []uint64
	for _, c := range conds {
		if c.SetID == 0 {
			vals = append(vals, uint64(c.V1), uint64(c.V2))
			continue
		}
		for _, k := range ints {
			if k.SetID == c.SetID {
				vals = append(vals, uint64(k.Value))
			}
		}
	}
	return q.with(QuickInt, vals)
}

// quickStrings compares the first bytes of the string, as many as the
// shortest value has (with its NUL for an exact one), up to quickHead.
func quickStrings(q Quick, conds []*Cond, strs []StrKey) Quick {
	var keys [][]byte
	head := quickHead
	for _, c := range conds {
		for _, k := range strs {
			if k.SetID == c.SetID {
				b := k.Data[:k.Prefixlen/8-4]
				keys = append(keys, b)
				head = min(head, len(b))
			}
		}
	}
	if head == 0 {
		return Quick{} // an empty prefix: every string matches
	}
	q.Mask = 1<<(8*head) - 1
	vals := make([]uint64, len(keys))
	for i, b := range keys {
		var w [8]byte
		copy(w[:], b[:head])
		vals[i] = binary.NativeEndian.Uint64(w[:])
	}
	return q.with(QuickStr, vals)
}

// with sets q's kind and values, or is no prefilter when they are more
// than it holds.
func (q Quick) with(kind uint8, vals []uint64) Quick {
	slices.Sort(vals)
	vals = slices.Compact(vals)
	if len(vals) == 0 || len(vals) > QuickVals {
		return Quick{}
	}
	q.Kind, q.N = kind, uint8(len(vals))
	copy(q.Vals[:], vals)
	return q
}
