package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/vigil-sec/vigil/internal/disktest"
)

// A full disk cuts appends short: each is refused with ErrWrite and
// counted, leaves no torn record, and every record appended before and
// after it is read back after a reopen.
func TestFullDiskAppendAllOrNothing(t *testing.T) {
	disk := disktest.Small(t, 64<<10)
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 20<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(disk, "spool")
	s := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 16 << 10})
	rec := func(i int) []byte { return fmt.Appendf(make([]byte, 0, 3000), "record %d %2990d", i, 0) }
	var want []string
	failed := 0
	for i := 0; i < 40 && failed < 3; i++ {
		err := s.Append(rec(i))
		switch {
		case err == nil:
			want = append(want, string(rec(i)))
		case errors.Is(err, ErrWrite):
			failed++
		default:
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if failed == 0 {
		t.Fatal("the disk never filled up")
	}
	if s.Refused() != uint64(failed) {
		t.Errorf("refused %d, want %d", s.Refused(), failed)
	}
	os.Remove(filler)
	for i := 100; i < 104; i++ {
		if err := s.Append(rec(i)); err != nil {
			t.Fatalf("append after room: %v", err)
		}
		want = append(want, string(rec(i)))
	}
	s.Close()

	s = open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 16 << 10})
	defer s.Close()
	var got []string
	for {
		recs, err := s.Peek(10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		s.Ack(len(recs))
	}
	if len(got) != len(want) || s.Corrupt() != 0 {
		t.Fatalf("read back %d records (%d corrupt), want %d", len(got), s.Corrupt(), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d differs", i)
		}
	}
}

// segments writes n records "record 0".. in segments of 5 records and
// returns the spool's directory and its segment files, oldest first:
// records 0-4, 5-9, 10-11.
func segments(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, Options{SegmentBytes: 100}) // 5 records of 24 or 25 bytes
	appendN(t, s, 0, n)
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	return dir, segs
}

// forge overwrites bytes of a segment file at off.
func forge(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// readAll drains the spool and returns the records' data.
func readAll(t testing.TB, s *Spool) []string {
	t.Helper()
	var got []string
	for {
		recs, err := s.Peek(3, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			got = append(got, string(r.Data))
		}
		if err := s.Ack(len(recs)); err != nil {
			t.Fatal(err)
		}
	}
}

func wantRecords(t *testing.T, got []string, skip map[int]bool, n int) {
	t.Helper()
	var want []string
	for i := 0; i < n; i++ {
		if !skip[i] {
			want = append(want, fmt.Sprintf("record %d", i))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// A record whose length says 1.8 GB is skipped, with the rest of its
// segment, counted, and nothing near its length is allocated.
func TestForgedLengthSkippedWithoutAllocation(t *testing.T) {
	dir, segs := segments(t, 12)
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], 1_800_000_000)
	forge(t, segs[0], 24, l[:]) // record 1's length
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := open(t, dir, Options{SegmentBytes: 100})
	defer s.Close()
	got := readAll(t, s)
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes reading a 100-byte segment", d)
	}
	wantRecords(t, got, map[int]bool{1: true, 2: true, 3: true, 4: true}, 12)
	if s.Corrupt() != 4 {
		t.Fatalf("corrupt %d, want 4", s.Corrupt())
	}
}

// A corrupt record in the middle of a segment, found at Open: the records
// before it and in the next segments are read, the rest of its segment is
// skipped and counted.
func TestCorruptRecordAtOpen(t *testing.T) {
	dir, segs := segments(t, 12)
	forge(t, segs[1], 2*24+headerSize, []byte("X")) // record 7's data
	s := open(t, dir, Options{SegmentBytes: 100})
	defer s.Close()
	wantRecords(t, readAll(t, s), map[int]bool{7: true, 8: true, 9: true}, 12)
	if s.Corrupt() != 3 {
		t.Fatalf("corrupt %d, want 3", s.Corrupt())
	}
}

// A record that goes bad while the spool is open is skipped by Peek with
// the rest of its segment, and counted.
func TestCorruptRecordAtPeek(t *testing.T) {
	dir, segs := segments(t, 12)
	s := open(t, dir, Options{SegmentBytes: 100})
	defer s.Close()
	forge(t, segs[0], 24+headerSize, []byte("X"))   // record 1's data
	forge(t, segs[2], 25, []byte{0xff, 0xff, 0, 0}) // record 11's length
	wantRecords(t, readAll(t, s), map[int]bool{1: true, 2: true, 3: true, 4: true, 11: true}, 12)
	if s.Corrupt() != 5 || s.Records() != 0 || s.Bytes() != 0 {
		t.Fatalf("corrupt %d, left %d records %d bytes", s.Corrupt(), s.Records(), s.Bytes())
	}
	appendN(t, s, 12, 2) // the spool goes on
	if got := readAll(t, s); fmt.Sprint(got) != "[record 12 record 13]" {
		t.Fatalf("after: %v", got)
	}
}

// A spool that filled its disk frees the room once its records are
// acknowledged: the segment a write failed on is deleted then, not when
// it is full.
func TestFullDiskFreedByAck(t *testing.T) {
	dir := filepath.Join(disktest.Small(t, 64<<10), "spool")
	s := open(t, dir, Options{MaxBytes: 64 << 20}) // 8 MiB segments: larger than the disk
	defer s.Close()
	rec := make([]byte, 3000)
	var err error
	for i := 0; i < 40 && err == nil; i++ {
		err = s.Append(rec)
	}
	if !errors.Is(err, ErrWrite) {
		t.Fatalf("append to a full disk: %v", err)
	}
	if got := len(readAll(t, s)); got == 0 {
		t.Fatal("nothing read back")
	}
	for i := 0; i < 10; i++ {
		if err := s.Append(rec); err != nil {
			t.Fatalf("append %d after the acknowledgement: %v", i, err)
		}
	}
}
