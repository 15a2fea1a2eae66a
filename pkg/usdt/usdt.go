// Package usdt reads the USDT probes of an x86-64 ELF binary (SystemTap's
// SDT notes, section .note.stapsdt): where each probe is in the file, its
// semaphore, and where each of its arguments is when the probe fires, in
// the form the generic USDT program reads (tracing.USDTArg).
package usdt

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Probe is one place of a USDT (a probe inlined twice has two).
type Probe struct {
	Provider, Name string
	// Offset is the probe's place in the file, Semaphore its semaphore's
	// (0: none): what a uprobe and its reference counter take.
	Offset, Semaphore uint64
	Args              []tracing.USDTArg
}

// maxNotes bounds the notes read from one binary.
const maxNotes = 65536

// Find returns the places of provider's probe name in the binary.
func Find(path, provider, name string) ([]Probe, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	all, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Probe
	for _, p := range all {
		if p.Provider == provider && p.Name == name {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no USDT %s:%s (%d USDTs in all)", path, provider, name, len(all))
	}
	return out, nil
}

// Read returns every probe of the binary's SDT notes.
func Read(f *elf.File) ([]Probe, error) {
	if f.Machine != elf.EM_X86_64 || f.Class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("USDT arguments are read on x86-64 binaries only, not %v %v", f.Class, f.Machine)
	}
	sec := f.Section(".note.stapsdt")
	if sec == nil {
		return nil, errors.New("no .note.stapsdt section: the binary has no USDT probes")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".note.stapsdt: %w", err)
	}
	var baseAddr uint64 // where .stapsdt.base is: notes hold where it was at link time
	if b := f.Section(".stapsdt.base"); b != nil {
		baseAddr = b.Addr
	}
	var out []Probe
	for len(data) > 0 && len(out) < maxNotes {
		desc, rest, err := nextNote(data)
		if err != nil {
			return nil, err
		}
		data = rest
		if desc == nil {
			continue
		}
		p, err := probe(f, desc, baseAddr)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// nextNote splits off data's first note: its description when it is an
// SDT note (owner "stapsdt", type 3), else nil.
func nextNote(data []byte) (desc, rest []byte, err error) {
	if len(data) < 12 {
		return nil, nil, errors.New("a note is cut short")
	}
	nameLen, descLen := binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:])
	typ := binary.LittleEndian.Uint32(data[8:])
	nameEnd := 12 + align4(uint64(nameLen))
	end := nameEnd + align4(uint64(descLen))
	if end > uint64(len(data)) {
		return nil, nil, errors.New("a note runs past its section")
	}
	rest = data[end:]
	if typ != 3 || string(bytes.TrimRight(data[12:12+nameLen], "\x00")) != "stapsdt" {
		return nil, rest, nil
	}
	return data[nameEnd : nameEnd+uint64(descLen)], rest, nil
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// probe reads an SDT note's description: the probe's address, the link-time
// address of .stapsdt.base, the semaphore's address, then provider, name
// and argument specs as strings.
func probe(f *elf.File, desc []byte, baseAddr uint64) (Probe, error) {
	if len(desc) < 24 {
		return Probe{}, errors.New("an SDT note is cut short")
	}
	pc, base, sem := binary.LittleEndian.Uint64(desc), binary.LittleEndian.Uint64(desc[8:]), binary.LittleEndian.Uint64(desc[16:])
	strs := strings.SplitN(string(desc[24:]), "\x00", 4)
	if len(strs) < 3 {
		return Probe{}, errors.New("an SDT note lacks its provider, name or arguments")
	}
	p := Probe{Provider: strs[0], Name: strs[1]}
	if baseAddr != 0 && base != 0 {
		pc += baseAddr - base // prelinked or moved: as the base section moved
		if sem != 0 {
			sem += baseAddr - base
		}
	}
	var err error
	if p.Offset, err = FileOffset(f, pc); err != nil {
		return p, fmt.Errorf("USDT %s:%s: %w", p.Provider, p.Name, err)
	}
	if sem != 0 {
		if p.Semaphore, err = FileOffset(f, sem); err != nil {
			return p, fmt.Errorf("USDT %s:%s: semaphore: %w", p.Provider, p.Name, err)
		}
	}
	if p.Args, err = Args(strs[2]); err != nil {
		return p, fmt.Errorf("USDT %s:%s: %w", p.Provider, p.Name, err)
	}
	return p, nil
}

// FileOffset converts a virtual address of f to its offset in the file,
// through the loadable segment that holds it.
func FileOffset(f *elf.File, addr uint64) (uint64, error) {
	i := slices.IndexFunc(f.Progs, func(p *elf.Prog) bool {
		return p.Type == elf.PT_LOAD && addr >= p.Vaddr && addr-p.Vaddr < p.Filesz
	})
	if i < 0 {
		return 0, fmt.Errorf("address %#x is in no loadable segment", addr)
	}
	return addr - f.Progs[i].Vaddr + f.Progs[i].Off, nil
}

