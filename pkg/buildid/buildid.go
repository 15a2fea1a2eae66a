// Package buildid reads the GNU build ID of an ELF file: the note that
// names the exact build of a binary or library (what Tetragon's
// process_loader events carry). Reads are bounded: at most MaxNotes bytes
// of notes per file.
package buildid

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
)

// MaxNotes bounds the note bytes read from one file.
const MaxNotes = 64 << 10

// ErrNone is returned for an ELF file without a build ID note.
var ErrNone = errors.New("no GNU build ID note")

const ntGNUBuildID = 3

// Read returns the build ID of the ELF file r: ErrNone when it has none,
// an error when r is not an ELF file.
func Read(r io.ReaderAt) ([]byte, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	budget := int64(MaxNotes)
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz == 0 {
			continue
		}
		n := min(int64(p.Filesz), budget)
		if n <= 0 {
			break
		}
		budget -= n
		buf := make([]byte, n)
		if _, err := p.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if id := find(buf, f.ByteOrder, int(p.Align)); id != nil {
			return id, nil
		}
	}
	return nil, ErrNone
}

// find walks the notes in buf (each name and description padded to 4
// bytes, or 8 where the segment says so) for the GNU build ID.
func find(buf []byte, order binary.ByteOrder, align int) []byte {
	if align != 8 {
		align = 4
	}
	pad := func(n int) int { return (n + align - 1) &^ (align - 1) }
	for len(buf) >= 12 {
		namesz, descsz, typ := int(order.Uint32(buf)), int(order.Uint32(buf[4:])), order.Uint32(buf[8:])
		buf = buf[12:]
		if namesz < 0 || descsz < 0 || pad(namesz) > len(buf) || pad(namesz)+descsz > len(buf) {
			return nil
		}
		name, desc := buf[:namesz], buf[pad(namesz):pad(namesz)+descsz]
		if typ == ntGNUBuildID && bytes.Equal(name, []byte("GNU\x00")) {
			return bytes.Clone(desc)
		}
		if pad(namesz)+pad(descsz) > len(buf) {
			return nil
		}
		buf = buf[pad(namesz)+pad(descsz):]
	}
	return nil
}

// maxInterp bounds the interpreter path read (PATH_MAX).
const maxInterp = 4096

// Interpreter returns the ELF interpreter a dynamically linked program
// names (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2); "" for a static
// program.
func Interpreter(r io.ReaderAt) (string, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return "", err
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		buf := make([]byte, min(p.Filesz, maxInterp))
		if _, err := p.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return string(bytes.TrimRight(buf, "\x00")), nil
	}
	return "", nil
}
