// Package sink sends events to a SIEM over the network, with a durable spool
// in between: Write serializes an event to JSON and appends it to the sink's
// spool (package spool), and a delivery goroutine sends the spooled events in
// order, retrying with exponential backoff while the receiver is down, and
// removes them from the spool only once the receiver took them. When the
// spool is full, events are dropped and counted, and once there is room again
// an in-band lost_events record (reason "sink_spool_full") says how many,
// before the events that follow.
//
// A sink is named by a URL-like spec (Open, ParseSpec):
//
//	syslog+tcp://HOST[:PORT][?OPTIONS]           RFC5424 over TCP, octet-counted (RFC6587); port 514
//	syslog+tls://HOST[:PORT][?OPTIONS]           RFC5424 over TLS (RFC5425); port 6514
//	syslog+relp://HOST[:PORT][?OPTIONS]          RFC5424 over RELP (rsyslog's imrelp); port 2514
//	splunk-hec+https://HOST[:PORT][/PATH][?OPTIONS]  Splunk HTTP Event Collector; port 8088,
//	splunk-hec+http://...                        path /services/collector/event
//	webhook+https://HOST[:PORT]/PATH[?OPTIONS]   POST of a JSON array of events
//	webhook+http://...
//	otlp+grpc://HOST[:PORT][?OPTIONS]            OpenTelemetry logs, OTLP/gRPC; port 4317
//	otlp+grpcs://...                             (TLS)
//	otlp+http://HOST[:PORT][/PATH][?OPTIONS]     OTLP/HTTP, protobuf; port 4318, path /v1/logs
//	otlp+https://...
//
// Options, as URL query parameters:
//
//	syslog, relp: app=NAME (vigil)  hostname=NAME (the node name)  facility=NAME|0-23 (local0)
//	            severity=NAME|0-7 (info)
//	splunk-hec: token=TOKEN (sent as "Authorization: Splunk TOKEN")  host=NAME (the node name)
//	            source=NAME (vigil)  sourcetype=NAME (_json)  index=NAME
//	webhook:    header=NAME:VALUE (repeatable); other parameters stay in the URL posted to
//	otlp:       header=NAME:VALUE (repeatable; gRPC metadata over gRPC)
//	TLS (syslog+tls, https, grpcs): ca=FILE (PEM; the system's roots when absent)  cert=FILE key=FILE
//	            (client certificate)  server_name=NAME  insecure_skip_verify=true (off by default)
//
// For example syslog+tls://siem.example:6514?ca=/etc/vigil/ca.pem&app=vigil or
// splunk-hec+https://splunk.example:8088?token=00000000-0000-0000-0000-000000000000.
//
// Syslog messages carry the event's JSON as MSG and its time, with
// microseconds, as TIMESTAMP. Splunk HEC requests carry several events, one
// JSON object per line. OTLP requests carry a log record per event: its
// JSON as the body, its time, and attributes to route by (otlp.go). A 2xx answer is a delivery; 408, 429, 5xx and
// connection errors are retried; any other answer is a permanent refusal: the
// batch is logged, counted (Stats.Rejected) and dropped.
//
// What counts as taken: over syslog+tcp and syslog+tls, what the receiver's
// TCP stack acknowledged (a receiver that stops may lose what it had not
// processed); over RELP, what the receiver answered for; over Splunk HEC,
// a 2xx answer, or, when the answer carries an ackId (indexer
// acknowledgement on), the acknowledgement of the indexers; over OTLP, a
// success without rejected records (OTLP's retryable gRPC codes are
// retried, the others refuse the batch). Deadlines move
// with progress: a delivery is given up (ErrStalled) only when the receiver
// took nothing more for the transport's timeout; the records it took are
// kept taken, the rest is sent again in smaller batches.
package sink

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/spool"
)

// LostSpoolFull is the reason of the lost_events records of a sink whose
// spool was full.
const LostSpoolFull = "sink_spool_full"

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink closed")

// ErrStalled is a delivery a transport gave up because the receiver took
// nothing more for its timeout: the deadline of a delivery moves with each
// byte, record or batch the receiver acknowledges, so a slow receiver that
// keeps taking is never a stall.
var ErrStalled = errors.New("receiver made no progress")

