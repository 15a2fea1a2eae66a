package tracing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
)

//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target amd64 -no-global-types -cflags "-O2 -g -Wall -Werror -I../../bpf/include" selector ../../bpf/tests/selector_test.bpf.c

// caseDataLen is CASE_DATA_LEN of bpf/tests/selector_test.bpf.c: a given
// slot holds fewer bytes than that.
const caseDataLen = 256

// selCase mirrors struct sel_case: the hook to evaluate and its arguments.
type selCase struct {
	HookID uint32
	Given  uint32 // bit i: slot i's bytes are Data[i], not read_arg's
	Raw    [8]uint64
	Ret    int64
	AtExit uint8
	Pad    [7]uint8
	Len    [MaxArgs]uint16
	Pad2   [3]uint16
	Data   [MaxArgs][caseDataLen]uint8
}

// selResult mirrors struct sel_result: what the selectors made of a case.
type selResult struct {
	Selector int32 // the first selector that holds, or -1
	Failed   uint32
	ReadNs   uint64
	SelectNs uint64
	ArgVal   [MaxArgs]int64
	ArgLen   [MaxArgs]uint16
	Pad      [3]uint16
	Quick    uint32 // 1: the hook's prefilter let the case through
	Pad2     uint32
}

// slot is an argument slot of a case: its type and what the backend
// leaves for it (raw, or the address of mem in this process), or the
// bytes read_arg would have put in the event (given: kernel objects the
// test cannot make, such as a struct file or a struct sock).
type slot struct {
	typ      uint8
	raw      uint64
	mem      []byte
	given    []byte
	sizeSlot uint8 // ArgCharBuf: the slot that holds the size
}

// cnd is a condition of a case, with its values rather than set ids.
type cnd struct {
	sel, subj, op uint8
	neg           bool
	ints          []int64 // in v1 and v2 when at most two, unless inSet
	inSet         bool    // ints go to a set however few (pid, ns conditions)
	strs          []string
	cidrs         []string
	v1, v2        int64 // bounds, masks, flags, kinds
}

// selSpec is a row of the selector table: a hook's slots and conditions,
// and the selector that must match (-1: none).
type selSpec struct {
	name    string
	slots   []slot
	indexes []uint8 // the raw slot each argument slot reads; nil: its own
	conds   []cnd
	noSel   bool // a hook without selectors: every call matches
	atExit  uint8
	ret     int64
	proc    *procEntry // the test process's entry in the process map
	want    int32
	// rejected: the hook's prefilter (Quick) turns the case away. Every
	// case that matches must pass it.
	rejected bool
}

// procEntry mirrors struct proc_entry of bpf/include/process.h.
type procEntry struct {
	Ident  ExecIdent
	Parent ExecIdent
	Flags  uint32
	Pad    uint32
	Ns     [NsMax]uint32
	Caps   [3]uint64 // by CapSet*
}

// selRunner runs cases through the selector test program.
type selRunner struct {
	objs    selectorObjects
	nextSet uint32
	strs    []StrKey // the sets' values, for the prefilter
	ints    []IntKey
	quick   Quick // the installed hook's prefilter
}

// newSelRunner loads the selector test program, or skips the test when
// the kernel cannot run it with BPF_PROG_TEST_RUN.
func newSelRunner(t *testing.T) *selRunner {
	t.Helper()
	r := &selRunner{nextSet: 1}
	// before 5.11 maps count against RLIMIT_MEMLOCK, as Load lifts it
	if err := rlimit.RemoveMemlock(); err != nil {
		t.Fatal(err)
	}
	if err := loadSelectorObjects(&r.objs, nil); err != nil {
		t.Fatalf("loading the selector test program: %v", describe(err))
	}
	t.Cleanup(func() { _ = r.objs.Close() })
	if _, err := r.objs.SelectorTest.Run(&ebpf.RunOptions{}); errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("the kernel lacks BPF_PROG_TEST_RUN for raw tracepoint programs: %v", err)
	}
	return r
}

