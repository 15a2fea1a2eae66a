package tracing

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// pattern is n bytes that differ from one chunk to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/DataChunkLen)
	}
	return b
}

// split is what the kernel sends for a maxData char_buf of data on hook 9,
// thread 42, at ktime: the Generic record (slot 1 holds the first ArgMask
// bytes) and the Data records with the rest.
func split(ktime uint64, data []byte) (*Generic, []*Data) {
	g := &Generic{}
	g.Hdr.Ktime, g.Tid, g.HookID = ktime, 42, 9
	inline := min(len(data), ArgMask)
	g.Args[1] = bytes.Clone(data[:inline])
	g.ArgVal[1] = int64(len(data))
	g.DataLen[1] = uint32(len(data) - inline)
	var recs []*Data
	for off := inline; off < len(data); off += DataChunkLen {
		end := min(off+DataChunkLen, len(data))
		d := &Data{Bytes: bytes.Clone(data[off:end])}
		d.Hdr.Op, d.Hdr.Ktime, d.Tid, d.HookID, d.Slot = OpData, ktime, 42, 9, 1
		d.Offset, d.Len, d.Total = uint32(off), uint16(end-off), g.DataLen[1]
		recs = append(recs, d)
	}
	return g, recs
}

func newTestAssembler() *Assembler { return NewAssembler(time.Second, 4<<20) }

func TestAssemblerJoinsInOrder(t *testing.T) {
	data := pattern(100000)
	a := newTestAssembler()
	g, recs := split(1000, data)
	for _, d := range recs {
		a.Add(d)
	}
	a.Complete(g)
	if !bytes.Equal(g.Args[1], data) || g.DataErr[1] != DataOK {
		t.Errorf("joined %d bytes (err %d), want the %d written", len(g.Args[1]), g.DataErr[1], len(data))
	}
	if n, b := a.Pending(); n != 0 || b != 0 || a.Dropped() != 0 {
		t.Errorf("after the join: %d records (%d bytes) waiting, %d dropped; want none", n, b, a.Dropped())
	}
}

func TestAssemblerJoinsOutOfOrder(t *testing.T) {
	data := pattern(DataMax)
	a := newTestAssembler()
	g, recs := split(1000, data)
	rand.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	// another event's records in between, on another thread
	other, otherRecs := split(1000, pattern(9000))
	other.Tid = 43
	for _, d := range otherRecs {
		d.Tid = 43
	}
	for i, d := range recs {
		a.Add(d)
		if i < len(otherRecs) {
			a.Add(otherRecs[i])
		}
	}
	a.Complete(g)
	a.Complete(other)
	if !bytes.Equal(g.Args[1], data) || g.DataErr[1] != DataOK {
		t.Errorf("joined %d bytes (err %d), want the %d written", len(g.Args[1]), g.DataErr[1], len(data))
	}
	if !bytes.Equal(other.Args[1], pattern(9000)) {
		t.Errorf("the other thread's event: %d bytes", len(other.Args[1]))
	}
}

// A missing record cuts the argument at the gap and marks it; the records
// after the gap are dropped and counted.
func TestAssemblerMissingRecord(t *testing.T) {
	data := pattern(100000)
	a := newTestAssembler()
	g, recs := split(1000, data)
	for i, d := range recs {
		if i != 3 {
			a.Add(d)
		}
	}
	a.Complete(g)
	gap := int(recs[3].Offset)
	if !bytes.Equal(g.Args[1], data[:gap]) || g.DataErr[1] != DataDropped {
		t.Errorf("joined %d bytes (err %d), want the %d before the gap, DataDropped", len(g.Args[1]), g.DataErr[1], gap)
	}
	if want := uint64(len(recs) - 4); a.Dropped() != want {
		t.Errorf("%d records dropped, want the %d after the gap", a.Dropped(), want)
	}
}

// What the kernel said about a short argument stands.
func TestAssemblerKeepsTheKernelsReason(t *testing.T) {
	data := pattern(50000)
	a := newTestAssembler()
	g, recs := split(1000, data)
	g.DataLen[1] = uint32(2 * DataChunkLen) // the third record found no room
	g.DataErr[1] = DataRingbufFull
	a.Add(recs[0])
	a.Add(recs[1])
	a.Complete(g)
	if want := ArgMask + 2*DataChunkLen; !bytes.Equal(g.Args[1], data[:want]) || g.DataErr[1] != DataRingbufFull {
		t.Errorf("joined %d bytes (err %d), want %d, DataRingbufFull", len(g.Args[1]), g.DataErr[1], want)
	}
}

// Duplicates and records beyond what the event says it sent are dropped.
func TestAssemblerDropsWhatDoesNotFit(t *testing.T) {
	data := pattern(20000)
	a := newTestAssembler()
	g, recs := split(1000, data)
	for _, d := range recs {
		a.Add(d)
	}
	a.Add(recs[1]) // twice
	g.DataLen[1] -= uint32(len(recs[len(recs)-1].Bytes))
	a.Complete(g)
	if want := len(data) - len(recs[len(recs)-1].Bytes); !bytes.Equal(g.Args[1], data[:want]) || g.DataErr[1] != DataOK {
		t.Errorf("joined %d bytes (err %d), want %d", len(g.Args[1]), g.DataErr[1], want)
	}
	if a.Dropped() != 2 {
		t.Errorf("%d records dropped, want 2 (the duplicate, the one past the end)", a.Dropped())
	}
}

