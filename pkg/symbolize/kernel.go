package symbolize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// recheck is how often, at most, Kernel looks at whether the kernel's
// modules changed, and retries a table it could not read.
const recheck = time.Second

// Kernel names kernel addresses with the function symbols of
// /proc/kallsyms. It reads the table on first use, and again when the
// loaded modules change (which it checks at most once a second) or when
// the generation its caller passes changes (the caller loaded BPF
// programs, which kallsyms lists as "[bpf]"). The table holds what
// kallsyms lists, packed: about 30 bytes per kernel function. Not safe
// for concurrent use.
type Kernel struct {
	kallsyms, modules string // the files read
	tab               *ksymTable
	gen               uint64    // the caller's generation when tab was read
	modHash           uint64    // of the modules file when tab was read
	checked           time.Time // when the modules file was last looked at
	err               error     // why the last read failed
}

// NewKernel returns a Kernel that reads /proc/kallsyms.
func NewKernel() *Kernel {
	return &Kernel{kallsyms: "/proc/kallsyms", modules: "/proc/modules"}
}

// Frames names the addresses of a kernel stack, innermost first, leaving
// out the leading frames of BPF programs and trampolines (the hook's own
// program, which collected the stack): the stack starts at the traced
// code. gen is the caller's count of BPF program loads. The error says
// why the frames are Unknown: kallsyms unreadable, or its addresses
// hidden (kptr_restrict).
func (k *Kernel) Frames(addrs []uint64, gen uint64) ([]Frame, error) {
	k.refresh(gen)
	out := make([]Frame, 0, len(addrs))
	for _, a := range addrs {
		f := Frame{Address: a, Symbol: Unknown}
		if k.tab != nil {
			f = k.tab.lookup(a)
		}
		if len(out) == 0 && f.Module == "[bpf]" {
			continue
		}
		out = append(out, f)
	}
	if k.tab == nil {
		return out, k.err
	}
	return out, nil
}

// refresh reads the table when it has none, or when it is stale; after
// a failed read, not again for a while.
func (k *Kernel) refresh(gen uint64) {
	now := time.Now()
	fresh := k.tab != nil && gen == k.gen
	if (fresh || k.err != nil) && now.Sub(k.checked) < recheck {
		return
	}
	k.checked = now
	mods := hashFile(k.modules)
	if fresh && mods == k.modHash {
		return
	}
	tab, err := readKallsyms(k.kallsyms)
	if err != nil {
		k.err = err
		return // keep the previous table, if any
	}
	k.tab, k.gen, k.modHash, k.err = tab, gen, mods, nil
}

// hashFile is a hash of a file's content, 0 when it cannot be read.
func hashFile(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// ksymTable is kallsyms' function symbols sorted by address, packed: the
// name of symbol i is names[ends[i-1]:ends[i]].
type ksymTable struct {
	addrs   []uint64
	ends    []uint32
	names   string
	mods    []uint16 // index in modules; 0 is the kernel itself
	modules []string // "[name]", modules[0] = ""
}

// lookup names address a: the function it falls in, the offset into it.
func (t *ksymTable) lookup(a uint64) Frame {
	i := sort.Search(len(t.addrs), func(i int) bool { return t.addrs[i] > a }) - 1
	if i < 0 {
		return Frame{Address: a, Symbol: Unknown}
	}
	start := uint32(0)
	if i > 0 {
		start = t.ends[i-1]
	}
	return Frame{Address: a, Offset: a - t.addrs[i], Symbol: t.names[start:t.ends[i]], Module: t.modules[t.mods[i]]}
}

func (t *ksymTable) len() int { return len(t.addrs) }

func readKallsyms(path string) (*ksymTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseKallsyms(f)
}

// ksym is one line of kallsyms, while parsing.
type ksym struct {
	addr uint64
	name string
	mod  uint16
}

// parseKallsyms reads the function symbols (types t, T, w, W) of a
// kallsyms file: "address type name [module]" per line.
func parseKallsyms(r io.Reader) (*ksymTable, error) {
	var syms []ksym
	modules, modIdx := []string{""}, map[string]uint16{"": 0}
	hidden := false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 3 || len(fields[1]) != 1 || !bytes.ContainsAny(fields[1], "tTwW") {
			continue
		}
		addr, err := strconv.ParseUint(string(fields[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("kallsyms: address %q: %v", fields[0], err)
		}
		if addr == 0 {
			hidden = true
			continue
		}
		s := ksym{addr: addr, name: string(fields[2])}
		if len(fields) > 3 && len(modules) < 1<<16 {
			s.mod = moduleIndex(string(fields[3]), &modules, modIdx)
		}
		syms = append(syms, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("kallsyms: %w", err)
	}
	if len(syms) == 0 {
		if hidden {
			return nil, errors.New("kallsyms: the kernel hides symbol addresses (kernel.kptr_restrict, or no CAP_SYSLOG)")
		}
		return nil, errors.New("kallsyms: no function symbols")
	}
	return pack(syms, modules), nil
}

// moduleIndex is the index of module ("[name]") in modules, added if new.
func moduleIndex(module string, modules *[]string, idx map[string]uint16) uint16 {
	if i, ok := idx[module]; ok {
		return i
	}
	i := uint16(len(*modules))
	idx[module] = i
	*modules = append(*modules, module)
	return i
}

// pack sorts syms by address and packs them into a table.
func pack(syms []ksym, modules []string) *ksymTable {
	slices.SortStableFunc(syms, func(a, b ksym) int {
		switch {
		case a.addr < b.addr:
			return -1
		case a.addr > b.addr:
			return 1
		}
		return 0
	})
	t := &ksymTable{addrs: make([]uint64, len(syms)), ends: make([]uint32, len(syms)),
		mods: make([]uint16, len(syms)), modules: modules}
	var names strings.Builder
	for i, s := range syms {
		names.WriteString(s.name)
		t.addrs[i], t.ends[i], t.mods[i] = s.addr, uint32(names.Len()), s.mod
	}
	t.names = names.String()
	return t
}