// stallLogEvery bounds the stall warnings of a sink.
const stallLogEvery = 30 * time.Second

// Record is one event as a transport sends it.
type Record struct {
	Time time.Time // the event's time
	JSON []byte    // the event
}

// Transport sends records to one receiver.
type Transport interface {
	// Send delivers recs in order and returns how many of the first ones
	// the receiver took, also with an error: those are never sent again.
	// With an error the others are sent again later, unless the error is
	// a *PermanentError. A receiver that took nothing more for the
	// transport's timeout is an error wrapping ErrStalled.
	Send(ctx context.Context, recs []Record) (int, error)
	// String names the receiver for logs, without secrets.
	String() string
	Close() error
}

// PermanentError is a refusal that sending again would not change: the
// records are dropped and counted.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Options configure a sink.
type Options struct {
	Dir      string // spool directory (required); one per sink
	MaxBytes int64  // spool bound (64 MiB when 0)
	// NodeName goes into lost_events records, and is the default syslog
	// hostname and HEC host.
	NodeName string
	// Strict: the sink's own lost_events records go out as Tetragon's
	// rate_limit_info (event.TetragonLoss), as the agent's
	// --export-tetragon-strict writes the others.
	Strict       bool
	BatchRecords int           // records per delivery at most (256 when 0)
	BatchBytes   int           // bytes per delivery, about (1 MiB when 0)
	MinBackoff   time.Duration // first wait after a failed delivery (100 ms when 0)
	MaxBackoff   time.Duration // longest wait between attempts (5 s when 0)
	// DrainTimeout is how long Close goes on delivering what is spooled
	// (5 s when 0; none when negative); what is left stays in the spool.
	DrainTimeout time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.BatchRecords <= 0 {
		o.BatchRecords = 256
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	def(&o.DrainTimeout, 5*time.Second)
	return o
}

// Stats are a sink's counts since it was opened.
type Stats struct {
	Delivered    uint64        // records the receiver took
	Dropped      uint64        // events dropped because the spool was full
	Rejected     uint64        // records the receiver refused for good
	Corrupt      uint64        // spool records found corrupt and skipped
	Retries      uint64        // failed delivery attempts
	Stalls       uint64        // attempts given up with ErrStalled
	SpoolBytes   int64         // bytes waiting in the spool
	SpoolRecords int64         // records waiting in the spool
	Lag          time.Duration // age of the oldest record waiting
}

// Sink spools events and delivers them to one receiver.
type Sink struct {
	t   Transport
	sp  *spool.Spool
	o   Options
	log *logrus.Entry

	mu      sync.Mutex // orders appends: events and lost_events records
	lost    lostWindow
	corrupt uint64 // spool records found corrupt, told in band
	closed  bool

	delivered, dropped, rejected, retries, stalls atomic.Uint64

	cancel context.CancelFunc
	done   chan struct{}
	// delivery goroutine only
	failing   int       // failed attempts in a row, for logs
	batch     int       // records per delivery: halved after a stall, doubled back after a success
	stallLog  time.Time // when a stall was last logged
	stallsOff uint64    // stalls since then, logged with the next
}

// lostWindow counts the events dropped since the last lost_events record.
type lostWindow struct {
	n          uint64
	start, end time.Time
}

// Open opens a sink for a spec (see the package doc).
func Open(spec string, o Options) (*Sink, error) {
	t, err := ParseSpec(spec, o.NodeName)
	if err != nil {
		return nil, err
	}
	s, err := New(t, o)
	if err != nil {
		t.Close()
	}
	return s, err
}

// New opens the spool in o.Dir and starts delivering to t.
func New(t Transport, o Options) (*Sink, error) {
	if o.Dir == "" {
		return nil, errors.New("sink: no spool directory")
	}
	o = o.withDefaults()
	sp, err := spool.Open(o.Dir, spool.Options{MaxBytes: o.MaxBytes})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sink{t: t, sp: sp, o: o, cancel: cancel, done: make(chan struct{}), batch: o.BatchRecords,
		log: logrus.WithField("sink", t.String())}
	go s.run(ctx)
	return s, nil
}

// Write spools an event. A full spool drops it and counts it, without
// error: errors are for a closed sink or a failing disk.
func (s *Sink) Write(ev *event.Event) error {
	data, err := encode(ev)
	if err != nil {
		return err
	}
	return s.put(data)
}

// Export spools an event with its encoded JSON line (the agent's export
// filters have shaped it); line is copied before Export returns.
func (s *Sink) Export(ev *event.Event, line []byte) error { return s.put(record(ev, line)) }

// put spools a record.
func (s *Sink) put(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if !s.appendLost() {
		s.drop()
		return nil
	}
	err := s.sp.Append(data)
	if errors.Is(err, spool.ErrFull) || errors.Is(err, spool.ErrTooLarge) || errors.Is(err, spool.ErrWrite) {
		s.drop()
		return nil
	}
	return err
}

// encode is the spool's record of an event: its time in Unix ns, then its
// JSON.
func encode(ev *event.Event) ([]byte, error) {
	js, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	return record(ev, js), nil
}

// record is a spool record: the event's time (Unix ns), then its JSON.
func record(ev *event.Event, js []byte) []byte {
	t, err := time.Parse(time.RFC3339Nano, ev.Time)
	if err != nil {
		t = time.Now()
	}
	b := make([]byte, 8, 8+len(js))
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano()))
	return append(b, js...)
}

