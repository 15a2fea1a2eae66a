package tracing

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// writeProgram hooks write(2) of size bytes by process pid: slot 0 its
// buffer (with maxData or not), slot 1 its size.
func writeProgram(pid, size int, maxData bool) Program {
	cfg := HookConfig{NArgs: 2, NConds: 2, NSelectors: 1}
	cfg.ArgType[0], cfg.ArgIndex[0], cfg.ArgSize[0] = ArgCharBuf, 1, 1
	cfg.ArgType[1], cfg.ArgIndex[1] = ArgU64, 2
	if maxData {
		cfg.MaxDataArgs, cfg.MaxData = 1, DataMax
	}
	cfg.Conds[0] = Cond{Subject: SubjPid, Op: CondEq, SetID: 1}
	cfg.Conds[1] = Cond{Subject: 1, Op: CondEq, SetID: 2}
	cfg.Actions[0] = SelAction{Post: 1}
	return Program{
		Hooks: []SyscallHook{{Syscall: syscall.SYS_WRITE, Config: cfg}},
		Ints:  []IntKey{{SetID: 1, Value: int64(pid)}, {SetID: 2, Value: int64(size)}},
	}
}

// dataSensor loads a sensor with a ring buffer of ring bytes (0: the
// default) and writeProgram for this process's writes of size bytes.
func dataSensor(t testing.TB, ring, size int, maxData bool) *Sensor {
	s, err := Load(Config{RingBufferSize: ring})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Hooks().Install(1, ModeEnforce, writeProgram(os.Getpid(), size, maxData), nil); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

func devNull(t testing.TB) int {
	fd, err := syscall.Open("/dev/null", syscall.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// readOwn reads records until this process's hook record, or for at
// most wait (then g is nil); it returns the data records before it.
func readOwn(t testing.TB, s *Sensor, wait time.Duration) (data []*Data, g *Generic) {
	// the deadline holds whatever else arrives: other processes' exec and
	// exit records can keep the ring from ever being empty for long
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
		// the kernel batches wakeups: poll in short steps
		rec, err := s.Read(time.Now().Add(20 * time.Millisecond))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		switch r := rec.(type) {
		case *Data:
			data = append(data, r)
		case *Generic:
			if r.Ident.Pid == uint32(os.Getpid()) {
				return data, r
			}
		}
	}
	return data, nil
}

// TestDataRecordsPrecedeTheirEvent: a maxData buffer's bytes after the
// event's first ArgMask come in data records before the event, which says
// how many; joined, they are the bytes written.
func TestDataRecordsPrecedeTheirEvent(t *testing.T) {
	s := dataSensor(t, 0, 100000, true)
	defer s.Close()
	fd := devNull(t)
	defer syscall.Close(fd)
	want := pattern(100000)
	if _, err := syscall.Write(fd, want); err != nil {
		t.Fatal(err)
	}
	data, g := readOwn(t, s, 5*time.Second)
	if g == nil {
		t.Fatal("no hook record")
	}
	if g.ArgVal[0] != 100000 || g.ArgLen[0] != ArgMask || g.DataLen[0] != 100000-ArgMask || g.DataErr[0] != DataOK {
		t.Errorf("hook record: size %d, %d bytes in it, %d in data records, err %d", g.ArgVal[0], g.ArgLen[0], g.DataLen[0], g.DataErr[0])
	}
	if n := (100000 - ArgMask + DataChunkLen - 1) / DataChunkLen; len(data) != n {
		t.Errorf("%d data records, want %d", len(data), n)
	}
	a := NewAssembler(time.Second, 1<<20)
	for _, d := range data {
		a.Add(d)
	}
	a.Complete(g)
	if !bytes.Equal(g.Args[0], want) || g.DataErr[0] != DataOK {
		t.Errorf("joined %d bytes (err %d), want the %d written", len(g.Args[0]), g.DataErr[0], len(want))
	}
}

// TestDataRecordsOfUnreadableMemory: a buffer whose memory cannot be read
// past its first page: the event has what could be read, and says why
// the rest is missing.
func TestDataRecordsOfUnreadableMemory(t *testing.T) {
	page := os.Getpagesize()
	s := dataSensor(t, 0, 4*page, true)
	defer s.Close()
	fd := devNull(t)
	defer syscall.Close(fd)
	mem, err := syscall.Mmap(-1, 0, 4*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	copy(mem, pattern(2*page))
	if err := syscall.Mprotect(mem[2*page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	// /dev/null does not read the buffer: the write succeeds
	if _, err := syscall.Write(fd, mem); err != nil {
		t.Fatal(err)
	}
	data, g := readOwn(t, s, 5*time.Second)
	if g == nil {
		t.Fatal("no hook record")
	}
	a := NewAssembler(time.Second, 1<<20)
	for _, d := range data {
		a.Add(d)
	}
	a.Complete(g)
	if g.DataErr[0] != DataFault || g.ArgVal[0] != int64(4*page) || !bytes.Equal(g.Args[0], pattern(2 * page)[:len(g.Args[0])]) ||
		len(g.Args[0]) > 2*page {
		t.Errorf("hook record: size %d, %d bytes, err %d; want %d, at most the %d readable, DataFault",
			g.ArgVal[0], len(g.Args[0]), g.DataErr[0], 4*page, 2*page)
	}
}

// TestDataRecordsWhenTheRingIsFull: with nothing reading a four-page ring
// buffer, a 100,000-byte buffer's data records stop at the first that
// finds no room, which is counted; so is its event, which then does not
// fit either. The data records that did fit are whole and in order.
func TestDataRecordsWhenTheRingIsFull(t *testing.T) {
	s := dataSensor(t, 4*os.Getpagesize(), 100000, true)
	defer s.Close()
	fd := devNull(t)
	defer syscall.Close(fd)
	want := pattern(100000)
	before, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syscall.Write(fd, want); err != nil {
		t.Fatal(err)
	}
	after, err := s.Counters()
	if err != nil {
		t.Fatal(err)
	}
	data, g := readOwn(t, s, time.Second)
	if g != nil {
		t.Errorf("a hook record came, with %d bytes in data records (err %d): the ring had room", g.DataLen[0], g.DataErr[0])
	}
	if n := after.DataFull - before.DataFull; n != 1 {
		t.Errorf("%d data records counted cut short, want 1", n)
	}
	if after.RingbufFull == before.RingbufFull {
		t.Error("the hook record's loss is not counted")
	}
	off := ArgMask
	for _, d := range data {
		if int(d.Offset) != off || !bytes.Equal(d.Bytes, want[off:off+int(d.Len)]) {
			t.Errorf("data record at %d (%d bytes), want the bytes at %d", d.Offset, d.Len, off)
		}
		off += int(d.Len)
	}
	t.Logf("%d data records fit in the ring buffer", len(data))
}

// BenchmarkDataRecords measures, in the writer, a 100,000-byte write(2)
// to /dev/null under a hook that posts it: its buffer cut at 4,095 bytes,
// or read whole with maxData (24 data records). The ring buffer is
// drained between writes, outside the timing, so that every record finds
// room.
func BenchmarkDataRecords(b *testing.B) {
	for _, maxData := range []bool{false, true} {
		name := map[bool]string{false: "cut-4095", true: "maxdata"}[maxData]
		b.Run(name, func(b *testing.B) {
			s := dataSensor(b, 0, 100000, maxData)
			defer s.Close()
			fd := devNull(b)
			defer syscall.Close(fd)
			buf := pattern(100000)
			for b.Loop() {
				if _, err := syscall.Write(fd, buf); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, g := readOwn(b, s, 5*time.Second); g == nil {
					b.Fatal("no hook record")
				}
				b.StartTimer()
			}
		})
	}
}
