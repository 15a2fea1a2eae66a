package agent

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// recordingSink keeps what the writer gives it.
type recordingSink struct {
	mu      sync.Mutex
	evs     []*event.Event
	flushes int
	err     error // what Flush returns
}

func (s *recordingSink) Write(ev *event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	return nil
}

func (s *recordingSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
	return s.err
}

func (s *recordingSink) seen() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.evs), s.flushes
}

// TestWriterKeepsOrderAndFlushes: events written through the writer reach
// the sink in order, a partial batch goes out with a flush, and close
// returns the last Flush's error once everything is written.
func TestWriterKeepsOrderAndFlushes(t *testing.T) {
	sink := &recordingSink{}
	var count atomic.Uint64
	w := startWriter(sink, nil, &count)
	const n = 3*batchLen + 5
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = &event.Event{NodeName: "n", Time: time.Unix(int64(i), 0).String()}
		w.write(evs[i])
	}
	w.flush()
	deadline := time.Now().Add(10 * time.Second)
	for got, flushes := sink.seen(); got < n || flushes < 1; got, flushes = sink.seen() {
		if time.Now().After(deadline) {
			t.Fatalf("the sink has %d of %d events and %d flushes", got, n, flushes)
		}
		time.Sleep(time.Millisecond)
	}
	w.write(&event.Event{NodeName: "last"})
	sink.mu.Lock()
	sink.err = errors.New("disk full")
	sink.mu.Unlock()
	if err := w.close(); err == nil || err.Error() != "disk full" {
		t.Fatalf("close: %v, want the last Flush's error", err)
	}
	if len(sink.evs) != n+1 || sink.evs[n].NodeName != "last" {
		t.Fatalf("after close the sink has %d events, want %d ending with the last", len(sink.evs), n+1)
	}
	for i, ev := range evs {
		if sink.evs[i] != ev {
			t.Fatalf("event %d is out of order", i)
		}
	}
	if count.Load() != n+1 {
		t.Fatalf("counted %d events, want %d", count.Load(), n+1)
	}
}
