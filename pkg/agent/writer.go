package agent

import (
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/event"
)

// The writer hands events to the sink on a goroutine of its own: the
// agent's goroutine decodes records and ties them to processes, the
// writer's waits for pods, filters, encodes and writes. On a busy node
// each gets a share of a CPU, where one goroutine doing both fell behind
// the kernel at 200,000 events a second.
//
// Events go over in batches. A full queue blocks the agent's goroutine:
// records then wait in the kernel's ring buffer, which counts what it
// cannot take. Everything that touches an event after it is written
// (pods attached to its processes, the sink) happens on the writer's
// goroutine, so events are never read and changed at once.
const (
	batchLen    = 64                    // events a batch holds at most
	queueLen    = 16                    // batches waiting at most
	releaseTick = 50 * time.Millisecond // how often held events are looked at
)

type writer struct {
	sink   Sink
	pods   *podWaiter     // nil without Kubernetes
	events *atomic.Uint64 // Stats.Events
	batch  []*event.Event
	queue  chan batch
	done   chan error
}

// batch is a run of events; flush asks for the sink's Flush after them,
// last for the held events too, and the writer's end.
type batch struct {
	evs         []*event.Event
	flush, last bool
}

// startWriter starts the writer's goroutine.
func startWriter(sink Sink, pods *podWaiter, events *atomic.Uint64) *writer {
	w := &writer{sink: sink, pods: pods, events: events, queue: make(chan batch, queueLen), done: make(chan error, 1)}
	go w.run()
	return w
}

// write queues ev.
func (w *writer) write(ev *event.Event) {
	w.batch = append(w.batch, ev)
	if len(w.batch) == batchLen {
		w.send(batch{})
	}
}

// flush queues what is batched and asks for the sink's Flush.
func (w *writer) flush() { w.send(batch{flush: true}) }

// close writes out what is queued and held, flushes the sink and stops
// the writer; it returns the last Flush's error.
func (w *writer) close() error {
	w.send(batch{last: true})
	return <-w.done
}

func (w *writer) send(b batch) {
	b.evs, w.batch = w.batch, make([]*event.Event, 0, batchLen)
	w.queue <- b
}

func (w *writer) run() {
	tick := time.NewTicker(releaseTick)
	defer tick.Stop()
	for {
		select {
		case b := <-w.queue:
			for _, ev := range b.evs {
				w.admit(ev)
			}
			w.release(time.Now())
			switch {
			case b.last:
				if w.pods != nil {
					w.emit(w.pods.drain())
				}
				w.done <- w.sink.Flush()
				return
			case b.flush:
				if err := w.sink.Flush(); err != nil {
					logrus.WithError(err).Error("flushing events")
				}
			}
		case now := <-tick.C:
			w.release(now)
		}
	}
}

// admit writes ev, once its pod is known where it runs in a container.
func (w *writer) admit(ev *event.Event) {
	if w.pods != nil {
		w.emit(w.pods.admit(ev, time.Now()))
		return
	}
	w.emit([]*event.Event{ev})
}

// release writes the held events due at now.
func (w *writer) release(now time.Time) {
	if w.pods != nil {
		w.emit(w.pods.release(now))
	}
}

func (w *writer) emit(evs []*event.Event) {
	for _, ev := range evs {
		w.events.Add(1)
		if err := w.sink.Write(ev); err != nil {
			logrus.WithError(err).Error("writing event")
		}
	}
}
