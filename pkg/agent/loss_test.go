package agent

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// execsOf matches exec events of binary whose parent has pid ppid.
func execsOf(ppid int, binary string) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		e := ev.ProcessExec
		return e != nil && e.Parent != nil && e.Parent.Pid == uint32(ppid) && e.Process.Binary == binary
	}
}

func lostRecords(reason string) func(*event.Event) bool {
	return func(ev *event.Event) bool { return ev.LostEvents != nil && ev.LostEvents.Reason == reason }
}

// storm runs /bin/true n times from one shell and returns the shell's pid.
func storm(t *testing.T, n int) int {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do /bin/true; i=$((i+1)); done`, itoa(n))
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestExecBurstIsDeliveredOrCounted(t *testing.T) {
	n := 20000
	if k := os.Getenv("VIGIL_TEST_KERNEL"); k != "" {
		n = 2000 // software-emulated VM: 20,000 execs would take many minutes
	}
	waitTracing(t)
	trueBin := resolved(t, "/bin/true")
	before := shared.agent.Stats().LostKernel.Load()
	sh := storm(t, n)
	got := len(shared.sink.find(t, n, 2*time.Minute, execsOf(sh, trueBin)))
	time.Sleep(1500 * time.Millisecond) // one loss poll
	lost := shared.agent.Stats().LostKernel.Load() - before
	t.Logf("%d execs: %d events, %d records lost", n, got, lost)
	if uint64(got)+lost < uint64(n) {
		t.Fatalf("%d execs are neither delivered nor counted as lost", n-got-int(lost))
	}
	if lost != 0 || got != n {
		t.Errorf("with the default ring buffer: %d events and %d lost, want %d and 0", got, lost, n)
	}
}

func TestRingBufferOverflowIsReportedInBand(t *testing.T) {
	const n = 300
	r := start(t, Config{
		Tracing:      tracing.Config{RingBufferSize: os.Getpagesize()},
		Process:      process.Options{NodeName: "small-buffer"},
		LossInterval: 100 * time.Millisecond,
	})
	defer r.stop()
	r.sink.one(t, "snapshot", func(ev *event.Event) bool {
		return execOf(os.Getpid())(ev)
	})
	r.sink.block.Lock() // stall the pipeline so the kernel's buffer fills
	sh := storm(t, n)
	r.sink.block.Unlock()
	if len(r.sink.find(t, 1, 10*time.Second, lostRecords(event.LostRingBuffer))) == 0 {
		t.Fatal("no lost_events record after overflowing a one-page ring buffer")
	}
	time.Sleep(500 * time.Millisecond) // the buffer is drained; the last polls report
	lost := r.sink.find(t, 1, 0, lostRecords(event.LostRingBuffer))
	var total uint64
	for _, ev := range lost {
		l := ev.LostEvents
		total += l.Count
		if l.Count == 0 || l.WindowStart > l.WindowEnd || ev.NodeName != "small-buffer" {
			t.Errorf("malformed lost_events record: %+v", l)
		}
	}
	got := len(r.sink.find(t, n, time.Second, execsOf(sh, resolved(t, "/bin/true"))))
	t.Logf("%d execs: %d delivered, %d records counted lost", n, got, total)
	if uint64(got)+total < n {
		t.Errorf("%d execs, %d delivered and %d counted lost: some vanished", n, got, total)
	}
	if counted := r.agent.Stats().LostKernel.Load(); counted != total {
		t.Errorf("stats count %d lost, the stream reported %d", counted, total)
	}
}

// An agent stopped right after a burst still writes what the kernel
// recorded before the stop.
func TestStopDrainsTheRingBuffer(t *testing.T) {
	r := start(t, Config{})
	for len(r.sink.find(t, 1, 0, func(ev *event.Event) bool { return ev.ProcessExec != nil })) == 0 {
		time.Sleep(20 * time.Millisecond) // the snapshot is out
	}
	sh := storm(t, 200)
	r.stop()
	if got := len(r.sink.find(t, 200, 0, execsOf(sh, resolvedPath("/bin/true")))); got != 200 {
		t.Errorf("%d of 200 execs written before the stop", got)
	}
}
