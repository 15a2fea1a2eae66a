// Package broadcast hands every event to live subscribers (API clients
// streaming events), each through a bounded queue: a subscriber too slow to
// keep up loses events, counted and told in-band, and never slows the agent
// or the other subscribers. Write only queues: a subscriber's filter runs
// in its own goroutine, in Next, however costly it is.
package broadcast

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// LostSubscriberQueue is the lost_events reason a subscriber reads when its
// queue overflowed.
const LostSubscriberQueue = "subscriber_queue_full"

// Hub is the set of subscribers; it is an agent sink.
type Hub struct {
	mu      sync.Mutex
	subs    map[*Subscriber]struct{}
	dropped atomic.Uint64
}

// Subscriber receives the events its accept function takes. Its queue
// holds events before accept sees them: the events it loses are counted
// whether it would have taken them or not.
type Subscriber struct {
	hub    *Hub
	accept func(*event.Event) bool
	ch     chan *event.Event
	lost   atomic.Uint64 // dropped since the subscriber last heard of it
	since  atomic.Int64  // unix ns of the first of those
}

// New returns a hub without subscribers.
func New() *Hub { return &Hub{subs: map[*Subscriber]struct{}{}} }

// Subscribe adds a subscriber with a queue of size events (at least 2);
// accept (nil: all) chooses its events, in Next. Loss records always pass.
func (h *Hub) Subscribe(size int, accept func(*event.Event) bool) *Subscriber {
	size = max(size, 2)
	s := &Subscriber{hub: h, accept: accept, ch: make(chan *event.Event, size)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Write offers ev to every subscriber, without waiting and without
// running their filters.
func (h *Hub) Write(ev *event.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.offer(ev) {
			if s.lost.Add(1) == 1 {
				s.since.Store(time.Now().UnixNano())
			}
			h.dropped.Add(1)
		}
	}
	return nil
}

// offer queues ev, after the record of earlier losses if there are any;
// only Write sends, under the hub's lock, so the room it sees stays.
func (s *Subscriber) offer(ev *event.Event) bool {
	if s.lost.Load() > 0 {
		if len(s.ch) > cap(s.ch)-2 {
			return false
		}
		s.ch <- s.lostRecord()
	}
	select {
	case s.ch <- ev:
		return true
	default:
		return false
	}
}

// Flush does nothing: subscribers read at their own pace.
func (h *Hub) Flush() error { return nil }

// Dropped counts the events subscribers were too slow to take.
func (h *Hub) Dropped() uint64 { return h.dropped.Load() }

// Subscribers is how many are connected.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Next waits for the subscriber's next event that accept takes, running
// accept in the caller's goroutine; where events were lost, a lost_events
// record with their count stands in their place.
func (s *Subscriber) Next(ctx context.Context) (*event.Event, error) {
	for {
		select {
		case ev := <-s.ch:
			if s.accept == nil || ev.LostEvents != nil || s.accept(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Subscriber) lostRecord() *event.Event {
	n := s.lost.Swap(0)
	if n == 0 {
		return nil
	}
	now := time.Now()
	return &event.Event{LostEvents: &event.LostEvents{Count: n, Reason: LostSubscriberQueue,
		WindowStart: event.FormatTime(time.Unix(0, s.since.Load())), WindowEnd: event.FormatTime(now)},
		Time: event.FormatTime(now)}
}

// Close removes the subscriber.
func (s *Subscriber) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
}