// Records whose event never comes go after the hold time, by the clock
// passed or by the newest record seen; their event, if it comes late,
// says its bytes are short.
func TestAssemblerExpiresOrphans(t *testing.T) {
	a := newTestAssembler()
	hold := uint64(time.Second)
	g, recs := split(5*hold, pattern(30000))
	for _, d := range recs {
		a.Add(d)
	}
	a.Expire(0)
	a.Expire(6*hold - 1)
	if n, _ := a.Pending(); n != len(recs) || a.Dropped() != 0 {
		t.Fatalf("within the hold time: %d waiting, %d dropped; want %d, 0", n, a.Dropped(), len(recs))
	}
	a.Expire(6*hold + 1)
	if n, b := a.Pending(); n != 0 || b != 0 || a.Dropped() != uint64(len(recs)) {
		t.Fatalf("after the hold time: %d waiting (%d bytes), %d dropped; want 0, %d", n, b, a.Dropped(), len(recs))
	}
	a.Complete(g)
	if len(g.Args[1]) != ArgMask || g.DataErr[1] != DataDropped {
		t.Errorf("late event: %d bytes (err %d), want %d, DataDropped", len(g.Args[1]), g.DataErr[1], ArgMask)
	}

	// the newest record's time counts when no clock is passed
	_, recs = split(10*hold, pattern(10000))
	a.Add(recs[0])
	newer, _ := split(11*hold+1, nil)
	a.Complete(newer)
	a.Expire(0)
	if n, _ := a.Pending(); n != 0 {
		t.Errorf("%d records waiting after a record a second younger came", n)
	}
}

// The byte bound holds: the oldest arguments go first, their records
// counted.
func TestAssemblerBound(t *testing.T) {
	size := ArgMask + 2*DataChunkLen // of each argument
	a := NewAssembler(time.Second, 2*(size+dataOverhead))
	var all []*Data
	for k := range uint64(3) {
		_, recs := split(1000+k, pattern(size))
		all = append(all, recs...)
	}
	for _, d := range all {
		a.Add(d)
		if _, b := a.Pending(); b > 2*(size+dataOverhead) {
			t.Fatalf("%d bytes held, over the bound", b)
		}
	}
	if n, _ := a.Pending(); n != 4 || a.Dropped() != 2 {
		t.Errorf("%d waiting and %d dropped of %d, want the 4 newest and the 2 oldest", n, a.Dropped(), len(all))
	}
	g, _ := split(1002, pattern(size))
	a.Complete(g)
	if g.DataErr[1] != DataOK || !bytes.Equal(g.Args[1], pattern(size)) {
		t.Errorf("the newest event: %d bytes (err %d), want whole", len(g.Args[1]), g.DataErr[1])
	}
	a.DropAll()
	if n, b := a.Pending(); n != 0 || b != 0 || a.Dropped() != 4 {
		t.Errorf("after DropAll: %d waiting (%d bytes), %d dropped; want 0, 0, 4", n, b, a.Dropped())
	}
}

// Records that do not fit the kernel's chunking, or whose total differs
// from their argument's, are dropped; AddRaw takes a raw record.
func TestAssemblerChecksRecords(t *testing.T) {
	data := pattern(20000)
	a := newTestAssembler()
	g, recs := split(1000, data)
	odd := *recs[1]
	odd.Offset++
	other := *recs[2]
	other.Total++
	for _, d := range []*Data{recs[0], &odd, &other} {
		a.Add(d)
	}
	for _, d := range recs[1:] {
		if err := a.AddRaw(rawData(d.msgDataHead, d.Bytes)); err != nil {
			t.Fatal(err)
		}
	}
	a.Complete(g)
	if !bytes.Equal(g.Args[1], data) || g.DataErr[1] != DataOK || a.Dropped() != 2 {
		t.Errorf("joined %d bytes (err %d), %d dropped; want the %d written, 2 dropped", len(g.Args[1]), g.DataErr[1], a.Dropped(), len(data))
	}
	if err := a.AddRaw(rawData(msgDataHead{Hdr: Header{Op: OpGeneric}}, nil)); err == nil {
		t.Error("AddRaw took a hook record")
	}
}

func rawData(h msgDataHead, data []byte) []byte {
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&h)), unsafe.Sizeof(h))
	return append(append([]byte{}, raw...), data...)
}

func TestDecodeData(t *testing.T) {
	h := msgDataHead{Hdr: Header{Op: OpData, Ktime: 77}, Tid: 42, HookID: 9, Offset: ArgMask, Total: 5, Len: 5, Slot: 1}
	rec, err := Decode(rawData(h, []byte("hello, padding")))
	if err != nil {
		t.Fatal(err)
	}
	d := rec.(*Data)
	if string(d.Bytes) != "hello" || d.Offset != ArgMask || d.Slot != 1 || d.Hdr.Ktime != 77 {
		t.Errorf("decoded %+v", d)
	}
	for name, bad := range map[string]msgDataHead{
		"long":         {Hdr: Header{Op: OpData}, Len: DataChunkLen + 1, Offset: ArgMask, Total: DataChunkLen + 1},
		"slot":         {Hdr: Header{Op: OpData}, Slot: MaxArgs},
		"beyond total": {Hdr: Header{Op: OpData}, Offset: ArgMask, Total: 2, Len: 3},
		"beyond limit": {Hdr: Header{Op: OpData}, Offset: ArgMask, Total: DataMax - ArgMask + 1, Len: 3},
	} {
		if _, err := Decode(rawData(bad, make([]byte, DataChunkLen+1))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Decode(rawData(msgDataHead{Hdr: Header{Op: OpData}, Len: 20}, make([]byte, 10))); err == nil {
		t.Error("overrun: no error")
	}
}
