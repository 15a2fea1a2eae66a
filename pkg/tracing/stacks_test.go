package tracing

import (
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
)

// getpidStacks posts the getpid calls of process pid with the stack
// traces of stacks.
func getpidStacks(pid int, stacks uint8) Program {
	cfg := HookConfig{NConds: 1, NSelectors: 1}
	cfg.Conds[0] = Cond{Subject: SubjPid, Op: CondEq, SetID: 1}
	cfg.Actions[0] = SelAction{Post: 1, Stacks: stacks}
	return Program{Hooks: []SyscallHook{{Syscall: uint32(syscall.SYS_GETPID), Config: cfg}},
		Ints: []IntKey{{SetID: 1, Value: int64(pid)}}}
}

// inKernel says whether stack id is in the kernel's map.
func inKernel(t *testing.T, s *Stacks, id int32) bool {
	t.Helper()
	var v [MaxStackDepth]uint64
	err := s.m.Lookup(uint32(id), &v)
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestStackIDsAreReadAndFreed: a hook's record carries the ids of its
// kernel and user stacks; user space reads them, identical stacks share
// an id, Release deletes them from the kernel's map, and a stack deleted
// at the last Release is still read (for a record written just before).
func TestStackIDsAreReadAndFreed(t *testing.T) {
	pid := syscall.Getpid() // before the hook: each getpid posts
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Hooks().Install(1, ModeEnforce, getpidStacks(pid, StackKernel|StackUser), nil); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	var gs []*Generic
	for len(gs) < 3 {
		_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0) // one call site: one user stack
		g := nextGeneric(t, s, pid)
		for g.Tid != uint32(tid) { // the Go runtime calls getpid too, elsewhere
			g = nextGeneric(t, s, pid)
		}
		gs = append(gs, g)
	}
	stacks := s.Hooks().Stacks()
	for i, g := range gs {
		if g.Stacks != StackKernel|StackUser || g.KernelStack < 0 || g.UserStack < 0 {
			t.Fatalf("record %d: stacks %d, kernel id %d, user id %d", i, g.Stacks, g.KernelStack, g.UserStack)
		}
		for _, id := range []int32{g.KernelStack, g.UserStack} {
			if f, err := stacks.Frames(id); err != nil || len(f) == 0 || len(f) > MaxStackDepth {
				t.Errorf("record %d: stack %d: %d frames, %v", i, id, len(f), err)
			}
		}
	}
	if gs[1].UserStack != gs[2].UserStack {
		t.Errorf("the same call site's user stacks have ids %d and %d, want one", gs[1].UserStack, gs[2].UserStack)
	}
	// the user stack of this call site is this test's alone (the kernel
	// stack of getpid is every getpid's)
	if !inKernel(t, stacks, gs[2].UserStack) {
		t.Error("the user stack is not in the kernel's map before Release")
	}
	stacks.Release()
	if inKernel(t, stacks, gs[2].UserStack) {
		t.Error("the user stack is still in the kernel's map after Release")
	}
	if f, err := stacks.Frames(gs[2].UserStack); err != nil || len(f) == 0 {
		t.Errorf("a stack read before the last Release: %d frames, %v", len(f), err)
	}
}

// TestFullStackMapIsCounted: in a map of one bucket the user stack finds
// the kernel stack's bucket taken; the record carries the error, and the
// kernel counts it.
func TestFullStackMapIsCounted(t *testing.T) {
	pid := syscall.Getpid()
	s, err := Load(Config{StackTraces: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Hooks().Install(1, ModeEnforce, getpidStacks(pid, StackKernel|StackUser), nil); err != nil {
		t.Fatal(err)
	}
	_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	g := nextGeneric(t, s, pid)
	if g.KernelStack < 0 || g.UserStack != -int32(syscall.EEXIST) {
		t.Fatalf("kernel id %d, user id %d: want an id and -EEXIST", g.KernelStack, g.UserStack)
	}
	_, err = s.Hooks().Stacks().Frames(g.UserStack)
	if !errors.Is(err, ErrNoStack) || !strings.Contains(err.Error(), "stack map") {
		t.Errorf("reading the refused stack: %v", err)
	}
	c, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if c.StackFailed == 0 {
		t.Error("the refused stack was not counted")
	}
}

// TestOrphanStacksAreSwept: a stack whose record no one read (lost when
// the ring buffer was full) is deleted at the sweep after the one that
// saw it; a stack read in between is not an orphan.
func TestOrphanStacksAreSwept(t *testing.T) {
	pid := syscall.Getpid()
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Hooks().Install(1, ModeEnforce, getpidStacks(pid, StackKernel|StackUser), nil); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	_, _, _ = syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	g := nextGeneric(t, s, pid)
	for g.Tid != uint32(tid) {
		g = nextGeneric(t, s, pid)
	}
	stacks := s.Hooks().Stacks()
	stacks.every = 0
	stacks.Release() // the first sweep notes what is in the map
	if !inKernel(t, stacks, g.UserStack) {
		t.Fatal("the user stack is not in the kernel's map")
	}
	if _, err := stacks.Frames(g.KernelStack); err != nil { // its record was read: no orphan
		t.Fatal(err)
	}
	stacks.Release() // the user stack's record was "lost"
	if inKernel(t, stacks, g.UserStack) {
		t.Error("the orphan user stack is still in the kernel's map")
	}
	if stacks.Orphans() == 0 {
		t.Error("no orphan counted")
	}
}