func decode(rec spool.Record) Record {
	if len(rec.Data) < 8 {
		return Record{Time: rec.Time, JSON: []byte("{}")}
	}
	t := time.Unix(0, int64(binary.BigEndian.Uint64(rec.Data)))
	return Record{Time: t, JSON: rec.Data[8:]}
}

// drop counts an event the spool could not take; s.mu is held.
func (s *Sink) drop() {
	now := time.Now()
	if s.lost.n == 0 {
		s.lost.start = now
		s.log.Warn("spool full: dropping events until the receiver catches up")
	}
	s.lost.n++
	s.lost.end = now
	s.dropped.Add(1)
}

// appendCorrupt spools a lost_events record (reason
// event.LostSpoolCorrupt) of the spool's records found corrupt since the
// last one, if any. s.mu is held.
func (s *Sink) appendCorrupt() {
	c := s.sp.Corrupt()
	if c == s.corrupt {
		return
	}
	now := event.FormatTime(time.Now())
	data, err := encode(s.record(&event.Event{
		LostEvents: &event.LostEvents{Count: c - s.corrupt, Reason: event.LostSpoolCorrupt, WindowStart: now, WindowEnd: now},
		NodeName:   s.o.NodeName, Time: now,
	}))
	if err == nil && s.sp.Append(data) == nil {
		s.log.WithField("records", c-s.corrupt).Error("corrupt spool records skipped")
		s.corrupt = c
	}
}

// record is ev as the sink writes its own records: a lost_events record
// as rate_limit_info with Options.Strict.
func (s *Sink) record(ev *event.Event) *event.Event {
	if s.o.Strict {
		return event.TetragonLoss(ev)
	}
	return ev
}

// appendLost spools the lost_events record of the events dropped so far,
// if any; false when it did not fit. s.mu is held.
func (s *Sink) appendLost() bool {
	s.appendCorrupt()
	if s.lost.n == 0 {
		return true
	}
	now := time.Now()
	data, err := encode(s.record(&event.Event{
		LostEvents: &event.LostEvents{Count: s.lost.n, Reason: LostSpoolFull,
			WindowStart: event.FormatTime(s.lost.start), WindowEnd: event.FormatTime(s.lost.end)},
		NodeName: s.o.NodeName,
		Time:     event.FormatTime(now),
	}))
	if err == nil {
		err = s.sp.Append(data)
	}
	if err != nil {
		return false
	}
	s.log.WithField("dropped", s.lost.n).Warn("spool has room again")
	s.lost = lostWindow{}
	return true
}

// Flush makes what was written durable (at most once a second; it is on
// disk at Write already, safe from the process stopping).
func (s *Sink) Flush() error { return s.sp.Sync() }

// Stats returns the sink's counts.
// Name names the sink by its receiver (never with a token).
func (s *Sink) Name() string { return s.t.String() }