// hookConfig compiles spec's conditions into hook 1's config, writing
// their values to fresh sets.
func (r *selRunner) hookConfig(spec selSpec) (HookConfig, error) {
	cfg := HookConfig{HookID: 1, PolicyID: 1, NArgs: uint8(len(spec.slots)), AtExit: spec.atExit}
	for i, s := range spec.slots {
		cfg.ArgType[i], cfg.ArgIndex[i], cfg.ArgSize[i] = s.typ, uint8(i), s.sizeSlot
	}
	copy(cfg.ArgIndex[:], spec.indexes)
	cfg.NConds = uint8(len(spec.conds))
	for i, c := range spec.conds {
		cd, err := r.cond(c)
		if err != nil {
			return cfg, fmt.Errorf("condition %d: %w", i, err)
		}
		cfg.Conds[i] = cd
		cfg.NSelectors = max(cfg.NSelectors, c.sel+1)
		cfg.Actions[c.sel] = SelAction{Post: 1}
	}
	if spec.noSel {
		cfg.NSelectors = 0
	}
	cfg.Quick = quickFilter(&cfg, r.strs, r.ints)
	return cfg, nil
}

// cond compiles one condition, its values into a new set when they do not
// fit in v1 and v2.
func (r *selRunner) cond(c cnd) (Cond, error) {
	cd := Cond{Selector: c.sel, Subject: c.subj, Op: c.op, V1: c.v1, V2: c.v2}
	if c.neg {
		cd.Negate = 1
	}
	switch {
	case len(c.strs) > 0:
		cd.SetID = r.newSet()
		return cd, r.putStrs(cd.SetID, c.op, c.strs)
	case len(c.cidrs) > 0:
		cd.SetID = r.newSet()
		return cd, r.putCIDRs(cd.SetID, c.cidrs)
	case len(c.ints) > 0 && len(c.ints) <= 2 && !c.inSet:
		cd.V1, cd.V2 = c.ints[0], c.ints[len(c.ints)-1]
	case len(c.ints) > 0:
		cd.SetID = r.newSet()
		return cd, r.putInts(cd.SetID, c.ints)
	}
	return cd, nil
}

func (r *selRunner) newSet() uint32 {
	r.nextSet++
	return r.nextSet
}

// putStrs adds a string set as the policy compiler does: exact values with
// their NUL, prefixes as they are, postfixes reversed.
func (r *selRunner) putStrs(set uint32, op uint8, values []string) error {
	for _, v := range values {
		k := StrKey{SetID: set, Prefixlen: uint32(32 + 8*len(v))}
		switch op {
		case CondPostfix:
			for j := range len(v) {
				k.Data[j] = v[len(v)-1-j]
			}
		case CondPrefix:
			copy(k.Data[:], v)
		default:
			copy(k.Data[:], v)
			k.Prefixlen += 8
		}
		r.strs = append(r.strs, k)
		if err := r.objs.StrSets.Update(&k, uint8(1), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("string set: %w", err)
		}
	}
	return nil
}

func (r *selRunner) putInts(set uint32, values []int64) error {
	for _, v := range values {
		r.ints = append(r.ints, IntKey{SetID: set, Value: v})
		if err := r.objs.IntSets.Update(&IntKey{SetID: set, Value: v}, uint8(1), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("integer set: %w", err)
		}
	}
	return nil
}

func (r *selRunner) putCIDRs(set uint32, cidrs []string) error {
	for _, c := range cidrs {
		p := netip.MustParsePrefix(c)
		k := AddrKey{SetID: set, Family: 2, Prefixlen: uint32(32 + 8 + p.Bits())}
		if p.Addr().Is6() {
			k.Family = 10
		}
		copy(k.Addr[:], p.Addr().AsSlice())
		if err := r.objs.AddrSets.Update(&k, uint8(1), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("address set: %w", err)
		}
	}
	return nil
}

// input builds the case the program reads. Memory that raw values point
// to is pinned until unpin is called.
func input(spec selSpec, pin *runtime.Pinner) selCase {
	c := selCase{HookID: 1, Ret: spec.ret, AtExit: spec.atExit}
	for i, s := range spec.slots {
		idx := i
		if i < len(spec.indexes) {
			idx = int(spec.indexes[i])
		}
		c.Raw[idx] = s.raw
		if s.mem != nil {
			pin.Pin(&s.mem[0])
			c.Raw[idx] = uint64(uintptr(unsafe.Pointer(&s.mem[0])))
		}
		if s.given != nil {
			c.Given |= 1 << i
			c.Len[i] = uint16(copy(c.Data[i][:], s.given))
		}
	}
	return c
}

