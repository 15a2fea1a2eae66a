package symbolize

import (
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// elfSyms is the function symbols of an ELF file, sorted by their offset
// in the file and packed: the name of symbol i is names[ends[i-1]:ends[i]].
type elfSyms struct {
	offs  []uint64
	sizes []uint32
	ends  []uint32
	names string
}

// lookup is the function whose code holds file offset off, or "".
func (e *elfSyms) lookup(off uint64) string {
	i := sort.Search(len(e.offs), func(i int) bool { return e.offs[i] > off }) - 1
	if i < 0 || off-e.offs[i] >= max(uint64(e.sizes[i]), 1) {
		return ""
	}
	start := uint32(0)
	if i > 0 {
		start = e.ends[i-1]
	}
	return e.names[start:e.ends[i]]
}

func (e *elfSyms) len() int { return len(e.offs) }

// elfSym is one function symbol, while loading.
type elfSym struct {
	off  uint64
	size uint64
	name string
	bind elf.SymBind
}

// errTooManySymbols refuses a file whose symbols would not fit the cache.
var errTooManySymbols = errors.New("more function symbols than the cache holds")

// loadELF reads the function symbols of an ELF file, from its symbol
// table and its dynamic one (or, in a stripped Go program, its pclntab),
// with their offsets in the file; at most limit of them, or none.
func loadELF(r io.ReaderAt, limit int) (*elfSyms, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var syms []elfSym
	for _, read := range []func() ([]elf.Symbol, error){f.Symbols, f.DynamicSymbols} {
		table, err := read()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return nil, err
		}
		syms = appendFuncs(syms, table, f.Progs)
		if len(syms) > 2*limit { // both tables list the exported ones
			return nil, fmt.Errorf("%w (%d)", errTooManySymbols, limit)
		}
	}
	if f.Section(".symtab") == nil {
		if syms, err = appendGoFuncs(syms, f, limit); err != nil {
			return nil, err
		}
	}
	syms = dedupe(syms)
	if len(syms) > limit {
		return nil, fmt.Errorf("%w (%d)", errTooManySymbols, limit)
	}
	return packELF(syms), nil
}

// appendFuncs appends the defined functions of table, at their offsets in
// the file (by the loadable segment that holds them).
func appendFuncs(syms []elfSym, table []elf.Symbol, progs []*elf.Prog) []elfSym {
	for _, s := range table {
		typ := elf.ST_TYPE(s.Info)
		if (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) || s.Section == elf.SHN_UNDEF || s.Value == 0 {
			continue
		}
		if off, ok := fileOffset(s.Value, progs); ok {
			syms = append(syms, elfSym{off: off, size: s.Size, name: s.Name, bind: elf.ST_BIND(s.Info)})
		}
	}
	return syms
}

// appendGoFuncs appends the functions of a Go program's pclntab, which a
// stripped Go binary (no .symtab) still has.
func appendGoFuncs(syms []elfSym, f *elf.File, limit int) ([]elfSym, error) {
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return syms, nil
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, err
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, err
	}
	if len(tab.Funcs) > limit {
		return nil, fmt.Errorf("%w (%d)", errTooManySymbols, limit)
	}
	for _, fn := range tab.Funcs {
		if off, ok := fileOffset(fn.Entry, f.Progs); ok {
			syms = append(syms, elfSym{off: off, size: fn.End - fn.Entry, name: fn.Name, bind: elf.STB_GLOBAL})
		}
	}
	return syms, nil
}

// fileOffset is where virtual address v of the file's image lies in it.
func fileOffset(v uint64, progs []*elf.Prog) (uint64, bool) {
	for _, p := range progs {
		if p.Type == elf.PT_LOAD && v >= p.Vaddr && v < p.Vaddr+p.Filesz {
			return v - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}

// dedupe sorts syms by offset and keeps one name per offset: of aliases
// (open, open64, __open), the global one, then the one with the fewest
// leading underscores, then the shortest.
func dedupe(syms []elfSym) []elfSym {
	slices.SortFunc(syms, func(a, b elfSym) int {
		if a.off != b.off {
			return cmpU64(a.off, b.off)
		}
		return cmpAlias(a, b)
	})
	return slices.CompactFunc(syms, func(a, b elfSym) bool { return a.off == b.off })
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpAlias orders two symbols at the same offset, the preferred first.
func cmpAlias(a, b elfSym) int {
	ua := len(a.name) - len(strings.TrimLeft(a.name, "_"))
	ub := len(b.name) - len(strings.TrimLeft(b.name, "_"))
	switch {
	case bindRank(a.bind) != bindRank(b.bind):
		return bindRank(a.bind) - bindRank(b.bind)
	case ua != ub:
		return ua - ub
	case len(a.name) != len(b.name):
		return len(a.name) - len(b.name)
	}
	return strings.Compare(a.name, b.name)
}

// bindRank orders symbol bindings: global, weak, then local.
func bindRank(b elf.SymBind) int {
	switch b {
	case elf.STB_GLOBAL:
		return 0
	case elf.STB_WEAK:
		return 1
	}
	return 2
}

func packELF(syms []elfSym) *elfSyms {
	e := &elfSyms{offs: make([]uint64, len(syms)), sizes: make([]uint32, len(syms)), ends: make([]uint32, len(syms))}
	var names strings.Builder
	for i, s := range syms {
		names.WriteString(s.name)
		e.offs[i], e.sizes[i], e.ends[i] = s.off, uint32(min(s.size, 1<<32-1)), uint32(names.Len())
	}
	e.names = names.String()
	return e
}
