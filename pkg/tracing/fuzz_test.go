package tracing

import (
	"testing"
	"time"
	"unsafe"
)

// FuzzDecode feeds the ring buffer's record decoders arbitrary bytes: a
// record the kernel never wrote must be an error, never a panic, and a
// data record must not make the assembler hold more than its bound (or
// one argument, whichever is more).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{OpExit})
	f.Add(rawExec(Process{Tid: 42, BinaryLen: 9, ArgsLen: 4}, "/bin/true", "a\x00b\x00"))
	f.Add(rawExec(Process{BinaryLen: 100}, "/bin/true"))
	g := make([]byte, unsafe.Sizeof(Generic{}))
	g[0] = OpGeneric
	f.Add(g)
	d := make([]byte, 64)
	d[0] = OpData
	f.Add(d)
	f.Fuzz(func(t *testing.T, raw []byte) {
		const bound = 1 << 16
		a := NewAssembler(time.Second, bound)
		if IsData(raw) {
			_ = a.AddRaw(raw)
		} else if rec, err := Decode(raw); err == nil {
			if gen, ok := rec.(*Generic); ok {
				a.Complete(gen)
			}
		}
		// beyond the bound, the oldest arguments go, all but one
		if _, n := a.Pending(); n > max(bound, ArgMask+DataMax) {
			t.Fatalf("the assembler holds %d bytes, bound %d", n, bound)
		}
		_, _ = decodeSnapshot(raw)
	})
}
