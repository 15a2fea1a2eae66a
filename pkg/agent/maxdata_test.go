package agent

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// The maxData helper, run as the test binary with helperEnv set to
// "maxdata:write:N,N,...[:gap ms]" writes dataPattern(N) to /dev/null in
// one write(2) for each N (waiting the gap before each); with
// "maxdata:read:FILE:N" it reads FILE once into an N-byte buffer.
func init() {
	if h, ok := strings.CutPrefix(os.Getenv(helperEnv), "maxdata:"); ok {
		os.Exit(maxDataHelper(strings.Split(h, ":")))
	}
}

func maxDataHelper(args []string) int {
	switch {
	case len(args) >= 2 && args[0] == "write":
		gap := 0
		if len(args) == 3 {
			gap, _ = strconv.Atoi(args[2])
		}
		return writeEach(strings.Split(args[1], ","), time.Duration(gap)*time.Millisecond)
	case len(args) == 3 && args[0] == "read":
		n, _ := strconv.Atoi(args[2])
		fd, err := syscall.Open(args[1], syscall.O_RDONLY, 0)
		if err != nil {
			return 2
		}
		if _, err := syscall.Read(fd, make([]byte, n)); err != nil {
			return 3
		}
		return 0
	}
	return 2
}

func writeEach(sizes []string, gap time.Duration) int {
	fd, err := syscall.Open("/dev/null", syscall.O_WRONLY, 0)
	if err != nil {
		return 2
	}
	for _, s := range sizes {
		n, _ := strconv.Atoi(s)
		buf := dataPattern(n) // resident before the write: BPF reads it without faulting
		time.Sleep(gap)
		if w, err := syscall.Write(fd, buf); err != nil || w != n {
			return 3
		}
	}
	return 0
}

// dataPattern is n bytes that differ from one 4 KiB chunk to the next, so
// that a chunk out of place shows.
func dataPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/4096)
	}
	return b
}

func maxDataHelperCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=maxdata:"+strings.Join(args, ":"))
	return cmd
}

// writePolicy hooks write(2) by the test binary of the sizes given, its
// buffer read with maxData or not.
func writePolicy(t *testing.T, name string, maxData bool, sizes ...int) string {
	quoted := make([]string, len(sizes))
	for i, n := range sizes {
		quoted[i] = strconv.Quote(strconv.Itoa(n))
	}
	return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  kprobes:
  - call: sys_write
    syscall: true
    args:
    - {index: 0, type: fd}
    - {index: 1, type: char_buf, sizeArgIndex: 3, maxData: %t}
    - {index: 2, type: size_t}
    selectors:
    - matchArgs:
      - {index: 2, operator: Equal, values: [%s]}
      matchBinaries:
      - {operator: In, values: [%q]}
`, name, maxData, strings.Join(quoted, ", "), claimTestBinary(t))
}

// bufferOf checks that ev's buffer (args[1]) holds want, and is whole or
// else says it was cut from a buffer of size bytes.
func bufferOf(t *testing.T, ev *event.Event, want []byte, size int) {
	t.Helper()
	a := ev.ProcessKprobe.Args[1]
	if len(want) == size {
		if a.TruncatedBytesArg != nil || !bytes.Equal(a.BytesArg, want) {
			t.Errorf("write of %d bytes: bytes_arg of %d bytes (truncated_bytes_arg %v), want the %d written",
				size, len(a.BytesArg), a.TruncatedBytesArg != nil, size)
		}
		return
	}
	tb := a.TruncatedBytesArg
	switch {
	case tb == nil:
		t.Errorf("write of %d bytes: %d bytes and no truncated_bytes_arg", size, len(a.BytesArg))
	case !bytes.Equal(tb.BytesArg, want) || tb.OrigSize != uint64(size) || tb.Incomplete != "":
		t.Errorf("write of %d bytes: truncated_bytes_arg of %d bytes, orig_size %d, incomplete %q; want the first %d, %d, none",
			size, len(tb.BytesArg), tb.OrigSize, tb.Incomplete, len(want), size)
	}
}

// TestMaxDataReadsUpToTetragonsLimit: with maxData a char_buf is read whole
// up to 327,360 bytes, through data records the agent joins to the event,
// and beyond that it is cut and says so (truncated_bytes_arg, orig_size);
// without maxData it is cut at 4,095 bytes and says so.
func TestMaxDataReadsUpToTetragonsLimit(t *testing.T) {
	load(t, writePolicy(t, "maxdata-on", true, 100000, 400000, 3000))
	load(t, writePolicy(t, "maxdata-off", false, 5000, 4095))
	w := maxDataHelperCmd("write", "100000,400000,3000,5000,4095")
	if out, err := w.CombinedOutput(); err != nil {
		t.Fatalf("writer: %v %s", err, out)
	}
	on := shared.sink.find(t, 3, 10*time.Second, kprobeOf(w.Process.Pid, "maxdata-on"))
	off := shared.sink.find(t, 2, 5*time.Second, kprobeOf(w.Process.Pid, "maxdata-off"))
	if len(on) != 3 || len(off) != 2 {
		t.Fatalf("%d maxData events and %d others, want 3 and 2", len(on), len(off))
	}
	for _, ev := range on {
		if p := ev.ProcessKprobe.Args[0].FileArg; p == nil || p.Path != "/dev/null" {
			t.Errorf("fd argument %+v, want /dev/null", ev.ProcessKprobe.Args[0])
		}
	}
	bufferOf(t, on[0], dataPattern(100000), 100000)
	bufferOf(t, on[1], dataPattern(400000)[:tracing.DataMax], 400000)
	bufferOf(t, on[2], dataPattern(3000), 3000)
	bufferOf(t, off[0], dataPattern(5000)[:tracing.ArgMask], 5000)
	bufferOf(t, off[1], dataPattern(4095), 4095)
}

// TestMaxDataReturnCopy: a returnCopy buffer with maxData is read at the
// return, as many bytes as read(2) returned, beyond 4,095.
func TestMaxDataReturnCopy(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	data := dataPattern(200000)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: maxdata-read
spec:
  kprobes:
  - call: sys_read
    syscall: true
    args:
    - {index: 0, type: fd}
    - {index: 1, type: char_buf, returnCopy: true, sizeArgIndex: 3, maxData: true}
    - {index: 2, type: size_t}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [%q]}
`, resolved(t, file)))
	r := maxDataHelperCmd("read", file, "262144")
	if out, err := r.CombinedOutput(); err != nil {
		t.Fatalf("reader: %v %s", err, out)
	}
	ev := shared.sink.one(t, "read", kprobeOf(r.Process.Pid, "maxdata-read"))
	bufferOf(t, ev, data, len(data))
	if n := *ev.ProcessKprobe.Args[2].SizeArg; n != 262144 {
		t.Errorf("size asked %d, want 262144", n)
	}
}

