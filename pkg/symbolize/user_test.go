package symbolize

import (
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mapsSample = `55d0c4a00000-55d0c4a04000 r--p 00000000 08:01 1311 /usr/bin/cat
55d0c4a04000-55d0c4a09000 r-xp 00004000 08:01 1311 /usr/bin/cat
7f2a1c028000-7f2a1c1a3000 r-xp 00028000 fd:02 262 /usr/lib/x86_64-linux-gnu/libc.so.6
7f2a1c300000-7f2a1c301000 r-xp 00000000 00:00 0
7f2a1c400000-7f2a1c401000 r-xp 00000000 00:05 77 /memfd:jit code (deleted)
7ffd5c1f2000-7ffd5c1f4000 r-xp 00000000 00:00 0                          [vdso]
`

// TestParseMaps keeps the executable mappings, paths with spaces whole.
func TestParseMaps(t *testing.T) {
	pm, err := parseMaps(strings.NewReader(mapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(pm) != 5 {
		t.Fatalf("%d mappings, want the 5 executable ones: %+v", len(pm), pm)
	}
	libc := pm.find(0x7f2a1c028000 + 0x10)
	if libc == nil || libc.path != "/usr/lib/x86_64-linux-gnu/libc.so.6" || libc.offset != 0x28000 ||
		libc.dev != 0xfd<<32|2 || libc.inode != 262 {
		t.Errorf("libc mapping = %+v", libc)
	}
	if m := pm.find(0x7f2a1c400010); m == nil || m.path != "/memfd:jit code (deleted)" {
		t.Errorf("memfd mapping = %+v", m)
	}
	if m := pm.find(0x55d0c4a00010); m != nil {
		t.Errorf("a non-executable mapping was kept: %+v", m)
	}
	u := &User{}
	if f := u.frame(1, pm.find(0x7f2a1c300010), 0x7f2a1c300010); f.Module != Anonymous || f.Offset != 0x10 {
		t.Errorf("anonymous frame = %+v", f)
	}
	if f := u.frame(1, pm.find(0x7ffd5c1f2010), 0x7ffd5c1f2010); f.Module != "[vdso]" || f.Symbol != "" {
		t.Errorf("vdso frame = %+v", f)
	}
}

// TestUserFramesOfThisProcess names an address of a function of the test
// binary, as the Go runtime names it.
func TestUserFramesOfThisProcess(t *testing.T) {
	pc := uint64(reflect.ValueOf(TestParseMaps).Pointer()) + 8
	u := NewUser()
	frames, err := u.Frames(Proc{Pid: uint32(os.Getpid()), Exec: 1}, []uint64{pc, 8})
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	want := runtime.FuncForPC(uintptr(pc)).Name()
	if f := frames[0]; f.Symbol != want || f.Module != self || f.Address != pc {
		t.Errorf("frame = %+v, want %s in %s", f, want, self)
	}
	if f := frames[1]; f.Module != Unknown {
		t.Errorf("an address outside every mapping: %+v", f)
	}
}

// TestUserFramesInLibc names an address in the C library of a running
// process: the library's path, the offset in it, and the function.
func TestUserFramesInLibc(t *testing.T) {
	sleep := exec.Command("/bin/sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	p := Proc{Pid: uint32(sleep.Process.Pid), Exec: 1}
	libc := waitForLibc(t, p)
	off := symbolOffset(t, libc.path, "open64")
	addr := libc.start + off - libc.offset + 4
	u := NewUser()
	frames, err := u.Frames(p, []uint64{addr})
	if err != nil {
		t.Fatal(err)
	}
	if f := frames[0]; f.Symbol != "open" || f.Offset != off+4 || f.Module != libc.path {
		t.Errorf("frame = %+v, want open (of its aliases) at %#x in %s", f, off+4, libc.path)
	}
}

// TestUserFramesOfAnExitedProcess: its memory map is gone; the frames
// say Unknown and the error why, and nothing fails.
func TestUserFramesOfAnExitedProcess(t *testing.T) {
	done := exec.Command("/bin/true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	frames, err := NewUser().Frames(Proc{Pid: uint32(done.Process.Pid), Exec: 1}, []uint64{0x7f0000001000, 0x401000})
	if !errors.Is(err, ErrExited) {
		t.Errorf("error %v, want ErrExited", err)
	}
	if len(frames) != 2 || frames[0].Module != Unknown || frames[1].Module != Unknown || frames[1].Address != 0x401000 {
		t.Errorf("frames = %+v", frames)
	}
}

// TestUserRereadsMapsForNewMappings: an address outside the kept memory
// map makes User read it again (a library loaded since), once it is a
// second old; a process that exited is forgotten.
func TestUserRereadsMapsForNewMappings(t *testing.T) {
	dir := t.TempDir()
	maps := filepath.Join(dir, "42", "maps")
	if err := os.MkdirAll(filepath.Dir(maps), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(maps, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lib := "7f0000200000-7f0000201000 r-xp 00001000 08:01 99 /usr/lib/libnew.so\n"
	write(mapsSample)
	u := NewUser()
	u.proc = dir
	p := Proc{Pid: 42, Exec: 7}
	if f, err := u.Frames(p, []uint64{0x55d0c4a04010}); err != nil || f[0].Module != "/usr/bin/cat" || f[0].Offset != 0x4010 {
		t.Fatalf("first read: %+v, %v", f, err)
	}
	write(mapsSample + lib)
	if f, _ := u.Frames(p, []uint64{0x7f0000200010}); f[0].Module != Unknown {
		t.Errorf("read again within a second: %+v", f[0])
	}
	e, _ := u.maps.get(p)
	e.read = e.read.Add(-rereadAfter)
	if f, _ := u.Frames(p, []uint64{0x7f0000200010}); f[0].Module != "/usr/lib/libnew.so" || f[0].Offset != 0x1010 {
		t.Errorf("a library mapped since: %+v", f[0])
	}
	if err := os.Remove(maps); err != nil {
		t.Fatal(err)
	}
	if f, err := u.Frames(p, []uint64{0x7f0000200010}); err != nil || f[0].Module != "/usr/lib/libnew.so" {
		t.Errorf("kept after the process is gone: %+v, %v", f[0], err)
	}
	u.Forget(p)
	if _, err := u.Frames(p, []uint64{0x7f0000200010}); !errors.Is(err, ErrExited) {
		t.Errorf("forgotten: %v, want ErrExited", err)
	}
}

// TestUserCachesAreBounded: the files' symbols stay within maxSymbols.
func TestUserCachesAreBounded(t *testing.T) {
	c := newLRU[int, int](3, 10)
	for i := range 5 {
		c.put(i, i, 4)
	}
	if c.len() != 2 || c.weight != 8 {
		t.Errorf("%d entries of weight %d, want 2 of 8", c.len(), c.weight)
	}
	if _, ok := c.get(4); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok := c.get(0); ok {
		t.Error("the oldest entry was kept")
	}
	self, _ := os.Executable()
	f, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := loadELF(f, 10); err == nil {
		t.Error("a file of more symbols than the limit was loaded")
	}
}

// waitForLibc is p's executable mapping of the C library, once it has one.
func waitForLibc(t *testing.T, p Proc) mapping {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join("/proc", itoa(p.Pid), "maps"))
		if err != nil {
			t.Fatal(err)
		}
		pm, _ := parseMaps(strings.NewReader(string(b)))
		for _, m := range pm {
			if strings.HasSuffix(m.path, "/libc.so.6") {
				return m
			}
		}
	}
	t.Skip("sleep maps no libc.so.6 here")
	return mapping{}
}

// symbolOffset is the offset in the file of a dynamic symbol of an ELF
// library, by its section's place in the file.
func symbolOffset(t *testing.T, path, name string) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name == name {
			sec := f.Sections[s.Section]
			return s.Value - sec.Addr + sec.Offset
		}
	}
	t.Fatalf("%s has no symbol %s", path, name)
	return 0
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
