package broadcast

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

func exec(pid uint32) *event.Event {
	return &event.Event{ProcessExec: &event.ProcessExec{Process: &event.Process{Pid: pid}}}
}

// A slow subscriber loses what does not fit its queue; a lost_events record
// with the count stands where the events were lost, and others are not
// affected.
func TestSlowSubscriberLosesInBand(t *testing.T) {
	h := New()
	slow := h.Subscribe(4, nil)
	fast := h.Subscribe(100, func(ev *event.Event) bool { return ev.ProcessExec.Process.Pid%2 == 0 })
	defer slow.Close()
	for pid := uint32(1); pid <= 10; pid++ {
		if err := h.Write(exec(pid)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := 0; i < 4; i++ { // the queue holds pids 1-4
		ev, _ := slow.Next(ctx)
		if ev.ProcessExec.Process.Pid != uint32(i+1) {
			t.Fatalf("event %d: pid %d", i, ev.ProcessExec.Process.Pid)
		}
	}
	if err := h.Write(exec(11)); err != nil {
		t.Fatal(err)
	}
	lost, _ := slow.Next(ctx)
	if lost.LostEvents == nil || lost.LostEvents.Count != 6 || lost.LostEvents.Reason != LostSubscriberQueue {
		t.Fatalf("after the loss: %+v, want lost_events of 6", lost)
	}
	if ev, _ := slow.Next(ctx); ev.ProcessExec == nil || ev.ProcessExec.Process.Pid != 11 {
		t.Errorf("after the loss record: %+v, want pid 11", ev)
	}
	if h.Dropped() != 6 {
		t.Errorf("dropped %d, want 6", h.Dropped())
	}
	for want := uint32(2); want <= 10; want += 2 {
		if ev, _ := fast.Next(ctx); ev.ProcessExec.Process.Pid != want {
			t.Errorf("filtered subscriber: pid %d, want %d", ev.ProcessExec.Process.Pid, want)
		}
	}
	fast.Close()
	if h.Subscribers() != 1 {
		t.Errorf("%d subscribers after one closed, want 1", h.Subscribers())
	}
	if _, err := fast.Next(ctx); err == nil {
		t.Error("closed and drained: Next returned an event")
	}
}

// Write never runs a subscriber's filter: ten subscribers whose filters
// block (the heaviest filter there is) do not stall Write, nor another
// subscriber, which receives every event; the blocked ones lose what does
// not fit their queues, counted and told in-band once they read again.
func TestWriteNeverRunsSubscriberFilters(t *testing.T) {
	h := New()
	release, inFilter := make(chan struct{}), make(chan struct{}, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	blocked := make([]*Subscriber, 10)
	for i := range blocked {
		blocked[i] = h.Subscribe(8, func(ev *event.Event) bool {
			if ev.ProcessExec.Process.Pid == 0 {
				inFilter <- struct{}{}
				<-release
			}
			return true
		})
	}
	other := h.Subscribe(1000, nil)

	// Each blocked subscriber's reader is inside its filter before Write runs.
	entered := make(chan *event.Event, len(blocked))
	within(ctx, t, "Write of the first event", func() { _ = h.Write(exec(0)) })
	for _, s := range blocked {
		go func() {
			ev, _ := s.Next(ctx)
			entered <- ev
		}()
		<-inFilter
	}
	within(ctx, t, "Write of 500 events", func() {
		for pid := uint32(1); pid <= 500; pid++ {
			_ = h.Write(exec(pid))
		}
	})
	for want := uint32(0); want <= 500; want++ {
		if ev, err := other.Next(ctx); err != nil || ev.ProcessExec.Process.Pid != want {
			t.Fatalf("the other subscriber: %+v, %v, want pid %d", ev, err, want)
		}
	}
	close(release)
	for range blocked {
		if ev := <-entered; ev.ProcessExec.Process.Pid != 0 {
			t.Fatalf("a blocked subscriber's first event: %+v", ev)
		}
	}
	for _, s := range blocked {
		for i := 0; i < 8; i++ { // its queue: events 1 to 8
			if ev, _ := s.Next(ctx); ev.ProcessExec.Process.Pid != uint32(i+1) {
				t.Fatalf("event %d: %+v", i, ev)
			}
		}
	}
	_ = h.Write(exec(501))
	lost := uint64(0)
	for _, s := range blocked {
		ev, _ := s.Next(ctx)
		if ev.LostEvents == nil || ev.LostEvents.Count != 492 {
			t.Fatalf("after its queue overflowed: %+v, want lost_events of 492", ev)
		}
		lost += ev.LostEvents.Count
	}
	if h.Dropped() != lost {
		t.Errorf("dropped %d, lost_events say %d", h.Dropped(), lost)
	}
}

// within runs fn, failing the test if it has not returned when ctx ends.
func within(ctx context.Context, t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("%s stalled behind subscribers' filters", what)
	}
}
