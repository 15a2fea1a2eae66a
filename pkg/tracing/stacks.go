package tracing

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
)

// DefaultStackTraces is the default number of stack traces the kernel's
// stack map holds: about 1 KiB of locked kernel memory each, allocated
// when the generic hook program loads.
const DefaultStackTraces = 4096

// stackBatch bounds the ids read and not yet released: past it, Frames
// deletes them itself, so the map cannot fill up between two drains of
// the ring buffer.
const stackBatch = 256

// sweepEvery is how often, at most, Release looks for orphan stacks.
const sweepEvery = 10 * time.Second

// Stacks reads the stack traces that hooks collected (Generic.KernelStack
// and UserStack) from the kernel's stack map, and frees them there.
//
// Identical stacks share an id, so a record not read yet may refer to an
// id already read: ids are deleted only at Release, which the reader calls
// once it has read what the ring buffer held, and the stacks deleted at
// the last Release are kept until the next, for a record written just
// before it. A stack whose record was lost (the ring buffer was full) is
// an orphan no record will free: Release deletes the stacks that were in
// the map at its previous sweep, at least 10 s before, and that no record
// referred to since. Not safe for concurrent use.
type Stacks struct {
	m        *ebpf.Map
	read     map[uint32][]uint64 // read since the last Release: still in the map
	released map[uint32][]uint64 // deleted at the last Release
	unread   map[uint32]bool     // in the map at the last sweep, not referred to since
	swept    time.Time
	every    time.Duration // sweepEvery; tests shorten it
	orphans  uint64
}

func newStacks(m *ebpf.Map) *Stacks {
	return &Stacks{m: m, read: map[uint32][]uint64{}, released: map[uint32][]uint64{}, unread: map[uint32]bool{},
		swept: time.Now(), every: sweepEvery}
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
	delete(s.unread, key)
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
		s.deleteRead()
	}
	s.read[key] = f
	return f, nil
}

// Release deletes from the kernel's map the stacks read since the last
// Release, and now and then the orphan ones. Call it when the ring buffer
// is drained: every record written before then has been read.
func (s *Stacks) Release() {
	s.deleteRead()
	if time.Since(s.swept) >= s.every {
		s.sweep()
	}
}

// Orphans counts the stacks deleted without a record referring to them.
func (s *Stacks) Orphans() uint64 { return s.orphans }

// deleteRead deletes the stacks read so far; they stay readable until the
// next time.
func (s *Stacks) deleteRead() {
	if len(s.read) == 0 {
		return
	}
	for id := range s.read {
		_ = s.m.Delete(id) // an id gone already is what we want
	}
	s.released, s.read = s.read, make(map[uint32][]uint64, len(s.read))
}

// sweep deletes the stacks that were in the map at the last sweep and that
// no record referred to since, and notes those in it now.
func (s *Stacks) sweep() {
	s.swept = time.Now()
	now := map[uint32]bool{}
	for _, id := range s.ids() {
		if s.unread[id] {
			_ = s.m.Delete(id)
			s.orphans++
		} else {
			now[id] = true
		}
	}
	s.unread = now
}

// ids lists the stack ids in the kernel's map (its buckets: fewer than
// twice its entries).
func (s *Stacks) ids() []uint32 {
	var ids []uint32
	var key uint32
	var prev any // nil: from the first
	for range 2 * s.m.MaxEntries() {
		if err := s.m.NextKey(prev, &key); err != nil {
			break // ErrKeyNotExist after the last
		}
		ids = append(ids, key)
		k := key
		prev = &k
	}
	return ids
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
