package tracing

import (
	"runtime"
	"syscall"
	"testing"
)

// rawLeakMagic is what the test puts in the sixth syscall argument (r9),
// which the raw syscall backend copies to raw[5] and the tracepoint
// backend leaves alone.
const rawLeakMagic = 0x5eed_c0de_0bad_f00d

// rawLeakProgram hooks getpid twice: on the raw syscall tracepoint (which
// fills raw[0..5]; its two slots read raw[5] as integers, and its
// selector never matches, so it posts nothing) and on
// syscalls/sys_enter_getpid. That hook's slot 0 reads raw[5], a slot the
// tracepoint backend does not fill, and its slot 1 is a string, which
// sets no integer value. It has no selector: it posts every call, with
// what it read.
func rawLeakProgram() Program {
	sys := HookConfig{NArgs: 2, NConds: 1, NSelectors: 1}
	sys.ArgType[0], sys.ArgIndex[0] = ArgU64, 5
	sys.ArgType[1], sys.ArgIndex[1] = ArgU64, 5
	sys.Conds[0] = Cond{Subject: 0, Op: CondEq, V1: 1, V2: 1}
	sys.Actions[0] = SelAction{Post: 1}
	tp := HookConfig{NArgs: 2}
	tp.ArgType[0], tp.ArgIndex[0] = ArgU64, 5
	tp.ArgType[1], tp.ArgIndex[1] = ArgString, 0
	fields := TPFields{}
	fields.Offset[0], fields.Kind[0] = 8, TPU32 // __syscall_nr
	return Program{
		Hooks: []SyscallHook{{Syscall: uint32(syscall.SYS_GETPID), Config: sys}},
		Funcs: []FuncHook{{Attach: AttachTracepoint, Symbol: "syscalls/sys_enter_getpid", Fields: fields, Config: tp}},
	}
}

// TestRawArgsClearedBetweenHooks checks that a hook reading an argument
// slot its backend does not fill reads 0, not what the previous hook on
// the CPU left in the shared scratch (issue 14, item 4), and that a
// string slot's integer value is 0, not the previous hook's.
func TestRawArgsClearedBetweenHooks(t *testing.T) {
	s, err := Load(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in, err := s.Hooks().Install(1, ModeEnforce, rawLeakProgram(), nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for range 8 {
		_, _, _ = syscall.Syscall6(syscall.SYS_GETPID, 0, 0, 0, 0, 0, rawLeakMagic)
	}
	tpHook := in.HookIDs[1]
	for range 8 {
		g := nextGeneric(t, s, syscall.Getpid())
		if g.HookID != tpHook {
			t.Fatalf("record of hook %d, want only the tracepoint hook's (%d)", g.HookID, tpHook)
		}
		if g.ArgVal[0] != 0 {
			t.Fatalf("tracepoint hook read raw[5] = %#x, want 0 (the raw syscall hook's r9 leaked)", uint64(g.ArgVal[0]))
		}
		if g.ArgVal[1] != 0 {
			t.Fatalf("tracepoint hook's string slot has the integer value %#x, want 0 (the raw syscall hook's)", uint64(g.ArgVal[1]))
		}
	}
}