// run evaluates spec once: the program's result and how long the
// BPF_PROG_TEST_RUN call took.
func (r *selRunner) run(spec selSpec) (selResult, time.Duration, error) {
	var res selResult
	var pin runtime.Pinner
	defer pin.Unpin()
	c := input(spec, &pin)
	if err := r.objs.SelCases.Put(uint32(0), &c); err != nil {
		return res, 0, err
	}
	start := time.Now()
	ret, err := r.objs.SelectorTest.Run(&ebpf.RunOptions{})
	took := time.Since(start)
	if err != nil {
		return res, took, err
	}
	if ret != 1 {
		return res, took, fmt.Errorf("the program found no case or hook config (returned %d)", ret)
	}
	return res, took, r.objs.SelResults.Lookup(uint32(0), &res)
}

// selRuns is how many times each case runs; the log shows the medians.
const selRuns = 9

// check runs spec selRuns times, fails the test when a run does not
// select spec.want, and logs the median times; it returns the median time
// the selectors took.
func (r *selRunner) check(t *testing.T, spec selSpec) time.Duration {
	t.Helper()
	r.install(t, spec)
	var sel, read, call []time.Duration
	for range selRuns {
		res, took, err := r.run(spec)
		if err != nil {
			t.Fatalf("BPF_PROG_TEST_RUN: %v", err)
		}
		if res.Selector != spec.want {
			t.Fatalf("selector %d matched (failed selectors %#x, arguments %v, lengths %v), want %d",
				res.Selector, res.Failed, res.ArgVal, res.ArgLen, spec.want)
		}
		if passed := res.Quick == 1; (spec.rejected && passed) || (res.Selector >= 0 && !passed) {
			t.Fatalf("the prefilter %+v let the case through: %v, want %v", r.quick, passed, !spec.rejected)
		}
		sel = append(sel, time.Duration(res.SelectNs))
		read = append(read, time.Duration(res.ReadNs))
		call = append(call, took)
	}
	t.Logf("select %.3f µs, read arguments %.3f µs, whole BPF_PROG_TEST_RUN call %.1f µs (medians of %d runs)",
		micros(median(sel)), micros(median(read)), micros(median(call)), selRuns)
	return median(sel)
}

// install writes spec's hook config, its sets and its process entry.
func (r *selRunner) install(t *testing.T, spec selSpec) {
	t.Helper()
	cfg, err := r.hookConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.objs.HookConfigs.Put(uint32(1), &cfg); err != nil {
		t.Fatal(err)
	}
	r.quick = cfg.Quick
	if spec.proc != nil {
		r.putProc(t, spec.proc)
	}
}

// putProc puts p in the process map as the test process's entry until
// the end of the (sub)test.
func (r *selRunner) putProc(t *testing.T, p *procEntry) {
	t.Helper()
	tgid := uint32(os.Getpid())
	if err := r.objs.Procs.Put(tgid, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.objs.Procs.Delete(tgid) })
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// TestSelectorTestLayout checks the Go mirrors of the test program's case
// and result against its BTF.
func TestSelectorTestLayout(t *testing.T) {
	spec, err := loadSelector()
	if err != nil {
		t.Fatal(err)
	}
	for name, mirror := range map[string]any{"sel_case": selCase{}, "sel_result": selResult{}, "proc_entry": procEntry{}} {
		var st *btf.Struct
		if err := spec.Types.TypeByName(name, &st); err != nil {
			t.Fatalf("struct %s: %v", name, err)
		}
		compare(t, name, st, reflect.TypeOf(mirror))
	}
}

// TestSelectors runs the generic hook's selector code (selector.h and
// args.h of bpf/include, built into bpf/tests/selector_test.bpf.c) over
// every operator and argument type through BPF_PROG_TEST_RUN, and logs
// how long each case takes.
func TestSelectors(t *testing.T) {
	r := newSelRunner(t)
	groups := []struct {
		name  string
		specs []selSpec
	}{
		{"int", intSpecs()},
		{"string", stringSpecs(t)},
		{"net", netSpecs()},
		{"subject", subjectSpecs(t)},
		{"selectors", selectionSpecs()},
		{"prefilter", prefilterSpecs()},
	}
	for _, g := range groups {
		var times []time.Duration
		t.Run(g.name, func(t *testing.T) {
			for _, spec := range g.specs {
				t.Run(spec.name, func(t *testing.T) { times = append(times, r.check(t, spec)) })
			}
		})
		if len(times) > 0 {
			t.Logf("%s: %d cases, select median %.3f µs, slowest %.3f µs", g.name, len(times),
				micros(median(times)), micros(slices.Max(times)))
		}
	}
}

// appendStruct is v's bytes, as the kernel lays it out.
func appendStruct(v any) []byte {
	b, err := binary.Append(nil, binary.NativeEndian, v)
	if err != nil {
		panic(err)
	}
	return b
}
