package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/pkg/event"
)

// EventCounter counts events by type as they pass; it is an agent sink.
type EventCounter struct {
	vec    *prometheus.CounterVec
	extra  []string
	byType map[string]prometheus.Counter // without extra labels: no lookup per event
}

var eventTypes = []string{"process_exec", "process_exit", "process_kprobe", "process_lsm", "process_tracepoint",
	"process_uprobe", "process_usdt", "process_loader", "lost_events", "rate_limit_info", "unknown"}

func newEventCounter(extra []string) *EventCounter {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_events_total",
		Help: "Events the agent made, by type."}, append([]string{"type"}, extra...))
	c := &EventCounter{vec: vec, extra: extra}
	if len(extra) == 0 {
		c.byType = map[string]prometheus.Counter{}
		for _, t := range eventTypes {
			c.byType[t] = vec.WithLabelValues(t)
		}
	}
	return c
}

// Write counts ev.
func (c *EventCounter) Write(ev *event.Event) error {
	k := ev.Kind()
	if c.byType != nil {
		c.byType[k.Type].Inc()
		return nil
	}
	values := []string{k.Type}
	for _, l := range c.extra {
		values = append(values, labelOf(l, k.Process))
	}
	c.vec.WithLabelValues(values...).Inc()
	return nil
}

// Flush does nothing.
func (c *EventCounter) Flush() error { return nil }

func labelOf(label string, p *event.Process) string {
	if p == nil {
		return ""
	}
	switch label {
	case LabelBinary:
		return p.Binary
	case LabelNamespace:
		if p.Pod != nil {
			return p.Pod.Namespace
		}
	case LabelPod:
		if p.Pod != nil {
			return p.Pod.Name
		}
	}
	return ""
}
