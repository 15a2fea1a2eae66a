// Package export writes events as JSON lines, to stdout or to a file that is
// rotated by size.
//
// A write that fails (a full disk, a file that cannot be opened again after
// rotation) never stops the agent: the events it held are lost and counted,
// writes are tried again with a growing backoff (events that come during the
// backoff are counted as lost too), errors are logged at most every
// logEvery, and once a write works again the loss is told in band
// (Recovered, reason event.LostExportWrite).
package export

import (
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/event"
)

const (
	bufSize    = 64 << 10 // lines buffered before they are written
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
	logEvery   = 30 * time.Second
)

// target is where the lines go: Write is all or nothing where it can be.
type target interface {
	Write(p []byte) error
	Close() error
}

// Writer writes events' JSON lines into a buffer that Flush writes out.
type Writer struct {
	out   target
	buf   []byte
	lines uint64 // events in buf
	fail  failure
	total atomic.Uint64 // events lost since the start
	done  *event.LostEvents
	now   func() time.Time
}

// failure is the state of an output that fails: the events lost since it
// failed, and when to try again.
type failure struct {
	n          uint64
	start, end time.Time
	retry      time.Time
	backoff    time.Duration
	logged     time.Time
}

type plain struct{ io.WriteCloser }

func (p plain) Write(b []byte) error {
	_, err := p.WriteCloser.Write(b)
	return err
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Stdout returns a writer to standard output.
func Stdout() *Writer { return New(nopCloser{os.Stdout}) }

// File returns a writer to a file created 0600 and rotated by size; an
// existing file is refused when it is a symbolic link or not a regular
// file, and unless o.AllowShared, when another user owns it or group or
// others may open it.
func File(o FileOptions) (*Writer, error) {
	f, err := newRotFile(o)
	if err != nil {
		return nil, err
	}
	return newWriter(f), nil
}

// New returns a writer to out.
func New(out io.WriteCloser) *Writer { return newWriter(plain{out}) }

func newWriter(t target) *Writer {
	return &Writer{out: t, buf: make([]byte, 0, bufSize), now: time.Now}
}

// Export buffers an event's encoded line. It fails never: an event that
// cannot be written is counted.
func (w *Writer) Export(_ *event.Event, line []byte) error {
	if w.fail.n > 0 {
		if now := w.now(); now.Before(w.fail.retry) {
			w.lose(1, now)
			return nil
		}
	}
	w.buf = append(append(w.buf, line...), '\n')
	w.lines++
	if len(w.buf) >= bufSize {
		w.write()
	}
	return nil
}

// Flush writes buffered lines out; a failure is counted, not returned.
func (w *Writer) Flush() error {
	w.write()
	return nil
}

func (w *Writer) write() {
	if len(w.buf) == 0 {
		return
	}
	err := w.out.Write(w.buf)
	now := w.now()
	switch {
	case err != nil:
		w.failed(err, now)
	case w.fail.n > 0:
		w.recovered()
	}
	w.buf, w.lines = w.buf[:0], 0
}

// failed counts the buffered events as lost and backs off.
func (w *Writer) failed(err error, now time.Time) {
	w.lose(w.lines, now)
	f := &w.fail
	f.backoff = min(max(2*f.backoff, minBackoff), maxBackoff)
	f.retry = now.Add(f.backoff)
	if now.Sub(f.logged) >= logEvery {
		f.logged = now
		logrus.WithError(err).WithField("lost", f.n).Error("export: write failed: events are lost until it works again (retrying)")
	}
}

func (w *Writer) lose(n uint64, now time.Time) {
	if w.fail.n == 0 {
		w.fail.start = now
	}
	w.fail.n += n
	w.fail.end = now
	w.total.Add(n)
}

// recovered turns the losses into the record Recovered returns.
func (w *Writer) recovered() {
	f := w.fail
	if w.done == nil {
		w.done = &event.LostEvents{Reason: event.LostExportWrite, WindowStart: event.FormatTime(f.start)}
	}
	w.done.Count += f.n
	w.done.WindowEnd = event.FormatTime(f.end)
	logrus.WithField("lost", f.n).WithField("since", f.start.Format(time.RFC3339)).Warn("export: writing works again")
	w.fail = failure{logged: f.logged}
}

// Recovered returns, once, the loss of the events that could not be
// written, after writing worked again; nil when there is none.
func (w *Writer) Recovered() *event.LostEvents {
	d := w.done
	w.done = nil
	return d
}

// Lost is the number of events lost since the start.
func (w *Writer) Lost() uint64 { return w.total.Load() }

// Close flushes and closes the output.
func (w *Writer) Close() error {
	w.write()
	return w.out.Close()
}

func logf(format string, args ...any) { logrus.Errorf(format, args...) }
