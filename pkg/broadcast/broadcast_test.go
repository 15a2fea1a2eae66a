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
