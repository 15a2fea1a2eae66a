// Package output hands every event the agent makes to its outputs: API
// subscribers see them all (each filters for itself), and the export
// filters decide what the files and SIEM sinks receive.
package output

import (
	"errors"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Sink takes events in order; Flush is called when the agent has nothing
// more to read for now.
type Sink interface {
	Write(*event.Event) error
	Flush() error
}

// Filter turns an event into what the exported outputs receive: nothing,
// the event (changed or not), or also records of its own (rate_limit_info).
type Filter interface {
	Apply(ev *event.Event, now time.Time) []*event.Event
}

// Output is the agent's sink.
type Output struct {
	Live     []Sink // every event: API subscribers, counters
	Filter   Filter // nil: every event is exported
	Exported []Sink // files, SIEM sinks
}

// Write hands ev to every output.
func (o *Output) Write(ev *event.Event) error {
	var errs []error
	for _, s := range o.Live {
		errs = append(errs, s.Write(ev))
	}
	out := []*event.Event{ev}
	if o.Filter != nil {
		out = o.Filter.Apply(ev, time.Now())
	}
	for _, e := range out {
		for _, s := range o.Exported {
			errs = append(errs, s.Write(e))
		}
	}
	return errors.Join(errs...)
}

// Flush flushes every output.
func (o *Output) Flush() error {
	var errs []error
	for _, s := range append(o.Live, o.Exported...) {
		errs = append(errs, s.Flush())
	}
	return errors.Join(errs...)
}
