package tracing

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/syscalls"
)

// TestOwnTracepointsServeX86Lists: with Config.SyscallTracepoints an
// x86_64 syscall's hooks run from its own tracepoint, and the raw syscall
// tracepoint stays detached until an ia32 list needs it; once it is
// attached, it leaves the lists that their own tracepoints run alone (each
// open is matched once, not twice); removing the policy detaches the
// syscall's tracepoint.
func TestOwnTracepointsServeX86Lists(t *testing.T) {
	if kernel, _ := probe.Cached(); kernel.Missing(probe.SyscallTracepoint) != nil {
		err := kernel.Missing(probe.SyscallTracepoint)
		t.Skipf("kernel lacks syscall_tracepoint: %v", err)
	}
	s, err := Load(Config{SyscallTracepoints: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Hooks()
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	openat := hookPoint{nr: uint32(syscall.SYS_OPENAT)}
	in, err := h.Install(1, ModeEnforce, openatPrefixKill(secret, uint8(syscall.SIGKILL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.raw[0] != nil || h.raw[1] != nil {
		t.Error("the raw syscall tracepoint is attached for an x86_64 list")
	}
	if h.ownLinks[openat] == nil {
		t.Fatal("openat's own tracepoint is not attached")
	}
	catKilled(t, secret)
	// an ia32 list brings the raw syscall entry
	ia32, _ := syscalls.Compat("openat")
	if _, err := h.Install(2, ModeEnforce, Program{Hooks: []SyscallHook{{Syscall: ia32, Config: HookConfig{}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if h.raw[0] == nil {
		t.Fatal("an ia32 list did not attach the raw syscall entry")
	}
	before, err := h.Stats(in)
	if err != nil {
		t.Fatal(err)
	}
	catKilled(t, secret)
	after, err := h.Stats(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.Hits - before.Hits; n != 1 {
		t.Errorf("one open of the secret matched %d times, want 1 (the raw syscall tracepoint ran openat's list too?)", n)
	}
	if err := h.Remove(in); err != nil {
		t.Fatal(err)
	}
	if h.ownLinks[openat] != nil {
		t.Error("openat's own tracepoint is still attached after its last hook left")
	}
	var served uint32
	if err := h.objs.PerSyscall.Lookup(openat.nr, &served); err != nil || served != 0 {
		t.Errorf("per_syscall of openat after removal: %d (%v), want 0", served, err)
	}
	if err := exec.Command("/bin/cat", secret).Run(); err != nil {
		t.Errorf("cat of the secret after removal: %v", err)
	}
}

func catKilled(t *testing.T, path string) {
	t.Helper()
	if err := exec.Command("/bin/cat", path).Run(); !killed(err) {
		t.Fatalf("cat %s: %v, want killed", path, err)
	}
}
