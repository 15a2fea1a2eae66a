package filter

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"unsafe"

	"github.com/vigil-sec/vigil/pkg/event"
)

// A process is in every event it causes, as their process, parent or
// ancestor, and its JSON is most of theirs. Processes do not change once
// they are in an event, but for the pod the agent may attach later, so the
// JSON of recent ones is kept, keyed by the process and its pod: an event
// body is encoded without its processes, and theirs spliced in. A copy of
// a process (a redaction, an exec's binary properties) is another process,
// with a key of its own.

// procSlots is how many processes' JSON is kept (about 600 bytes each), in
// a table indexed by the process's address.
const (
	procSlotBits = 10
	procSlots    = 1 << procSlotBits
)

type procSlot struct {
	p    *event.Process
	pod  *event.Pod
	json []byte
}

// procJSON is shared by every pipeline and encoder.
var procJSON struct {
	sync.Mutex
	slots [procSlots]procSlot
}

// appendProcess appends p's JSON, encoding it with e only when it is not
// kept; e's buffer is overwritten.
func appendProcess(dst []byte, p *event.Process, e *encoder) ([]byte, error) {
	if p == nil {
		return append(dst, "null"...), nil
	}
	s := &procJSON.slots[slotOf(p)]
	procJSON.Lock()
	if s.p == p && s.pod == p.Pod {
		dst = append(dst, s.json...)
		procJSON.Unlock()
		return dst, nil
	}
	procJSON.Unlock()
	b, err := e.encode(p)
	if err != nil {
		return dst, err
	}
	kept := procSlot{p: p, pod: p.Pod, json: slices.Clone(b)}
	procJSON.Lock()
	*s = kept
	procJSON.Unlock()
	return append(dst, b...), nil
}

// slotOf spreads processes over the table by address (Fibonacci hashing).
func slotOf(p *event.Process) uint64 {
	return (uint64(uintptr(unsafe.Pointer(p))) * 0x9e3779b97f4a7c15) >> (64 - procSlotBits)
}

// bareBody is how a body's JSON starts when it is encoded without its
// processes: every body has its process first, which is not omitted.
var bareBody = []byte(`{"process":null`)

// body returns the JSON name of ev's body, whose subject is s, and its
// JSON with its processes' kept JSON, in e.out until the next use of e.
func (e *encoder) body(ev *event.Event, s *subject) (string, []byte, error) {
	name, v := e.bodies.bare(ev, s)
	out := append(e.out[:0], `{"process":`...)
	out, err := appendProcess(out, s.proc, e)
	if err == nil && s.parent != nil {
		out, err = appendProcess(append(out, `,"parent":`...), s.parent, e)
	}
	for i, a := range s.ancestors {
		if err != nil {
			break
		}
		out = append(out, ',')
		if i == 0 {
			out = append(out, `"ancestors":[`...)
		}
		out, err = appendProcess(out, a, e)
	}
	if len(s.ancestors) > 0 {
		out = append(out, ']')
	}
	e.out = out
	if err != nil {
		return name, nil, err
	}
	rest, err := e.encode(v)
	if err != nil {
		return name, nil, err
	}
	if !bytes.HasPrefix(rest, bareBody) {
		return name, nil, fmt.Errorf("%s: its JSON does not start with its process", name)
	}
	e.out = append(e.out, rest[len(bareBody):]...)
	return name, e.out, nil
}
