// Package output hands every event the agent makes to its outputs: API
// subscribers and counters see them all, redacted (subscribers filter for
// themselves); the export filters decide what the files and SIEM sinks
// receive, and which fields they show.
package output

import (
	"errors"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/filter"
)

// Sink takes events in order; Flush is called when the agent has nothing
// more to read for now.
type Sink interface {
	Write(*event.Event) error
	Flush() error
}

// Exporter takes exported events in order, each with its JSON line (field
// filters applied, no newline), valid only during the call.
type Exporter interface {
	Export(ev *event.Event, line []byte) error
	Flush() error
}

// Output is the agent's sink.
type Output struct {
	Live     []Sink           // every event: API subscribers, counters
	Redact   *filter.Pipeline // redaction for Live; nil for none
	Filter   *filter.Pipeline // the export filters; nil: everything, as it is
	Exported []Exporter       // files, SIEM sinks
	line     []byte
}

// Write hands ev to every output.
func (o *Output) Write(ev *event.Event) error {
	now := time.Now()
	live := ev
	if o.Redact != nil {
		if recs := o.Redact.Apply(ev, now); len(recs) > 0 {
			live = recs[len(recs)-1].Event
		}
	}
	var errs []error
	for _, s := range o.Live {
		errs = append(errs, s.Write(live))
	}
	recs := []filter.Record{{Event: ev}}
	if o.Filter != nil {
		recs = o.Filter.Apply(ev, now)
	}
	return errors.Join(append(errs, o.export(recs))...)
}

func (o *Output) export(recs []filter.Record) error {
	var errs []error
	for _, r := range recs {
		var err error
		if o.line, err = r.AppendJSON(o.line[:0]); err != nil {
			errs = append(errs, err)
			continue
		}
		for _, x := range o.Exported {
			errs = append(errs, x.Export(r.Event, o.line))
		}
	}
	return errors.Join(errs...)
}

// Flush writes a due rate_limit_info record and flushes every output.
func (o *Output) Flush() error {
	var errs []error
	if o.Filter != nil {
		errs = append(errs, o.export(o.Filter.Tick(time.Now())))
	}
	for _, s := range o.Live {
		errs = append(errs, s.Flush())
	}
	for _, x := range o.Exported {
		errs = append(errs, x.Flush())
	}
	return errors.Join(errs...)
}
