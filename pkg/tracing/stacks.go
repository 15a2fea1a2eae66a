package tracing

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/cilium/ebpf"
)

// DefaultStackTraces is the default number of stack traces the kernel's
// stack map holds: about 1 KiB of locked kernel memory each, allocated
// when the generic hook program loads.
const DefaultStackTraces = 4096

// stackBatch bounds the ids read and not yet released: past it, Frames
// releases them itself, so the map cannot fill up between two drains of
// the ring buffer.
const stackBatch = 256

// Stacks reads the stack traces that hooks collected (Generic.KernelStack
// and UserStack) from the kernel's stack map, and frees them there.
//
// Identical stacks share an id, so a record not read yet may refer to an
// id already read: ids are deleted only at Release, which the reader calls
// once it has read what the ring buffer held, and the stacks deleted at
// the last Release are kept until the next, for a record written just
// before it. Not safe for concurrent use.
type Stacks struct {
	m        *ebpf.Map
	read     map[uint32][]uint64 // read since the last Release: still in the map
	released map[uint32][]uint64 // deleted at the last Release
}

func newStacks(m *ebpf.Map) *Stacks {
	return &Stacks{m: m, read: map[uint32][]uint64{}, released: map[uint32][]uint64{}}
}

// ErrNoStack is the error for a stack id the kernel could not fill
// (StackError), or one no longer in the map.
var ErrNoStack = errors.New("no stack trace")

// Frames returns the addresses of stack id, innermost first. A negative
// id is the kernel's error, which it describes.
func (s *Stacks) Frames(id int32) ([]uint64, error) {
	if id < 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoStack, StackError(id))
	}
	key := uint32(id)
	if f, ok := s.read[key]; ok {
		return f, nil
	}
	var raw [MaxStackDepth]uint64
	if err := s.m.Lookup(key, &raw); err != nil {
		if f, ok := s.released[key]; ok && errors.Is(err, ebpf.ErrKeyNotExist) {
			return f, nil
		}
		return nil, fmt.Errorf("%w: stack %d: %v", ErrNoStack, id, err)
	}
	n := 0
	for n < len(raw) && raw[n] != 0 {
		n++
	}
	f := append([]uint64(nil), raw[:n]...)
	if len(s.read) >= stackBatch {
		s.Release()
	}
	s.read[key] = f
	return f, nil
}

// Release deletes from the kernel's map the stacks read since the last
// Release. Call it when the ring buffer is drained.
func (s *Stacks) Release() {
	if len(s.read) == 0 {
		return
	}
	for id := range s.read {
		_ = s.m.Delete(id) // an id gone already is what we want
	}
	s.released, s.read = s.read, make(map[uint32][]uint64, len(s.read))
}

// StackError says why the kernel returned no stack id: err is
// bpf_get_stackid's negative errno.
func StackError(err int32) string {
	switch e := syscall.Errno(-err); e {
	case syscall.EEXIST:
		return "stack map bucket taken by another stack (stack map too small)"
	case syscall.ENOMEM:
		return "stack map full"
	case syscall.EFAULT:
		return "no stack to walk"
	default:
		return e.Error()
	}
}
