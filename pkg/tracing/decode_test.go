package tracing

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func rawExec(p Process, strs ...string) []byte {
	head := msgExecHead{Hdr: Header{Op: OpExec}, Proc: p}
	data := strings.Join(strs, "")
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&head)), unsafe.Sizeof(head))
	return append(append([]byte{}, raw...), data...)
}

func TestDecodeExec(t *testing.T) {
	p := Process{Tid: 42, BinaryLen: 9, ArgsLen: 12, CwdLen: 4, CgroupLen: 2}
	raw := rawExec(p, "/bin/true", "true\x00\x00a b\x00x\x00", "/tmp", "cg")
	rec, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := rec.(*Exec)
	if e.Binary != "/bin/true" || e.Cwd != "/tmp" || e.Cgroup != "cg" || e.Process.Tid != 42 {
		t.Errorf("decoded %+v", e)
	}
	if want := []string{"true", "", "a b", "x"}; !reflect.DeepEqual(e.Args, want) {
		t.Errorf("args = %q, want %q", e.Args, want)
	}
}

func TestDecodeRejectsBadRecords(t *testing.T) {
	overrun := rawExec(Process{BinaryLen: 100}, "/bin/true")
	for name, raw := range map[string][]byte{
		"short":      {1, 2, 3},
		"unknown op": make([]byte, 64),
		"overrun":    overrun,
		"short exit": append([]byte{OpExit}, make([]byte, 20)...),
	} {
		if _, err := Decode(raw); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// A snapshot record whose size is 0 or beyond the snapshot is an error,
// not a loop or a panic (found by FuzzDecode).
func TestSnapshotRecordSizesBounded(t *testing.T) {
	for _, size := range []uint32{0, 1 << 20} {
		raw := rawExec(Process{BinaryLen: 9}, "/bin/true")
		(*Header)(unsafe.Pointer(&raw[0])).Size = size
		if _, err := decodeSnapshot(raw); err == nil {
			t.Errorf("a snapshot record of size %d: no error", size)
		}
	}
}
