package buildid

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestReadMatchesTheSection: the build ID of system binaries, as their
// .note.gnu.build-id section holds it (the last bytes of the note).
func TestReadMatchesTheSection(t *testing.T) {
	for _, path := range []string{"/bin/true", "/bin/sh"} {
		ef, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sec := ef.Section(".note.gnu.build-id")
		if sec == nil {
			t.Fatalf("%s has no .note.gnu.build-id section", path)
		}
		note, err := sec.Data()
		ef.Close()
		if err != nil || len(note) < 16+20 {
			t.Fatalf("%s: note %x, %v", path, note, err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Read(f)
		f.Close()
		if err != nil || !bytes.Equal(got, note[16:]) {
			t.Errorf("%s: %x, %v; the section holds %x", path, got, err, note[16:])
		}
	}
}

// TestReadRefusesWhatIsNotELF: a text file is an error; notes that lie
// about their sizes end the walk without a panic.
func TestReadRefusesWhatIsNotELF(t *testing.T) {
	if _, err := Read(bytes.NewReader([]byte("#!/bin/sh\n"))); err == nil || errors.Is(err, ErrNone) {
		t.Errorf("a script: %v, want an ELF error", err)
	}
	bad := []byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f, 3, 0, 0, 0, 'G', 'N', 'U', 0}
	if id := find(bad, binary.LittleEndian, 4); id != nil {
		t.Errorf("a note longer than its segment: %x", id)
	}
}

// TestInterpreter: /bin/true names the dynamic loader; the loader itself
// names none.
func TestInterpreter(t *testing.T) {
	f, err := os.Open("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	interp, err := Interpreter(f)
	if err != nil || !strings.Contains(interp, "/ld-linux") {
		t.Fatalf("/bin/true: interpreter %q, %v", interp, err)
	}
	ld, err := os.Open(interp)
	if err != nil {
		t.Fatal(err)
	}
	defer ld.Close()
	if got, err := Interpreter(ld); got != "" || err != nil {
		t.Errorf("%s: interpreter %q, %v, want none", interp, got, err)
	}
}
