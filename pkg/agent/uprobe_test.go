package agent

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// semaphoreELF writes a static x86-64 program that reads a 16-bit counter
// in its writable data segment, passes a nop (where a probe goes), and
// exits with the counter's value: 0, or 1 while a uprobe with that counter
// as its reference counter (a USDT semaphore) is attached. It returns the
// file's name, the nop's file offset and virtual address, and the
// counter's file offset.
func semaphoreELF(t *testing.T) (name string, probeOff, probeAddr, semOff uint64) {
	const base, headers, data = 0x400000, 64 + 3*56, 0x1000
	probeOff = headers + 7
	code := []byte{
		0x0F, 0xB7, 0x3D, 0, 0, 0, 0, // movzx edi, word [rip + counter]
		0x90,              // nop: the probe's place
		0xB8, 60, 0, 0, 0, // mov eax, 60 (exit)
		0x0F, 0x05, // syscall
	}
	binary.LittleEndian.PutUint32(code[3:], uint32(data-probeOff))
	text := uint64(headers + len(code))
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 64-bit, little endian
	for _, v := range []any{
		uint16(2), uint16(62), uint32(1), uint64(base + headers), // ET_EXEC, EM_X86_64, version, entry
		uint64(64), uint64(0), uint32(0), // program headers at 64, no sections, flags
		uint16(64), uint16(56), uint16(3), uint16(64), uint16(0), uint16(0),
		// the code: read and execute, which uprobes need (not writable)
		uint32(1), uint32(5), uint64(0), uint64(base), uint64(base), text, text, uint64(0x1000),
		// the counter: a private writable mapping of the file, as the
		// kernel needs to raise a reference counter
		uint32(1), uint32(6), uint64(data), uint64(base + data), uint64(base + data), uint64(2), uint64(2), uint64(0x1000),
		// PT_GNU_STACK: a stack that is not executable
		uint32(0x6474e551), uint32(6), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0), uint64(16),
	} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	b.Write(code)
	b.Write(make([]byte, data-b.Len()+2)) // up to the counter, and the counter: 0
	name = filepath.Join(t.TempDir(), "semaphore")
	if err := os.WriteFile(name, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return resolved(t, name), probeOff, base + probeOff, data
}

// runSemaphore runs the program and returns its pid and exit code.
func runSemaphore(t *testing.T, bin string) (pid, code int) {
	t.Helper()
	cmd := exec.Command(bin)
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.Process.Pid, cmd.ProcessState.ExitCode()
}

// TestUprobeByOffsetAndAddress: uprobes placed by file offset with a
// reference counter, and by virtual address, as Tetragon places them; the
// events name the offset (and the counter), and the kernel raises the
// counter in the process while the probe is attached.
func TestUprobeByOffsetAndAddress(t *testing.T) {
	requires(t, probe.Uprobe)
	bin, off, addr, sem := semaphoreELF(t)
	if _, code := runSemaphore(t, bin); code != 0 {
		t.Fatalf("with no probe the program exits %d, want 0 (its counter)", code)
	}
	hit := func(t *testing.T, pid int, name string) *event.ProcessUprobe {
		return shared.sink.one(t, name+" event", func(ev *event.Event) bool {
			u := ev.ProcessUprobe
			return u != nil && u.Process.Pid == uint32(pid) && u.PolicyName == name
		}).ProcessUprobe
	}
	t.Run("offsets", func(t *testing.T) {
		load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: uprobe-offset}
spec:
  uprobes:
  - path: %q
    offsets: [%d]
    refCtrOffsets: [%d]
`, bin, off, sem))
		pid, code := runSemaphore(t, bin)
		if code != 1 {
			t.Errorf("exit %d, want 1: the reference counter the probe raises", code)
		}
		if u := hit(t, pid, "uprobe-offset"); u.Path != bin || u.Symbol != "" || u.Offset != off || u.RefCtrOffset != sem {
			t.Errorf("event %+v, want path %s, offset %d, ref_ctr_offset %d", u, bin, off, sem)
		}
	})
	t.Run("addrs", func(t *testing.T) {
		load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: uprobe-addr}
spec:
  uprobes:
  - path: %q
    addrs: [%d]
`, bin, addr))
		pid, code := runSemaphore(t, bin)
		if code != 0 {
			t.Errorf("exit %d, want 0: no reference counter now", code)
		}
		if u := hit(t, pid, "uprobe-addr"); u.Offset != off || u.RefCtrOffset != 0 {
			t.Errorf("event %+v, want the address's file offset %d", u, off)
		}
	})
}
