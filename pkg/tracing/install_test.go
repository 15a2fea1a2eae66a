package tracing

import (
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// hookList reads the kernel's hook list of a syscall's entry.
func hookList(t *testing.T, h *Hooks, nr uint32) []uint32 {
	t.Helper()
	var l syscallHooks
	if err := h.objs.SyscallHooks.Lookup(nr, &l); err != nil {
		t.Fatal(err)
	}
	var ids []uint32
	for _, id := range l.HookIDs {
		if id != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestInstallIsAllOrNothing: a policy whose second syscall's hook list
// would overflow is refused before anything is written, so its first
// syscall does not enforce it; and a refused replacement leaves the old
// version whole.
func TestInstallIsAllOrNothing(t *testing.T) {
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := s.Hooks()
	secret := filepath.Join(t.TempDir(), "secret")
	old, err := h.Install(1, ModeEnforce, openatPrefixKill(secret, uint8(syscall.SIGKILL)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// fill close(2)'s list to the brim with another policy's hooks
	var filler Program
	for range HooksPerSyscall {
		filler.Hooks = append(filler.Hooks, SyscallHook{Syscall: uint32(syscall.SYS_CLOSE), Config: HookConfig{}})
	}
	if _, err := h.Install(2, ModeEnforce, filler, nil); err != nil {
		t.Fatal(err)
	}
	openatBefore := hookList(t, h, uint32(syscall.SYS_OPENAT))
	// a new version of policy 1: openat, and one more hook on close
	next := openatPrefixKill(secret, uint8(syscall.SIGKILL))
	next.Hooks = append(next.Hooks, SyscallHook{Syscall: uint32(syscall.SYS_CLOSE), Config: HookConfig{}})
	if _, err := h.Install(1, ModeEnforce, next, old); err == nil {
		t.Fatal("a replacement overflowing close(2)'s hook list installed")
	}
	if got := hookList(t, h, uint32(syscall.SYS_OPENAT)); !slices.Equal(got, openatBefore) {
		t.Errorf("openat's hook list after the refused replacement: %v, want %v", got, openatBefore)
	}
	if err := exec.Command("/bin/cat", secret).Run(); !killed(err) {
		t.Errorf("the old version no longer kills after a refused replacement: %v", err)
	}
	fresh := openatPrefixKill("/nowhere", uint8(syscall.SIGKILL))
	fresh.Hooks = append(fresh.Hooks, SyscallHook{Syscall: uint32(syscall.SYS_CLOSE), Config: HookConfig{}})
	if _, err := h.Install(3, ModeEnforce, fresh, nil); err == nil {
		t.Fatal("a policy overflowing close(2)'s hook list installed")
	}
	if got := hookList(t, h, uint32(syscall.SYS_OPENAT)); !slices.Equal(got, openatBefore) {
		t.Errorf("openat's hook list after a refused install: %v, want %v", got, openatBefore)
	}
}
