package sink

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/disktest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/spool"
)

// memTransport takes records while up.
type memTransport struct {
	mu  sync.Mutex
	up  bool
	got []Record
}

func (m *memTransport) Send(_ context.Context, recs []Record) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.up {
		return 0, errors.New("down")
	}
	m.got = append(m.got, recs...)
	return len(recs), nil
}

func (m *memTransport) String() string { return "mem" }
func (m *memTransport) Close() error   { return nil }

func (m *memTransport) setUp() {
	m.mu.Lock()
	m.up = true
	m.mu.Unlock()
}

// lost returns the lost_events records taken.
func (m *memTransport) lost(t *testing.T) []*event.LostEvents {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*event.LostEvents
	for _, r := range m.got {
		var ev event.Event
		if err := json.Unmarshal(r.JSON, &ev); err != nil {
			t.Fatalf("record %q: %v", r.JSON, err)
		}
		if ev.LostEvents != nil {
			out = append(out, ev.LostEvents)
		}
	}
	return out
}

// rateLimited sums the counts of the rate_limit_info records taken.
func (m *memTransport) rateLimited(t *testing.T) (n uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.got {
		var ev event.Event
		if err := json.Unmarshal(r.JSON, &ev); err != nil {
			t.Fatalf("record %q: %v", r.JSON, err)
		}
		if ev.RateLimitInfo != nil {
			n += ev.RateLimitInfo.NumberOfDroppedProcessEvents
		}
	}
	return n
}

func bigEvent(i int) *event.Event {
	return &event.Event{Time: event.FormatTime(time.Now()),
		ProcessExec: &event.ProcessExec{Process: &event.Process{ExecID: strings.Repeat("x", 2000), Pid: uint32(i)}}}
}

// A full disk under the spool: the events it cannot take are dropped,
// counted, and told in band once there is room again.
func TestSpoolDiskFullCounted(t *testing.T) {
	disk := disktest.Small(t, 64<<10)
	tr := &memTransport{}
	s, err := New(tr, Options{Dir: filepath.Join(disk, "spool"), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 60; i++ {
		if err := s.Write(bigEvent(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	dropped := s.Stats().Dropped
	if dropped == 0 {
		t.Fatal("the disk never filled up")
	}
	tr.setUp()
	told := func() (n uint64) { // small lost_events records fit where events did not
		for _, l := range tr.lost(t) {
			if l.Reason != LostSpoolFull {
				t.Fatalf("lost_events %+v", l)
			}
			n += l.Count
		}
		return n
	}
	waitFor(t, "lost_events records of every drop", func() bool { return told() == dropped })
}

// Records found corrupt in the spool are told in band: as lost_events, or
// with Options.Strict as Tetragon's rate_limit_info.
func TestSpoolCorruptToldInBand(t *testing.T) {
	t.Run("lost_events", func(t *testing.T) { spoolCorruptToldInBand(t, false) })
	t.Run("strict", func(t *testing.T) { spoolCorruptToldInBand(t, true) })
}

func spoolCorruptToldInBand(t *testing.T, strict bool) {
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{SegmentBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // one segment each
		data, _ := encode(bigEvent(i))
		sp.Append(data)
	}
	sp.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[1], os.O_WRONLY, 0)
	f.WriteAt([]byte("X"), 100) // a byte of record 1's data
	f.Close()

	tr := &memTransport{up: true}
	s, err := New(tr, Options{Dir: dir, Strict: strict})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strict {
		waitFor(t, "the rate_limit_info record", func() bool { return tr.rateLimited(t) > 0 })
		if n := tr.rateLimited(t); n != 1 || len(tr.lost(t)) != 0 {
			t.Fatalf("rate_limit_info of %d, lost_events %v", n, tr.lost(t))
		}
	} else {
		waitFor(t, "the lost_events record", func() bool { return len(tr.lost(t)) > 0 })
		if l := tr.lost(t)[0]; l.Count != 1 || l.Reason != event.LostSpoolCorrupt {
			t.Fatalf("lost_events %+v", l)
		}
	}
	waitFor(t, "the two good records", func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return len(tr.got) == 3 })
}
