package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// seg encodes records as a segment file holds them.
func seg(records ...string) []byte {
	var b []byte
	for _, r := range records {
		var h [headerSize]byte
		binary.BigEndian.PutUint32(h[0:4], uint32(len(r)))
		binary.BigEndian.PutUint32(h[4:8], crc32.Checksum([]byte(r), crcTable))
		binary.BigEndian.PutUint64(h[8:16], 1)
		b = append(append(b, h[:]...), r...)
	}
	return b
}

// FuzzSpoolOpen opens a spool whose segments hold arbitrary bytes, and
// drains it: it never panics, never allocates much more than the segments
// hold, and the records it hands out and those it counts corrupt never
// exceed what is there. A first byte from 1 to 15 splits the rest in two
// segments, the second named that many records after the first.
func FuzzSpoolOpen(f *testing.F) {
	good := seg("record 0", "record 1", "")
	forged := append(seg("record 0"), seg("record 1")...)
	binary.BigEndian.PutUint32(forged[24:28], 1_800_000_000) // the 1.8 GB length
	badCRC := seg("record 0", "record 1", "record 2")
	badCRC[24+headerSize] ^= 1
	f.Add(good)
	f.Add(forged)
	f.Add(badCRC)
	f.Add(good[:30])                       // torn record
	f.Add(append(seg("x"), 0, 0, 0, 0, 0)) // torn header
	f.Add(make([]byte, 64))                // zeros: four empty records
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(append([]byte{3, 6}, badCRC...)) // two segments, the first corrupt, 3 records apart
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		first, second := data, []byte(nil)
		gap := 0
		if len(data) > 1 && data[0] > 0 && data[0] < 16 {
			gap = int(data[0])
			first = data[1:]
			if k := int(data[1]) * 4; k < len(first) {
				first, second = first[:k], first[k:]
			}
			write(t, dir, 7+gap, second)
		}
		write(t, dir, 7, first)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := Open(dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		n := uint64(0)
		for i := 0; i <= len(data)/headerSize; i++ {
			recs, err := s.Peek(4, 1<<16)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break
			}
			n += uint64(len(recs))
			if err := s.Ack(len(recs)); err != nil {
				t.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 2*uint64(len(data))+256<<10 {
			t.Fatalf("allocated %d bytes for a segment of %d", d, len(data))
		}
		if s.Records() != 0 {
			t.Fatalf("%d records left after the drain", s.Records())
		}
		if max := uint64(len(data)/headerSize + gap); n+s.Corrupt() > max+2 {
			t.Fatalf("%d records and %d corrupt out of %d bytes", n, s.Corrupt(), len(data))
		}
	})
}

func write(t *testing.T, dir string, first int, data []byte) {
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", first)), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
