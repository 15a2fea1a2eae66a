// Package usdttest writes, for tests, a static x86-64 program with one
// USDT probe and a semaphore, without a toolchain: the probe's arguments
// are a register (42), memory at a register plus 8 (1234567) and a
// constant (-7); then it calls a function, which returns Returns with its
// first argument Arg0, and exits with its semaphore's value, which is 1
// only while a probe with that semaphore as its reference counter is
// attached (or, written by WriteExit, with Arg1's low byte after the
// probe: what a Set action wrote there).
package usdttest

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
)

// The probe and its arguments.
const (
	Provider = "vigil"
	Name     = "probe"
	Arg0     = 42
	Arg1     = 1234567
	Arg2     = -7
	Args     = "-4@%edi 8@8(%rsi) -4@$-7"
	Returns  = 1234
)

// Base is where the program's file is mapped: a file offset plus Base is
// its virtual address.
const Base = 0x400000

const (
	headers = 64 + 3*56 // the ELF header and three program headers
	data    = 0x1000    // the semaphore, then Arg1 at data+8
)

// Program is the written program: its path, its probe's file offset, its
// semaphore's and its function's.
type Program struct {
	Path                       string
	Probe, Semaphore, Function uint64
}

// Exit says what the program exits with.
type Exit int

// What the program exits with.
const (
	ExitSemaphore Exit = iota // its semaphore's value
	ExitArg1                  // Arg1's low byte after the probe (135 unless written)
)

// Write writes the program into dir; it exits with its semaphore's value.
func Write(dir string) (Program, error) { return WriteExit(dir, ExitSemaphore) }

// WriteExit writes the program into dir, exiting with what exit says.
func WriteExit(dir string, exit Exit) (Program, error) {
	p := Program{Path: filepath.Join(dir, "usdt"), Probe: headers + 14, Semaphore: data, Function: headers + 34}
	code := []byte{
		0x48, 0xC7, 0xC7, Arg0, 0, 0, 0, // mov rdi, 42
		0x48, 0x8D, 0x35, 0, 0, 0, 0, // lea rsi, [rip + data]
		0x90,              // nop: the probe
		0xE8, 14, 0, 0, 0, // call the function, 14 bytes on
		0x0F, 0xB7, 0x3D, 0, 0, 0, 0, // movzx edi, word [rip + semaphore]
		0xB8, 60, 0, 0, 0, // mov eax, 60 (exit)
		0x0F, 0x05, // syscall
		0xB8, 0, 0, 0, 0, // the function: mov eax, Returns
		0xC3, // ret
	}
	binary.LittleEndian.PutUint32(code[10:], uint32(data-(headers+14)))
	status := uint32(data) // the semaphore, or Arg1
	if exit == ExitArg1 {
		status += 8
	}
	binary.LittleEndian.PutUint32(code[23:], status-(headers+27))
	binary.LittleEndian.PutUint32(code[35:], Returns)
	var b bytes.Buffer
	le := func(vs ...any) {
		for _, v := range vs {
			_ = binary.Write(&b, binary.LittleEndian, v) // a bytes.Buffer takes every write
		}
	}
	text := uint64(headers + len(code))
	noteOff := align8(text)
	note := sdtNote(Base+p.Probe, Base+data)
	strtabOff := noteOff + uint64(len(note))
	strtab := []byte("\x00.note.stapsdt\x00.shstrtab\x00")
	shOff := align8(strtabOff + uint64(len(strtab)))

	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 64-bit, little endian
	le(uint16(2), uint16(62), uint32(1), uint64(Base+headers),               // ET_EXEC, EM_X86_64, version, entry
		uint64(64), shOff, uint32(0), // program and section headers, flags
		uint16(64), uint16(56), uint16(3), uint16(64), uint16(3), uint16(2))
	// the code, read and execute (uprobes refuse writable code)
	le(uint32(1), uint32(5), uint64(0), uint64(Base), uint64(Base), text, text, uint64(0x1000))
	// the data, a private writable mapping of the file: the kernel
	// raises a reference counter only there
	le(uint32(1), uint32(6), uint64(data), uint64(Base+data), uint64(Base+data), uint64(16), uint64(16), uint64(0x1000))
	// PT_GNU_STACK: a stack that is not executable
	le(uint32(0x6474e551), uint32(6), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(16))
	b.Write(code)
	b.Write(make([]byte, noteOff-text))
	b.Write(note)
	b.Write(strtab)
	b.Write(make([]byte, shOff-strtabOff-uint64(len(strtab))))
	// sections: none, .note.stapsdt, .shstrtab
	le(make([]byte, 64))
	le(uint32(1), uint32(7), uint64(0), uint64(0), noteOff, uint64(len(note)), uint32(0), uint32(0), uint64(4), uint64(0))
	le(uint32(15), uint32(3), uint64(0), uint64(0), strtabOff, uint64(len(strtab)), uint32(0), uint32(0), uint64(1), uint64(0))
	b.Write(make([]byte, data-b.Len()))
	le(uint16(0), [6]byte{}, int64(Arg1)) // the semaphore, then Arg1
	return p, os.WriteFile(p.Path, b.Bytes(), 0o755)
}

// sdtNote is the probe's SDT note: owner "stapsdt", type 3, and its
// address, no .stapsdt.base, its semaphore's address, provider, name and
// argument specs.
func sdtNote(pc, sem uint64) []byte {
	var desc bytes.Buffer
	_ = binary.Write(&desc, binary.LittleEndian, [3]uint64{pc, 0, sem})
	desc.WriteString(Provider + "\x00" + Name + "\x00" + Args + "\x00")
	var n bytes.Buffer
	_ = binary.Write(&n, binary.LittleEndian, [3]uint32{8, uint32(desc.Len()), 3})
	n.WriteString("stapsdt\x00")
	n.Write(desc.Bytes())
	n.Write(make([]byte, align4(desc.Len())-desc.Len()))
	return n.Bytes()
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }
func align4(n int) int       { return (n + 3) &^ 3 }
