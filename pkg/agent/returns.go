package agent

import (
	"container/list"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// maxPendingReturns bounds the return hooks' entries waiting for their
// return: the kernel's own map of them (entry_sels) holds as many.
const maxPendingReturns = 16384

// returnKey is a return hook's call on a thread.
type returnKey struct{ tid, hook uint32 }

// returns joins a return hook's two records, its entry's (the arguments,
// read at the call's entry as Tetragon reads them) and its return's (the
// return value and the buffers read at return), into one event. Entries
// wait in arrival order; past maxPendingReturns the oldest goes, counted
// in evicted (its event is lost).
type returns struct {
	pending map[returnKey]*list.Element // of *tracing.Generic
	order   *list.List
	evicted uint64
}

func newReturns() *returns {
	return &returns{pending: map[returnKey]*list.Element{}, order: list.New()}
}

// join takes a hook record and its stack traces, and returns the record
// to render and its stack traces (the entry's: the kernel takes them
// there, where Tetragon's actions run), or nil while there is none yet.
// retCopy marks the slots the return reads (bit i: slot i).
func (r *returns) join(g *tracing.Generic, retCopy uint8, stacks event.StackTraces) (*tracing.Generic, event.StackTraces) {
	k := returnKey{g.Tid, g.HookID}
	switch g.Part {
	case tracing.PartEntry:
		r.take(k)
		r.put(k, g, stacks)
		return nil, stacks
	case tracing.PartDropped:
		r.take(k)
		return nil, stacks
	case tracing.PartReturn:
		if entry := r.take(k); entry != nil {
			return joined(entry.g, g, retCopy), entry.stacks
		}
		return g, stacks // its entry's record was lost, and counted where it was
	}
	return g, stacks
}

// joined is entry's event with ret's return value, time and returnCopy
// buffers.
func joined(entry, ret *tracing.Generic, retCopy uint8) *tracing.Generic {
	out := *entry
	out.Hdr, out.Ret, out.HasRet, out.Part = ret.Hdr, ret.Ret, ret.HasRet, tracing.PartWhole
	for i := range out.Args {
		if retCopy&(1<<i) != 0 {
			out.Args[i], out.ArgVal[i], out.ArgLen[i] = ret.Args[i], ret.ArgVal[i], ret.ArgLen[i]
			out.DataErr[i], out.DataLen[i] = ret.DataErr[i], ret.DataLen[i]
		}
	}
	return &out
}

func (r *returns) put(k returnKey, g *tracing.Generic, stacks event.StackTraces) {
	if r.order.Len() >= maxPendingReturns {
		oldest := r.order.Front()
		delete(r.pending, oldest.Value.(*pendingReturn).key)
		r.order.Remove(oldest)
		r.evicted++
	}
	r.pending[k] = r.order.PushBack(&pendingReturn{k, g, stacks})
}

func (r *returns) take(k returnKey) *pendingReturn {
	e, ok := r.pending[k]
	if !ok {
		return nil
	}
	delete(r.pending, k)
	r.order.Remove(e)
	return e.Value.(*pendingReturn)
}

type pendingReturn struct {
	key    returnKey
	g      *tracing.Generic
	stacks event.StackTraces
}
