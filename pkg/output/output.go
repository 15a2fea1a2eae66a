// Package output hands every event the agent makes to its outputs: API
// subscribers and counters see them all, redacted (subscribers filter for
// themselves); the export filters decide what the files and SIEM sinks
// receive, and which fields they show.
//
// An output that fails never stops the agent: Flush logs its errors (at most
// every logEvery) and does not return them, and an exporter that lost events
// (a LossReporter) has its lost_events record sent to every output once it
// writes again.
package output

import (
	"errors"
	"time"

	"github.com/sirupsen/logrus"

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

// LossReporter is an exporter that counts the events it could not write
// and, once it writes again, returns their lost_events record, once.
type LossReporter interface {
	Recovered() *event.LostEvents
}

const logEvery = 30 * time.Second

// Output is the agent's sink.
type Output struct {
	Live     []Sink           // every event: API subscribers, counters
	Redact   *filter.Pipeline // redaction for Live; nil for none
	Filter   *filter.Pipeline // the export filters; nil: everything, as it is
	Exported []Exporter       // files, SIEM sinks
	NodeName string           // of lost_events records
	line     []byte
	logged   time.Time // when a Flush error was last logged
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
		errs = appendErr(errs, s.Write(live))
	}
	if o.Filter == nil {
		return errors.Join(appendErr(errs, o.exportOne(filter.Record{Event: ev}))...)
	}
	return errors.Join(appendErr(errs, o.export(o.Filter.Apply(ev, now)))...)
}

func (o *Output) export(recs []filter.Record) error {
	var errs []error
	for _, r := range recs {
		errs = appendErr(errs, o.exportOne(r))
	}
	return errors.Join(errs...)
}

func (o *Output) exportOne(r filter.Record) error {
	var err error
	if o.line, err = r.AppendJSON(o.line[:0]); err != nil {
		return err
	}
	var errs []error
	for _, x := range o.Exported {
		errs = appendErr(errs, x.Export(r.Event, o.line))
	}
	return errors.Join(errs...)
}

// appendErr appends err when there is one: the event path allocates no
// slice for errors it does not have.
func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// Flush writes a due rate_limit_info record, flushes every output, and
// sends the lost_events records of exporters that write again. Errors are
// logged, not returned: a failing output must not stop the agent.
func (o *Output) Flush() error {
	var errs []error
	if o.Filter != nil {
		errs = append(errs, o.export(o.Filter.Tick(time.Now())))
	}
	errs = append(errs, o.flush())
	if o.reportRecovered() {
		errs = append(errs, o.flush())
	}
	if err := errors.Join(errs...); err != nil && time.Since(o.logged) >= logEvery {
		o.logged = time.Now()
		logrus.WithError(err).Error("output: flush failed")
	}
	return nil
}

func (o *Output) flush() error {
	var errs []error
	for _, s := range o.Live {
		errs = append(errs, s.Flush())
	}
	for _, x := range o.Exported {
		errs = append(errs, x.Flush())
	}
	return errors.Join(errs...)
}

// reportRecovered writes the lost_events records of exporters that write
// again to every output; true when there was one.
func (o *Output) reportRecovered() bool {
	var found bool
	for _, x := range o.Exported {
		r, ok := x.(LossReporter)
		if !ok {
			continue
		}
		if lost := r.Recovered(); lost != nil {
			found = true
			ev := &event.Event{LostEvents: lost, NodeName: o.NodeName, Time: event.FormatTime(time.Now())}
			if err := o.Write(ev); err != nil {
				logrus.WithError(err).Error("output: writing a lost_events record")
			}
		}
	}
	return found
}