// maxArgs is the most arguments an SDT note gives (sys/sdt.h's).
const maxArgs = 12

// Args parses an SDT note's argument specs, "SIZE@LOCATION" separated by
// spaces: SIZE is 1, 2, 4 or 8 bytes, negative when signed; LOCATION a
// constant ($-7), a register (%edi), or memory (-8(%rbp), 8(%rax,%rbx,4)).
func Args(specs string) ([]tracing.USDTArg, error) {
	fields := strings.Fields(specs)
	if len(fields) > maxArgs {
		return nil, fmt.Errorf("%d arguments, an SDT note has at most %d", len(fields), maxArgs)
	}
	out := make([]tracing.USDTArg, len(fields))
	for i, s := range fields {
		a, err := arg(s)
		if err != nil {
			return nil, fmt.Errorf("argument %d %q: %w", i, s, err)
		}
		out[i] = a
	}
	return out, nil
}

func arg(s string) (tracing.USDTArg, error) {
	var a tracing.USDTArg
	size, loc, ok := strings.Cut(s, "@")
	if !ok {
		return a, errors.New("no SIZE@ before the location")
	}
	n, err := strconv.Atoi(size)
	if n < 0 {
		a.Sig, n = 1, -n
	}
	if err != nil || (n != 1 && n != 2 && n != 4 && n != 8) {
		return a, fmt.Errorf("size %q is not 1, 2, 4 or 8 bytes", size)
	}
	a.Shift = uint8(64 - 8*n)
	switch {
	case strings.HasPrefix(loc, "$"):
		a.Kind = tracing.USDTConst
		a.Val, err = strconv.ParseInt(loc[1:], 0, 64)
		return a, err
	case strings.HasPrefix(loc, "%"):
		a.Kind = tracing.USDTReg
		a.Reg, err = register(loc)
		return a, err
	}
	return a, memory(loc, &a)
}

// memory parses "DISP(%base)" or "DISP(%base,%index,SCALE)".
func memory(loc string, a *tracing.USDTArg) error {
	disp, inner, ok := strings.Cut(loc, "(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return fmt.Errorf("location %q is not $const, %%reg or disp(%%reg)", loc)
	}
	if disp != "" {
		v, err := strconv.ParseInt(disp, 0, 64)
		if err != nil {
			return fmt.Errorf("displacement %q: %w", disp, err)
		}
		a.Val = v
	}
	parts := strings.Split(strings.TrimSuffix(inner, ")"), ",")
	var err error
	if a.Reg, err = register(parts[0]); err != nil {
		return err
	}
	a.Kind = tracing.USDTDeref
	if len(parts) == 1 {
		return nil
	}
	if len(parts) != 3 {
		return fmt.Errorf("location %q: want (%%base,%%index,scale)", loc)
	}
	a.Kind = tracing.USDTSIB
	if a.Index, err = register(parts[1]); err != nil {
		return err
	}
	scales := map[string]uint8{"1": 0, "2": 1, "4": 2, "8": 3}
	scale, ok := scales[parts[2]]
	if !ok {
		return fmt.Errorf("scale %q is not 1, 2, 4 or 8", parts[2])
	}
	a.Scale = scale
	return nil
}

// register is the offset in x86-64's struct pt_regs of the register a
// name (%rax, %eax, %ax, %al, %r8d, ...) reads the low bits of.
func register(name string) (uint16, error) {
	n := strings.TrimPrefix(name, "%")
	if off, ok := regOffsets[n]; ok {
		return off, nil
	}
	if t := strings.TrimRight(n, "dwb"); t != n && len(t) > 1 && t[1] >= '0' && t[1] <= '9' {
		if off, ok := regOffsets[t]; ok { // r8d, r10w, r15b
			return off, nil
		}
	}
	return 0, fmt.Errorf("%q is not an x86-64 register whose low bits an argument can be", name)
}

// regOffsets are x86-64 struct pt_regs's offsets, by every name of a
// register's parts.
var regOffsets = func() map[string]uint16 {
	m := map[string]uint16{}
	for off, names := range [][]string{
		{"r15"}, {"r14"}, {"r13"}, {"r12"}, {"rbp", "ebp", "bp", "bpl"}, {"rbx", "ebx", "bx", "bl"},
		{"r11"}, {"r10"}, {"r9"}, {"r8"}, {"rax", "eax", "ax", "al"}, {"rcx", "ecx", "cx", "cl"},
		{"rdx", "edx", "dx", "dl"}, {"rsi", "esi", "si", "sil"}, {"rdi", "edi", "di", "dil"},
		{}, {"rip"}, {}, {}, {"rsp", "esp", "sp", "spl"},
	} {
		for _, n := range names {
			m[n] = uint16(8 * off)
		}
	}
	return m
}()
