package sink

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/siemtest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// These tests run against real receivers (internal/siemtest).

const node = "test-node"

// testEvent is a process_exec whose pid and arguments carry seq.
func testEvent(seq int) *event.Event {
	now := event.FormatTime(time.Now())
	return &event.Event{
		ProcessExec: &event.ProcessExec{Process: &event.Process{
			ExecID: fmt.Sprintf("dGVzdDo%d", seq), Pid: uint32(seq), Tid: uint32(seq), Cwd: "/",
			Binary: "/usr/bin/true", Arguments: fmt.Sprintf("seq=%d \"x y\"", seq), Flags: "execve", StartTime: now,
		}},
		NodeName: node,
		Time:     now,
	}
}

func syslogSpec(e *siemtest.Env) string {
	return "syslog+tls://" + e.SyslogTLS + "?app=vigil-test&ca=" + url.QueryEscape(e.CA)
}

func hecSpec(e *siemtest.Env) string {
	return "splunk-hec+" + e.HEC + "?token=test-token&ca=" + url.QueryEscape(e.CA)
}

func openSink(t testing.TB, spec, dir string, o Options) *Sink {
	t.Helper()
	o.Dir, o.NodeName = dir, node
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Second
	}
	s, err := Open(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func write(t testing.TB, s *Sink, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := s.Write(testEvent(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Flush()
}

// seqs returns the sequence numbers of the process_exec events received,
// and the lost_events records at their place: -count.
func seqs(got []siemtest.Received) []int {
	var out []int
	for _, r := range got {
		switch {
		case r.Event.ProcessExec != nil:
			out = append(out, int(r.Event.ProcessExec.Process.Pid))
		case r.Event.LostEvents != nil:
			out = append(out, -int(r.Event.LostEvents.Count))
		}
	}
	return out
}

// checkRun checks that s is exactly from, from+1, ..., to-1.
func checkRun(t testing.TB, s []int, from, to int) {
	t.Helper()
	missing, dup, order := 0, 0, 0
	seen := map[int]int{}
	for i, v := range s {
		if seen[v]++; seen[v] > 1 {
			dup++
		}
		if i > 0 && v <= s[i-1] {
			order++
		}
	}
	for i := from; i < to; i++ {
		if seen[i] == 0 {
			missing++
		}
	}
	if missing+dup+order > 0 || len(s) != to-from {
		t.Fatalf("want events %d..%d once each in order: got %d, %d missing, %d duplicates, %d out of order",
			from, to-1, len(s), missing, dup, order)
	}
}

func TestSyslogTLS(t *testing.T) {
	e := siemtest.Start(t, siemtest.Rsyslog)
	spec := syslogSpec(e) + "&facility=auth&severity=notice&cert=" + url.QueryEscape(e.ClientCert) +
		"&key=" + url.QueryEscape(e.ClientKey)
	s := openSink(t, spec, t.TempDir(), Options{})
	defer s.Close()
	sent := make([]*event.Event, 50)
	for i := range sent {
		sent[i] = testEvent(i)
		s.Write(sent[i])
	}
	got := siemtest.Wait(t, e.RsyslogEvents, len(sent), 20*time.Second)
	checkRun(t, seqs(got), 0, len(sent))
	for i, r := range got {
		want := sent[i].ProcessExec.Process
		p := r.Event.ProcessExec.Process
		if p.Arguments != want.Arguments || p.Binary != want.Binary || p.ExecID != want.ExecID || r.Event.Time != sent[i].Time {
			t.Fatalf("event %d: got %s", i, r.JSON)
		}
		st, _ := time.Parse(time.RFC3339Nano, sent[i].Time)
		if r.Host != node || r.App != "vigil-test" || r.Pri != 4*8+5 || !r.Time.Equal(st.Truncate(time.Microsecond)) {
			t.Fatalf("event %d: header host %q app %q pri %d time %v", i, r.Host, r.App, r.Pri, r.Time)
		}
	}
	// the receiver may log an event before the sink sees its TCP ack
	waitFor(t, "the sink to count the deliveries", func() bool { return s.Stats().Delivered == uint64(len(sent)) })
	if st := s.Stats(); st.Delivered != uint64(len(sent)) || st.SpoolRecords != 0 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSyslogTCP(t *testing.T) {
	e := siemtest.Start(t, siemtest.Rsyslog)
	s := openSink(t, "syslog+tcp://"+e.SyslogTCP, t.TempDir(), Options{})
	defer s.Close()
	write(t, s, 0, 20)
	checkRun(t, seqs(siemtest.Wait(t, e.RsyslogEvents, 20, 20*time.Second)), 0, 20)
}

func TestHEC(t *testing.T) {
	e := siemtest.Start(t, siemtest.Otelcol)
	s := openSink(t, hecSpec(e), t.TempDir(), Options{})
	defer s.Close()
	write(t, s, 0, 50)
	got := siemtest.Wait(t, e.HECEvents, 50, 20*time.Second)
	checkRun(t, seqs(got), 0, 50)
	if r := got[0]; r.Host != node || r.App != "vigil" || r.Event.ProcessExec.Process.Arguments != `seq=0 "x y"` {
		t.Fatalf("got host %q source %q event %s", r.Host, r.App, r.JSON)
	}
}

// outage writes 20 events a second for 45 s while the receiver is down
// from 10 s to 40 s; every event must arrive once, in order.
func outage(t *testing.T, which, spec string, e *siemtest.Env, get func(testing.TB) []siemtest.Received) {
	s := openSink(t, spec, t.TempDir(), Options{})
	defer s.Close()
	const rate, total = 20, 45 * 20
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	var maxLag time.Duration
	for i := 0; i < total; i++ {
		<-tick.C
		switch i {
		case 10 * rate:
			e.Down(t, which)
		case 40 * rate:
			st := s.Stats()
			t.Logf("%s down for 30 s: %+v", which, st)
			maxLag = st.Lag
			e.Up(t, which)
		}
		write(t, s, i, i+1)
	}
	got := siemtest.Wait(t, get, total, 60*time.Second)
	checkRun(t, seqs(got), 0, total)
	waitFor(t, "the sink to count the deliveries", func() bool { return s.Stats().Delivered == total })
	st := s.Stats()
	t.Logf("%d events, all once and in order; stats %+v; lag at the end of the outage %v", len(got), st, maxLag)
	if maxLag < 25*time.Second || st.Retries == 0 || st.Delivered != total {
		t.Fatalf("the outage did not show: lag %v, stats %+v", maxLag, st)
	}
}

func TestSyslogOutage(t *testing.T) {
	e := siemtest.Start(t, siemtest.Rsyslog)
	outage(t, siemtest.Rsyslog, syslogSpec(e), e, e.RsyslogEvents)
}

func TestHECOutage(t *testing.T) {
	e := siemtest.Start(t, siemtest.Otelcol)
	outage(t, siemtest.Otelcol, hecSpec(e), e, e.HECEvents)
}

// TestRestartResumes closes a sink with undelivered events and opens
// another on its spool.
func TestRestartResumes(t *testing.T) {
	e := siemtest.Start(t, siemtest.Rsyslog)
	e.Down(t, siemtest.Rsyslog)
	dir := t.TempDir()
	s := openSink(t, syslogSpec(e), dir, Options{DrainTimeout: -1})
	write(t, s, 0, 200)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSink(t, syslogSpec(e), dir, Options{})
	defer s.Close()
	if st := s.Stats(); st.SpoolRecords != 200 {
		t.Fatalf("reopened spool holds %d records, want 200", st.SpoolRecords)
	}
	write(t, s, 200, 250)
	e.Up(t, siemtest.Rsyslog)
	checkRun(t, seqs(siemtest.Wait(t, e.RsyslogEvents, 250, 30*time.Second)), 0, 250)
}

// TestSpoolFull fills the spool while the receiver is down: the drops are
// counted and a lost_events record comes before the next events.
func TestSpoolFull(t *testing.T) {
	e := siemtest.Start(t, siemtest.Rsyslog)
	e.Down(t, siemtest.Rsyslog)
	s := openSink(t, syslogSpec(e), t.TempDir(), Options{MaxBytes: 32 << 10})
	defer s.Close()
	write(t, s, 0, 300)
	st := s.Stats()
	kept := int(st.SpoolRecords)
	if st.Dropped == 0 || kept+int(st.Dropped) != 300 || st.SpoolBytes > 32<<10 {
		t.Fatalf("stats of a full spool: %+v", st)
	}
	e.Up(t, siemtest.Rsyslog)
	siemtest.Wait(t, e.RsyslogEvents, kept, 30*time.Second)
	// The receiver has them before the sink has its acknowledgement and
	// frees their room: write the next events once the spool is empty.
	waitFor(t, "the spool to empty", func() bool { return s.Stats().SpoolRecords == 0 })
	write(t, s, 300, 310)
	got := seqs(siemtest.Wait(t, e.RsyslogEvents, kept+11, 30*time.Second))
	t.Logf("spool of 32 KiB: %d events kept, %d dropped", kept, st.Dropped)
	if len(got) != kept+11 || got[kept] != -int(st.Dropped) {
		t.Fatalf("want %d events, lost_events of %d, 10 events; got %v", kept, st.Dropped, got)
	}
	checkRun(t, got[:kept], 0, kept)
	checkRun(t, got[kept+1:], 300, 310)
	lost := siemtest.Wait(t, e.RsyslogEvents, 0, 0)[kept].Event
	if l := lost.LostEvents; l.Reason != LostSpoolFull || l.WindowStart == "" || l.WindowEnd < l.WindowStart || lost.NodeName != node {
		t.Fatalf("lost_events record %+v %+v", lost, l)
	}
}

func benchSink(b *testing.B, spec string) {
	s := openSink(b, spec, b.TempDir(), Options{MaxBytes: 1 << 30})
	defer s.Close()
	b.ResetTimer()
	write(b, s, 0, b.N)
	for s.Stats().Delivered < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkSyslogTLS(b *testing.B) {
	e := siemtest.Start(b, siemtest.Rsyslog)
	benchSink(b, syslogSpec(e))
}

func BenchmarkHEC(b *testing.B) {
	e := siemtest.Start(b, siemtest.Otelcol)
	benchSink(b, hecSpec(e))
}
