package tracing

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// strEntry builds a string set entry: exact values end with their NUL.
func strEntry(set uint32, s string, exact bool) StrKey {
	k := StrKey{SetID: set}
	n := copy(k.Data[:], s)
	if exact {
		n++
	}
	k.Prefixlen = uint32(32 + 8*n)
	return k
}

// openatPrefixKill kills any process opening a path under prefix.
func openatPrefixKill(prefix string, sig uint8) Program {
	cfg := HookConfig{NArgs: 1, NConds: 1, NSelectors: 1}
	cfg.ArgType[0], cfg.ArgIndex[0] = ArgString, 1
	cfg.Conds[0] = Cond{Subject: 0, Op: CondPrefix, SetID: 1}
	cfg.Actions[0] = SelAction{Post: 1, Sig: sig}
	return Program{
		Hooks: []SyscallHook{{Syscall: uint32(syscall.SYS_OPENAT), Config: cfg}},
		Strs:  []StrKey{strEntry(1, prefix, false)},
	}
}

// nextGeneric reads records until a hook record from pid arrives.
func nextGeneric(t *testing.T, s *Sensor, pid int) *Generic {
	t.Helper()
	// the deadline holds whatever else arrives (other processes' records)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		// the kernel batches wakeups: poll in short steps
		rec, err := s.Read(time.Now().Add(50 * time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatalf("waiting for a hook record of pid %d: %v", pid, err)
		}
		if g, ok := rec.(*Generic); ok && g.Ident.Pid == uint32(pid) {
			return g
		}
	}
	t.Fatalf("no hook record of pid %d in 5 s", pid)
	return nil
}

func TestSyscallHookKillsOnPrefix(t *testing.T) {
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hooks().Install(1, ModeEnforce, openatPrefixKill(dir+"/sec", 9), nil); err != nil {
		t.Fatal(err)
	}
	cat := exec.Command("/bin/cat", secret)
	err = cat.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("cat of the secret: %v, want killed by SIGKILL", err)
	}
	g := nextGeneric(t, s, cat.Process.Pid)
	if string(g.Args[0]) != secret || g.Sig != 9 || g.Monitor != 0 {
		t.Errorf("hook record: arg %q sig %d monitor %d", g.Args[0], g.Sig, g.Monitor)
	}
	other := exec.Command("/bin/cat", "/etc/hostname")
	if err := other.Run(); err != nil {
		t.Errorf("cat of another file: %v", err)
	}
}

// TestHooksShareASmallRingBuffer: with a ring buffer smaller than the
// default, the generic programs (the syscall ones and one of a hook of its
// own) load with the sensor's ring buffer in place of theirs.
func TestHooksShareASmallRingBuffer(t *testing.T) {
	s, err := Load(Config{RingBufferSize: 4 * os.Getpagesize()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Hooks().Install(1, ModeEnforce, rawLeakProgram(), nil); err != nil {
		t.Fatalf("installing hooks with a %d-byte ring buffer: %v", 4*os.Getpagesize(), err)
	}
}

// TestUprobeFileMustStayTheSame: a uprobe checked against binaryDigests
// is attached to the file that was checked, not to one put in its place.
func TestUprobeFileMustStayTheSame(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(bin, []byte("\x7fELF"), 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(bin, &st); err != nil {
		t.Fatal(err)
	}
	_, _, err := executable(FuncHook{Path: bin, File: FileID{Dev: st.Dev, Ino: st.Ino + 1}})
	if err == nil || !strings.Contains(err.Error(), "no longer the file whose digest was checked") {
		t.Errorf("another file in its place: %v", err)
	}
}