func (s *Sink) Stats() Stats {
	st := Stats{
		Delivered:    s.delivered.Load(),
		Dropped:      s.dropped.Load(),
		Rejected:     s.rejected.Load(),
		Retries:      s.retries.Load(),
		Stalls:       s.stalls.Load(),
		Corrupt:      s.sp.Corrupt(),
		SpoolBytes:   s.sp.Bytes(),
		SpoolRecords: s.sp.Records(),
	}
	if t, ok := s.sp.Oldest(); ok {
		st.Lag = time.Since(t)
	}
	return st
}

// Close goes on delivering for up to DrainTimeout, then stops; what was not
// delivered stays in the spool for the next sink opened on its directory.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if !s.appendLost() {
		s.log.WithField("dropped", s.lost.n).Error("closing with dropped events not reported in band")
	}
	s.mu.Unlock()
	for end := time.Now().Add(s.o.DrainTimeout); s.sp.Records() > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	s.cancel()
	<-s.done
	err := s.t.Close()
	if serr := s.sp.Close(); err == nil {
		err = serr
	}
	return err
}

// run delivers spooled records until Close.
func (s *Sink) run(ctx context.Context) {
	defer close(s.done)
	backoff := s.o.MinBackoff
	for ctx.Err() == nil {
		recs, err := s.sp.Peek(s.batch, max(1, s.o.BatchBytes*s.batch/s.o.BatchRecords))
		if err != nil {
			s.log.WithError(err).Error("reading the spool")
			sleep(ctx, s.o.MaxBackoff)
			continue
		}
		if len(recs) == 0 {
			s.idle(ctx)
			continue
		}
		if s.deliver(ctx, recs) {
			backoff = s.o.MinBackoff
			continue
		}
		sleep(ctx, backoff)
		backoff = min(2*backoff, s.o.MaxBackoff)
	}
}

// idle waits for new records; a lost_events record waiting for room goes
// into the empty spool.
func (s *Sink) idle(ctx context.Context) {
	s.mu.Lock()
	s.appendLost()
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-s.sp.Ready():
	case <-time.After(time.Second):
	}
}

// deliver sends one batch; false when what is left of it is to be sent
// again after a backoff. A batch the receiver took part of is resumed
// right away after the part it took.
func (s *Sink) deliver(ctx context.Context, recs []spool.Record) bool {
	batch := make([]Record, len(recs))
	for i, r := range recs {
		batch[i] = decode(r)
	}
	n, err := s.t.Send(ctx, batch)
	if n > 0 {
		s.ack(n)
		s.delivered.Add(uint64(n))
	}
	var perm *PermanentError
	switch {
	case errors.As(err, &perm):
		s.log.WithError(err).WithField("records", len(recs)-n).Error("receiver refused events: dropped")
		s.rejected.Add(uint64(len(recs) - n))
		s.ack(len(recs) - n)
	case errors.Is(err, ErrStalled):
		s.stalled(err, n)
		return n > 0
	case err != nil:
		if s.failing++; s.failing == 1 && ctx.Err() == nil {
			s.log.WithError(err).Warn("delivery failed: retrying with backoff")
		}
		s.retries.Add(1)
		return n > 0
	case s.failing > 0:
		s.log.WithField("failed_attempts", s.failing).Info("delivery resumed")
		s.failing = 0
	}
	s.batch = min(2*s.batch, s.o.BatchRecords)
	return true
}

// stalled counts a stall, halves the batches, and logs at most once per
// stallLogEvery.
func (s *Sink) stalled(err error, taken int) {
	s.stalls.Add(1)
	s.retries.Add(1)
	s.batch = max(1, s.batch/2)
	s.stallsOff++
	if time.Since(s.stallLog) < stallLogEvery {
		return
	}
	s.log.WithError(err).WithFields(logrus.Fields{"stalls": s.stallsOff, "taken": taken, "batch_records": s.batch}).
		Warn("receiver stalled: retrying with smaller batches")
	s.stallLog, s.stallsOff = time.Now(), 0
}

func (s *Sink) ack(n int) {
	if err := s.sp.Ack(n); err != nil {
		s.log.WithError(err).Error("acknowledging in the spool")
		return
	}
	s.mu.Lock()
	s.appendLost()
	s.mu.Unlock()
}

// sleep waits about d (±20 %, so that sinks do not retry in step).
func sleep(ctx context.Context, d time.Duration) {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
