package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func open(t testing.TB, dir string, o Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendN(t testing.TB, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(fmt.Appendf(nil, "record %d", i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// drain peeks and acknowledges batches of k until the spool is empty and
// checks the records are next, next+1, ...
func drain(t testing.TB, s *Spool, next, k int) int {
	t.Helper()
	for {
		recs, err := s.Peek(k, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return next
		}
		for _, r := range recs {
			if want := fmt.Sprintf("record %d", next); string(r.Data) != want {
				t.Fatalf("got %q, want %q", r.Data, want)
			}
			next++
		}
		if err := s.Ack(len(recs)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOrderAcrossSegments(t *testing.T) {
	s := open(t, t.TempDir(), Options{MaxBytes: 1 << 20, SegmentBytes: 1000})
	defer s.Close()
	appendN(t, s, 0, 500)
	if s.Records() != 500 {
		t.Fatalf("records %d", s.Records())
	}
	recs, _ := s.Peek(3, 1<<20)
	if len(recs) != 3 || string(recs[2].Data) != "record 2" {
		t.Fatalf("peek: %v", recs)
	}
	if n := drain(t, s, 0, 7); n != 500 {
		t.Fatalf("drained to %d", n)
	}
	if s.Records() != 0 || s.Bytes() != 0 {
		t.Fatalf("left: %d records, %d bytes", s.Records(), s.Bytes())
	}
	appendN(t, s, 500, 100) // appends after a drain go on in order
	if n := drain(t, s, 500, 1); n != 600 {
		t.Fatalf("drained to %d", n)
	}
	segs, _ := filepath.Glob(filepath.Join(s.dir, "*.seg"))
	if len(segs) > 1 {
		t.Fatalf("acknowledged segments left: %v", segs)
	}
}

func TestRestartResumes(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 500})
	appendN(t, s, 0, 100)
	recs, _ := s.Peek(30, 1<<20)
	s.Ack(len(recs))
	s.Peek(10, 1<<20) // read but not acknowledged: delivered again
	s.Close()

	s = open(t, dir, Options{SegmentBytes: 500})
	defer s.Close()
	if s.Records() != 70 {
		t.Fatalf("records after restart: %d, want 70", s.Records())
	}
	appendN(t, s, 100, 10)
	if n := drain(t, s, 30, 4); n != 110 {
		t.Fatalf("drained to %d", n)
	}
}

func TestFullRefusesAndCounts(t *testing.T) {
	rec := []byte("0123456789012345") // 16 bytes + 16 of header
	s := open(t, t.TempDir(), Options{MaxBytes: 10 * 32})
	defer s.Close()
	for i := 0; i < 10; i++ {
		if err := s.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := s.Append(rec); !errors.Is(err, ErrFull) {
			t.Fatalf("append to a full spool: %v", err)
		}
	}
	if err := s.Append(make([]byte, 400)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("append of a record larger than the spool: %v", err)
	}
	if s.Refused() != 4 || s.Bytes() != 320 {
		t.Fatalf("refused %d, bytes %d", s.Refused(), s.Bytes())
	}
	s.Ack(1)
	if err := s.Append(rec); err != nil {
		t.Fatalf("append after an ack: %v", err)
	}
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Options{})
	appendN(t, s, 0, 5)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	f, _ := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{0, 0, 0, 50, 1, 2, 3}) // a crash in the middle of a header
	f.Close()

	s = open(t, dir, Options{})
	defer s.Close()
	appendN(t, s, 5, 1)
	if n := drain(t, s, 0, 10); n != 6 {
		t.Fatalf("drained to %d", n)
	}
}

func TestModesAndOldest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := open(t, dir, Options{})
	defer s.Close()
	if _, ok := s.Oldest(); ok {
		t.Fatal("an empty spool has an oldest record")
	}
	before := time.Now()
	appendN(t, s, 0, 2)
	if o, ok := s.Oldest(); !ok || o.Before(before) || time.Since(o) > time.Minute {
		t.Fatalf("oldest %v %v", o, ok)
	}
	s.Sync()
	fi, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode().Perm())
	}
	s.Ack(1)
	files, _ := os.ReadDir(dir)
	for _, e := range files {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", e.Name(), fi.Mode().Perm())
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 600) // about one process_exec event
	s := open(b, b.TempDir(), Options{MaxBytes: 1 << 40})
	defer s.Close()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		if err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkDrain(b *testing.B) {
	rec := make([]byte, 600)
	s := open(b, b.TempDir(), Options{MaxBytes: 1 << 40})
	defer s.Close()
	for i := 0; i < b.N; i++ {
		s.Append(rec)
	}
	b.SetBytes(int64(len(rec)))
	b.ResetTimer()
	for s.Records() > 0 {
		recs, err := s.Peek(256, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		s.Ack(len(recs))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
