package agent

import (
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

func hookRecord(part uint8, tid uint32, ret int64, args ...string) *tracing.Generic {
	g := &tracing.Generic{}
	g.Part, g.Tid, g.HookID, g.Ret = part, tid, 7, ret
	for i, a := range args {
		g.Args[i], g.ArgLen[i] = []byte(a), uint16(len(a))
	}
	return g
}

// join is r.join of a record without stack traces.
func join(r *returns, g *tracing.Generic, retCopy uint8) *tracing.Generic {
	out, _ := r.join(g, retCopy, event.StackTraces{})
	return out
}

// TestReturnsCarryTheEntrysStacks: the stack traces taken at the entry
// come out with the joined event.
func TestReturnsCarryTheEntrysStacks(t *testing.T) {
	r := newReturns()
	at := event.StackTraces{KernelStackTrace: []*event.StackTraceEntry{{Symbol: "do_sys_openat2"}}}
	if g, _ := r.join(hookRecord(tracing.PartEntry, 1, 0, "f"), 0, at); g != nil {
		t.Fatal("an entry went out before its return")
	}
	g, stacks := r.join(hookRecord(tracing.PartReturn, 1, 3), 0, event.StackTraces{})
	if g == nil || len(stacks.KernelStackTrace) != 1 || stacks.KernelStackTrace[0].Symbol != "do_sys_openat2" {
		t.Errorf("joined %+v with stacks %+v, want the entry's", g, stacks)
	}
}

// TestReturnsJoinEntryAndReturn: the event has the entry's arguments, the
// return's value and its returnCopy slots; a dropped return drops the
// entry; a return whose entry was lost goes out alone.
func TestReturnsJoinEntryAndReturn(t *testing.T) {
	r := newReturns()
	if g := join(r, hookRecord(tracing.PartEntry, 1, 0, "/etc/shadow", ""), 0b10); g != nil {
		t.Fatal("an entry went out before its return")
	}
	g := join(r, hookRecord(tracing.PartReturn, 1, 3, "", "filled"), 0b10)
	if g == nil || string(g.Args[0]) != "/etc/shadow" || string(g.Args[1]) != "filled" || g.Ret != 3 || g.Part != tracing.PartWhole {
		t.Fatalf("joined = %+v", g)
	}
	join(r, hookRecord(tracing.PartEntry, 2, 0, "a"), 0)
	if g := join(r, hookRecord(tracing.PartDropped, 2, 0), 0); g != nil || len(r.pending) != 0 {
		t.Errorf("a dropped return: got %+v, %d pending", g, len(r.pending))
	}
	if g := join(r, hookRecord(tracing.PartReturn, 3, -2, "x"), 0); g == nil || g.Ret != -2 {
		t.Errorf("a return without its entry: got %+v, want it as it came", g)
	}
	if g := join(r, hookRecord(tracing.PartWhole, 4, 0, "y"), 0); g == nil {
		t.Error("a whole record did not go out")
	}
}

// TestReturnsBounded: past maxPendingReturns the oldest entry goes, and is
// counted.
func TestReturnsBounded(t *testing.T) {
	r := newReturns()
	for tid := range uint32(maxPendingReturns + 10) {
		join(r, hookRecord(tracing.PartEntry, tid, 0, "e"), 0)
	}
	if len(r.pending) != maxPendingReturns || r.order.Len() != maxPendingReturns || r.evicted != 10 {
		t.Fatalf("%d pending, %d in order, %d evicted", len(r.pending), r.order.Len(), r.evicted)
	}
	if g := join(r, hookRecord(tracing.PartReturn, 0, 0), 0); g == nil || len(g.Args[0]) != 0 {
		t.Error("the oldest entry should be gone: its return goes out alone")
	}
	if g := join(r, hookRecord(tracing.PartReturn, maxPendingReturns+9, 0), 0); g == nil || string(g.Args[0]) != "e" {
		t.Error("the newest entry should still be joined")
	}
}
