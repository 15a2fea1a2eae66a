package sink

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/siemtest"
	"github.com/vigil-sec/vigil/pkg/spool"
)

// slowSyslog is a plain TCP syslog transport with a short timeout.
func slowSyslog(t *testing.T, addr string, timeout time.Duration) Transport {
	t.Helper()
	tr, err := NewSyslog(SyslogOptions{Addr: addr, Hostname: node, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestSyslogSlowReceiver: a receiver taking 1 KB per 100 ms needs several
// timeouts for a whole batch; it keeps acknowledging, so every batch goes
// through, without a stall.
func TestSyslogSlowReceiver(t *testing.T) {
	recv := siemtest.StartSlow(t, 1024, 100*time.Millisecond)
	s, err := New(slowSyslog(t, recv.Addr, 2*time.Second), Options{Dir: t.TempDir(), NodeName: node})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const total = 100 // about 34 KB: 3.4 s at 10 KB/s
	write(t, s, 0, total)
	got := siemtest.Wait(t, recv.Events, total, 60*time.Second)
	checkRun(t, seqs(got), 0, total)
	waitFor(t, "the sink to count the deliveries", func() bool { return s.Stats().Delivered == total })
	st := s.Stats()
	t.Logf("slow receiver: %d bytes read, stats %+v", recv.Read(), st)
	if st.Stalls != 0 {
		t.Fatalf("a receiver that kept taking was counted as stalled: %+v", st)
	}
}

// TestSyslogPartialAck: a receiver that stops reading in the middle of a
// batch stalls it; the records whose bytes TCP acknowledged are taken.
func TestSyslogPartialAck(t *testing.T) {
	recv := siemtest.StartSlow(t, 20<<10, time.Hour) // 20 KB, then nothing for an hour
	tr := slowSyslog(t, recv.Addr, 500*time.Millisecond)
	defer tr.Close()
	recs := make([]Record, 200)
	for i := range recs {
		recs[i] = decode(spoolRecord(t, i))
	}
	n, err := tr.Send(context.Background(), recs)
	size := len(tr.(*syslogTransport).frame(nil, recs[0]))
	t.Logf("stalled receiver read %d bytes: %d of %d records (%d bytes each) taken: %v", recv.Read(), n, len(recs), size, err)
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("want a stall, got %v", err)
	}
	if read := int(recv.Read()); n < read/size || n >= len(recs) {
		t.Fatalf("%d records taken; the receiver read %d bytes, %d records", n, read, read/size)
	}
}

// spoolRecord is the spool record of testEvent(seq).
func spoolRecord(t *testing.T, seq int) spool.Record {
	data, err := encode(testEvent(seq))
	if err != nil {
		t.Fatal(err)
	}
	return spool.Record{Data: data}
}

// TestSyslogTakenTLS: over TLS, the records counted taken never exceed the
// plaintext of the TLS records acknowledged in full.
func TestSyslogTakenTLS(t *testing.T) {
	tr := &syslogTransport{o: SyslogOptions{TLS: &tls.Config{}}, ends: []int{1000, 2000, 40000, 41000}}
	for _, c := range []struct {
		acked uint64
		want  int
	}{{0, 0}, {2000, 0}, {18000, 0}, {20000, 2}, {70000, 4}} {
		if got := tr.taken(c.acked); got != c.want {
			t.Errorf("%d bytes acknowledged: %d records taken, want %d", c.acked, got, c.want)
		}
	}
}

// TestSinkResumesAfterStalls: a receiver that reads 4 KB, then nothing for
// longer than the timeout, and so on; each stall keeps what TCP
// acknowledged, halves the batches, and the next connection goes on after
// it: every event arrives.
func TestSinkResumesAfterStalls(t *testing.T) {
	recv := siemtest.StartSlow(t, 4096, 800*time.Millisecond)
	s, err := New(slowSyslog(t, recv.Addr, 300*time.Millisecond),
		Options{Dir: t.TempDir(), NodeName: node, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const total = 100
	write(t, s, 0, total)
	var got []siemtest.Received
	seen := map[int]bool{}
	for end := time.Now().Add(60 * time.Second); len(seen) < total && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		got = recv.Events(t)
		for _, v := range seqs(got) {
			seen[v] = true
		}
	}
	waitFor(t, "the sink to count the deliveries", func() bool { return s.Stats().Delivered == total })
	st := s.Stats()
	t.Logf("%d events received (%d distinct); stats %+v", len(got), len(seen), st)
	if len(seen) != total || st.Stalls == 0 {
		t.Fatalf("%d distinct events of %d; stats %+v", len(seen), total, st)
	}
}
