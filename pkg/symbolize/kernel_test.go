package symbolize

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const kallsymsSample = `ffffffff81000000 T _stext
ffffffff81000100 t entry_SYSCALL_64
ffffffff81000130 T entry_SYSCALL_64_after_hwframe
ffffffff82000000 D some_data
ffffffff8223c8e0 T do_syscall_64
ffffffffc0a01000 t ext4_file_open	[ext4]
ffffffffc0a00000 t ext4_init	[ext4]
ffffffffc002a5b4 t bpf_prog_f26882185d3e5d58_generic_sys_enter	[bpf]
ffffffffc0b00000 W weak_in_module	[nf_tables]
`

// TestParseKallsyms: function symbols only, sorted, with their modules in
// brackets; an address is named by the function it falls in.
func TestParseKallsyms(t *testing.T) {
	tab, err := parseKallsyms(strings.NewReader(kallsymsSample))
	if err != nil {
		t.Fatal(err)
	}
	if tab.len() != 8 {
		t.Errorf("%d symbols, want 8 (the data symbol left out)", tab.len())
	}
	for _, c := range []struct {
		addr   uint64
		symbol string
		offset uint64
		module string
	}{
		{0xffffffff81000176, "entry_SYSCALL_64_after_hwframe", 0x46, ""},
		{0xffffffff8223caef, "do_syscall_64", 0x20f, ""},
		{0xffffffffc0a01010, "ext4_file_open", 0x10, "[ext4]"},
		{0xffffffffc0a00fff, "ext4_init", 0xfff, "[ext4]"},
		{0xffffffffc0b00004, "weak_in_module", 4, "[nf_tables]"},
		{0xffffffffc002a7bb, "bpf_prog_f26882185d3e5d58_generic_sys_enter", 0x207, "[bpf]"},
		{0xffffffff80000000, Unknown, 0, ""},
	} {
		f := tab.lookup(c.addr)
		if f.Symbol != c.symbol || f.Offset != c.offset || f.Module != c.module || f.Address != c.addr {
			t.Errorf("%#x: %+v, want %s+%#x %q", c.addr, f, c.symbol, c.offset, c.module)
		}
	}
}

// TestKernelFramesSkipBPF: the hook's own program leads the stack; it is
// left out, and the rest named.
func TestKernelFramesSkipBPF(t *testing.T) {
	dir := t.TempDir()
	k := &Kernel{kallsyms: filepath.Join(dir, "kallsyms"), modules: filepath.Join(dir, "modules")}
	if err := os.WriteFile(k.kallsyms, []byte(kallsymsSample), 0o600); err != nil {
		t.Fatal(err)
	}
	frames, err := k.Frames([]uint64{0xffffffffc002a7bb, 0xffffffff8223caef, 0xffffffff81000176}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 || frames[0].Symbol != "do_syscall_64" || frames[1].Symbol != "entry_SYSCALL_64_after_hwframe" {
		t.Errorf("frames = %+v", frames)
	}
}

// TestKernelRereadsOnNewGeneration: a BPF program loaded after the table
// was read is named once the caller's generation changes.
func TestKernelRereadsOnNewGeneration(t *testing.T) {
	dir := t.TempDir()
	k := &Kernel{kallsyms: filepath.Join(dir, "kallsyms"), modules: filepath.Join(dir, "modules")}
	write := func(s string) {
		if err := os.WriteFile(k.kallsyms, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(kallsymsSample)
	addr := uint64(0xffffffffc0c00010)
	if f, _ := k.Frames([]uint64{addr}, 1); f[0].Symbol != "weak_in_module" {
		t.Fatalf("before: %+v", f[0])
	}
	write(kallsymsSample + "ffffffffc0c00000 t new_function\t[new]\n")
	if f, _ := k.Frames([]uint64{addr}, 1); f[0].Symbol != "weak_in_module" {
		t.Errorf("same generation, within a second: read again (%+v)", f[0])
	}
	if f, _ := k.Frames([]uint64{addr}, 2); f[0].Symbol != "new_function" || f[0].Module != "[new]" {
		t.Errorf("new generation: %+v, want new_function [new]", f[0])
	}
}

// TestKallsymsHidden: with kptr_restrict every address reads 0; the
// frames are Unknown and the error says why.
func TestKallsymsHidden(t *testing.T) {
	dir := t.TempDir()
	k := &Kernel{kallsyms: filepath.Join(dir, "kallsyms"), modules: filepath.Join(dir, "modules")}
	if err := os.WriteFile(k.kallsyms, []byte("0000000000000000 T _stext\n0000000000000000 t f\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	frames, err := k.Frames([]uint64{0xffffffff8223caef}, 1)
	if err == nil || !strings.Contains(err.Error(), "kptr_restrict") {
		t.Errorf("error = %v, want one naming kptr_restrict", err)
	}
	if len(frames) != 1 || frames[0].Symbol != Unknown || frames[0].Address != 0xffffffff8223caef {
		t.Errorf("frames = %+v", frames)
	}
}

// TestKernelLive names the address of a function of this kernel, taken
// from /proc/kallsyms, plus an offset.
func TestKernelLive(t *testing.T) {
	addr := kallsymsAddr(t, "do_syscall_64")
	k := NewKernel()
	frames, err := k.Frames([]uint64{addr + 5}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if f := frames[0]; f.Symbol != "do_syscall_64" || f.Offset != 5 || f.Module != "" {
		t.Errorf("frame = %+v, want do_syscall_64+0x5", f)
	}
	t.Logf("%d kernel function symbols, %d bytes of names", k.tab.len(), len(k.tab.names))
}

// kallsymsAddr is the address of a text symbol in /proc/kallsyms.
func kallsymsAddr(t *testing.T, name string) uint64 {
	t.Helper()
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		t.Skipf("no /proc/kallsyms: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) >= 3 && fl[2] == name && strings.ContainsAny(fl[1], "tT") {
			a, _ := strconv.ParseUint(fl[0], 16, 64)
			if a == 0 {
				t.Skip("kernel symbol addresses are hidden (kptr_restrict)")
			}
			return a
		}
	}
	t.Fatalf("%s not in /proc/kallsyms", name)
	return 0
}