// TestMaxDataLossIsToldInBand: data records a full ring buffer cannot take
// are counted in band (kernel_ring_buffer_full_data), and so are the data
// records whose event never came (data_records_dropped, after the hold
// time); a write's event comes whole, says its buffer is incomplete, or is
// counted lost (kernel_ring_buffer_full).
func TestMaxDataLossIsToldInBand(t *testing.T) {
	const writes = 5
	r := start(t, Config{
		Tracing:      tracing.Config{RingBufferSize: 4 * os.Getpagesize()},
		Process:      process.Options{NodeName: "small-buffer"},
		LossInterval: 100 * time.Millisecond,
	})
	defer r.stop()
	r.sink.one(t, "snapshot", execOf(os.Getpid()))
	docs, err := policy.Parse([]byte(writePolicy(t, "maxdata-loss", true, 100000)), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.agent.pols.Apply(t.Name(), docs[0]); err != nil {
		t.Fatal(err)
	}
	r.sink.block.Lock() // stall the pipeline: the helper's exec blocks it
	w := maxDataHelperCmd("write", strings.Repeat("100000,", writes-1)+"100000", "100")
	err = w.Run()
	r.sink.block.Unlock()
	if err != nil {
		t.Fatalf("writer: %v", err)
	}
	time.Sleep(dataHold + time.Second) // orphaned data records expire, the loss polls report
	sum := func(reason string) (n uint64) {
		for _, ev := range r.sink.find(t, 0, 0, lostRecords(reason)) {
			n += ev.LostEvents.Count
		}
		return n
	}
	full, dataFull, dropped := sum(event.LostRingBuffer), sum(event.LostDataRingBuffer), sum(event.LostDataRecords)
	var whole, marked int
	for _, ev := range r.sink.find(t, 0, 0, kprobeOf(w.Process.Pid, "maxdata-loss")) {
		switch a := ev.ProcessKprobe.Args[1]; {
		case bytes.Equal(a.BytesArg, dataPattern(100000)):
			whole++
		case a.TruncatedBytesArg != nil && a.TruncatedBytesArg.Incomplete != "" &&
			bytes.HasPrefix(dataPattern(100000), a.TruncatedBytesArg.BytesArg):
			marked++
		default:
			t.Errorf("an event with %d bytes, neither whole nor marked incomplete", len(a.BytesArg))
		}
	}
	t.Logf("%d writes of 100,000 bytes: %d events whole, %d marked incomplete; in band: %d records lost, %d cut short, %d data records dropped",
		writes, whole, marked, full, dataFull, dropped)
	if uint64(whole+marked)+full < writes {
		t.Errorf("%d writes, %d events and %d records counted lost: some vanished", writes, whole+marked, full)
	}
	if dataFull == 0 {
		t.Error("no kernel_ring_buffer_full_data record after stalling a 4-page ring buffer")
	}
	if st := r.agent.Stats(); st.DataFull.Load() != dataFull || st.DataDropped.Load() != dropped {
		t.Errorf("stats count %d cut short and %d dropped, the stream told %d and %d",
			st.DataFull.Load(), st.DataDropped.Load(), dataFull, dropped)
	}
}
