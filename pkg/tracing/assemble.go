package tracing

import (
	"container/list"
	"time"
)

// dataOverhead is what one argument's waiting Data records count for,
// besides their buffer, against an Assembler's bound.
const dataOverhead = 256

// dataChunks is the most Data records of one argument.
const dataChunks = (DataMax - ArgMask + DataChunkLen - 1) / DataChunkLen

// Assembler joins the Data records of maxData char_bufs to the Generic
// records they belong to. The kernel sends an argument's Data records just
// before its Generic record, so they wait here for it, their bytes copied
// into place in the argument's buffer as they come; what waits is bounded:
// records that no Generic record claims within the hold time (of kernel
// time), or beyond the byte bound, are dropped and counted, and the
// Generic record that then finds its bytes short says so (DataDropped).
// An Assembler is not safe for concurrent use.
type Assembler struct {
	hold     uint64 // ns of kernel time
	maxBytes int
	pending  map[dataKey]*list.Element // of *waiting
	order    list.List                 // *waiting, oldest first
	records  int                       // held
	bytes    int                       // of the buffers held, with dataOverhead each
	latest   uint64                    // newest kernel time seen in a record
	dropped  uint64
}

// dataKey names the Data records of one argument of one Generic record.
type dataKey struct {
	ktime  uint64
	tid    uint32
	hookID uint32
	slot   uint8
}

// waiting is the argument that the Data records of one key fill: the
// Generic record's ArgMask bytes go first, when it comes.
type waiting struct {
	key   dataKey
	buf   []byte // ArgMask + total bytes
	have  [(dataChunks + 63) / 64]uint64
	count int // records in buf
}

func (w *waiting) size() int { return len(w.buf) + dataOverhead }

// NewAssembler returns an Assembler that holds Data records at most hold
// (of kernel time) for their Generic record, and at most about maxBytes
// of them.
func NewAssembler(hold time.Duration, maxBytes int) *Assembler {
	return &Assembler{hold: uint64(hold), maxBytes: maxBytes, pending: map[dataKey]*list.Element{}}
}

// Add keeps d's bytes until the Generic record it belongs to claims them.
func (a *Assembler) Add(d *Data) { a.add(d.msgDataHead, d.Bytes) }

// AddRaw is Add of a raw Data record, whose bytes it copies into place
// without decoding them first; raw is not kept.
func (a *Assembler) AddRaw(raw []byte) error {
	head, data, err := dataHead(raw)
	if err != nil {
		return err
	}
	a.add(head, data)
	return nil
}

// IsData says whether raw is a Data record, for AddRaw.
func IsData(raw []byte) bool { return len(raw) > 0 && raw[0] == OpData }

// add copies a record's bytes into its argument's buffer. A record out of
// the kernel's chunking, or one already there, is dropped and counted; the
// oldest arguments go when the byte bound is passed.
func (a *Assembler) add(h msgDataHead, data []byte) {
	a.latest = max(a.latest, h.Hdr.Ktime)
	k := dataKey{h.Hdr.Ktime, h.Tid, h.HookID, h.Slot}
	w := a.waitingFor(k, h.Total)
	off := int(h.Offset) - ArgMask
	if w == nil || off < 0 || off%DataChunkLen != 0 || ArgMask+off+len(data) > len(w.buf) || w.has(off/DataChunkLen) {
		a.dropped++
		return
	}
	copy(w.buf[h.Offset:], data)
	chunk := off / DataChunkLen
	w.have[chunk/64] |= 1 << (chunk % 64)
	w.count++
	a.records++
	for a.bytes > a.maxBytes && a.order.Len() > 1 {
		a.drop(a.order.Front())
	}
}

// waitingFor is the argument k names, made for total bytes of Data records
// if it is new; nil if it was made for another total.
func (a *Assembler) waitingFor(k dataKey, total uint32) *waiting {
	if e, ok := a.pending[k]; ok {
		w := e.Value.(*waiting)
		if len(w.buf) != ArgMask+int(total) {
			return nil
		}
		return w
	}
	w := &waiting{key: k, buf: make([]byte, ArgMask+int(total))}
	a.pending[k] = a.order.PushBack(w)
	a.bytes += w.size()
	return w
}

func (w *waiting) has(chunk int) bool { return w.have[chunk/64]&(1<<(chunk%64)) != 0 }

// Complete puts in each maxData char_buf of g its bytes from Data records
// (g.DataLen[i] of them after g.Args[i]), as far as they follow on without
// a gap, and marks with DataDropped one that comes out short where the
// kernel said nothing. Records after a gap or beyond what the kernel says
// it sent are dropped and counted.
func (a *Assembler) Complete(g *Generic) {
	a.latest = max(a.latest, g.Hdr.Ktime)
	for i := range g.DataLen {
		if g.DataLen[i] == 0 {
			continue
		}
		var w *waiting
		if e, ok := a.pending[dataKey{g.Hdr.Ktime, g.Tid, g.HookID, uint8(i)}]; ok {
			w = e.Value.(*waiting)
			a.remove(e)
		}
		got := a.join(g, i, w)
		if got < int(g.DataLen[i]) && g.DataErr[i] == DataOK {
			g.DataErr[i] = DataDropped
		}
	}
}

// join puts w's bytes after the event's in argument i of g; it returns
// how many there are.
func (a *Assembler) join(g *Generic, i int, w *waiting) int {
	if w == nil {
		return 0
	}
	if len(g.Args[i]) != ArgMask {
		a.dropped += uint64(w.count)
		return 0
	}
	want, got, used := int(g.DataLen[i]), 0, 0
	for chunk := 0; chunk < dataChunks && w.has(chunk) && got < want; chunk++ {
		got = min(got+DataChunkLen, want, len(w.buf)-ArgMask)
		used++
	}
	a.dropped += uint64(w.count - used)
	copy(w.buf, g.Args[i])
	g.Args[i] = w.buf[:ArgMask+got]
	return got
}

// Expire drops the records whose Generic record has not come within the
// hold time: of now, or of the newest record seen when that is later. The
// caller passes now (CLOCK_MONOTONIC ns, see Now) only when it has read
// everything the kernel wrote, else 0: records it has not read yet may
// still claim theirs.
func (a *Assembler) Expire(now uint64) {
	now = max(now, a.latest)
	if now < a.hold {
		return
	}
	for e := a.order.Front(); e != nil && e.Value.(*waiting).key.ktime < now-a.hold; e = a.order.Front() {
		a.drop(e)
	}
}

// DropAll drops every record still waiting, as when the stream ends.
func (a *Assembler) DropAll() {
	for a.order.Len() > 0 {
		a.drop(a.order.Front())
	}
}

// Dropped is the number of Data records dropped so far.
func (a *Assembler) Dropped() uint64 { return a.dropped }

// Pending is the number of Data records waiting and the bytes they count
// for against the bound.
func (a *Assembler) Pending() (records, bytes int) { return a.records, a.bytes }

func (a *Assembler) drop(e *list.Element) {
	a.dropped += uint64(e.Value.(*waiting).count)
	a.remove(e)
}

func (a *Assembler) remove(e *list.Element) {
	w := e.Value.(*waiting)
	a.bytes -= w.size()
	a.records -= w.count
	delete(a.pending, w.key)
	a.order.Remove(e)
}
