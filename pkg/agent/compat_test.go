package agent

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// elf32 writes a static i386 program that calls openat(AT_FDCWD, path,
// O_RDONLY) through int 0x80 and exits 0: a 32-bit process, with no
// 32-bit toolchain, and returns its file name.
func elf32(t *testing.T, path string) string {
	const base, headers = 0x08048000, 52 + 2*32
	code := []byte{
		0xB8, 0x27, 0x01, 0, 0, // mov eax, 295 (openat)
		0xBB, 0x9C, 0xFF, 0xFF, 0xFF, // mov ebx, -100 (AT_FDCWD)
		0xB9, 0, 0, 0, 0, // mov ecx, path
		0x31, 0xD2, // xor edx, edx (O_RDONLY)
		0xCD, 0x80, // int 0x80
		0xB8, 1, 0, 0, 0, // mov eax, 1 (exit)
		0x31, 0xDB, // xor ebx, ebx
		0xCD, 0x80, // int 0x80
	}
	binary.LittleEndian.PutUint32(code[11:], uint32(base+headers+len(code)))
	image := append(code, append([]byte(path), 0)...)
	size := uint32(headers + len(image))
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // 32-bit, little endian
	for _, v := range []any{
		uint16(2), uint16(3), uint32(1), uint32(base + headers), // ET_EXEC, EM_386, version, entry
		uint32(52), uint32(0), uint32(0), // program headers at 52, no sections, flags
		uint16(52), uint16(32), uint16(2), uint16(40), uint16(0), uint16(0),
		// one PT_LOAD of the whole file at base, read and execute
		uint32(1), uint32(0), uint32(base), uint32(base), size, size, uint32(5), uint32(0x1000),
		// PT_GNU_STACK: a stack that is not executable
		uint32(0x6474e551), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(6), uint32(16),
	} {
		if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	b.Write(image)
	name := filepath.Join(t.TempDir(), "open32")
	if err := os.WriteFile(name, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestCompatSyscallsAreHooked: a 32-bit process's openat (ia32 number
// 295, not x86_64's 257) does not slip past a syscall policy or a
// resolved one, as Tetragon hooks the ia32 entry points too; its events
// name the ia32 function.
func TestCompatSyscallsAreHooked(t *testing.T) {
	_, secret, other := secretFiles(t)
	if err := exec.Command(elf32(t, other)).Run(); err != nil {
		t.Skipf("the kernel runs no 32-bit program (ia32 emulation off?): %v", err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: compat-string}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, secret))
	cmd := exec.Command(elf32(t, secret))
	if err := cmd.Run(); killedBy(err) != syscall.SIGKILL {
		t.Fatalf("a 32-bit openat of the secret: %v, want killed", err)
	}
	ev := shared.sink.one(t, "the kill's event", kprobeOf(cmd.Process.Pid, "compat-string")).ProcessKprobe
	if ev.FunctionName != "__ia32_sys_openat" || len(ev.Args) < 2 || ev.Args[1].StringArg == nil || *ev.Args[1].StringArg != secret {
		t.Errorf("event %+v: want __ia32_sys_openat with the path", ev)
	}
	if err := exec.Command(elf32(t, other)).Run(); err != nil {
		t.Errorf("a 32-bit openat of another file: %v, want untouched", err)
	}
	if err := shared.agent.pols.Remove("compat-string"); err != nil {
		t.Fatal(err)
	}
	load(t, fileOpenPolicy("compat-resolved", "Equal", resolvedPath(secret)))
	if err := exec.Command(elf32(t, secret)).Run(); killedBy(err) != syscall.SIGKILL {
		t.Errorf("a 32-bit openat of the secret under the resolved policy: %v, want killed", err)
	}
}
