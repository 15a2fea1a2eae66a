package agent

// BPF tests: they load the real programs into this kernel as root, run real
// processes and assert on the events that come out of the pipeline.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/beacon/beacontest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/process"
)

// collector is a Sink that keeps every event for the tests to search.
type collector struct {
	mu     sync.Mutex
	events []*event.Event
	block  sync.Mutex // held to stall the pipeline
}

func (c *collector) Write(ev *event.Event) error {
	c.block.Lock()
	c.block.Unlock() //nolint:staticcheck // only waits for a stall to end
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	return nil
}

func (c *collector) Flush() error { return nil }

// find returns the events matching match, waiting until at least n match or
// the timeout passes.
func (c *collector) find(t *testing.T, n int, timeout time.Duration, match func(*event.Event) bool) []*event.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c.mu.Lock()
		var out []*event.Event
		for _, ev := range c.events {
			if match(ev) {
				out = append(out, ev)
			}
		}
		c.mu.Unlock()
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// one waits for exactly one matching event and fails otherwise.
func (c *collector) one(t *testing.T, what string, match func(*event.Event) bool) *event.Event {
	t.Helper()
	evs := c.find(t, 1, 10*time.Second, match)
	if len(evs) != 1 {
		t.Fatalf("%s: want 1 event, got %d", what, len(evs))
	}
	return evs[0]
}

// running is a test instance of the agent.
type running struct {
	agent *Agent
	sink  *collector
	stop  func()
}

func start(t testing.TB, cfg Config) *running {
	sink := &collector{}
	a, err := New(cfg, sink)
	if err != nil {
		t.Fatalf("starting agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	r := &running{agent: a, sink: sink}
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent run: %v", err)
		}
	}
	return r
}

var (
	shared *running
	// early is a process started before the agent, for the snapshot tests.
	early     *exec.Cmd
	earlyGate string
)

// helperEnv makes the test binary act as a helper process instead.
const helperEnv = "VIGIL_TEST_HELPER"

// threads runs 8 OS threads for a moment, then exits 0.
func threads() {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // the thread ends with the goroutine
			time.Sleep(200 * time.Millisecond)
		}()
	}
	wg.Wait()
	os.Exit(0)
}

// openFromThreads opens file three times from each of two OS threads,
// one after the other, then exits 0.
func openFromThreads(file string) {
	for range 2 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread() // the thread ends with the goroutine
			for range 3 {
				if fd, err := syscall.Open(file, syscall.O_RDONLY, 0); err == nil {
					syscall.Close(fd)
				}
			}
		}()
		<-done
	}
	os.Exit(0)
}

func TestMain(m *testing.M) {
	switch h := os.Getenv(helperEnv); {
	case h == "threads":
		threads()
	case strings.HasPrefix(h, "setuid:"):
		uid, _ := strconv.Atoi(strings.TrimPrefix(h, "setuid:"))
		_, _, errno := syscall.RawSyscall(syscall.SYS_SETUID, uintptr(uid), 0, 0)
		os.Exit(int(errno))
	case strings.HasPrefix(h, "change-open:"):
		changeThenOpen(strings.TrimPrefix(h, "change-open:"))
	case strings.HasPrefix(h, "open-wait:"):
		openWait(strings.TrimPrefix(h, "open-wait:"))
	case strings.HasPrefix(h, "opener:"):
		opener(strings.TrimPrefix(h, "opener:"))
	case h == "memfd-exec":
		memfdExec()
	case strings.HasPrefix(h, "open-threads:"):
		openFromThreads(strings.TrimPrefix(h, "open-threads:"))
	case h == "caps-gained":
		capsGained()
	case h == "writev":
		writev()
	case strings.HasPrefix(h, "map-files:"):
		exec, data, _ := strings.Cut(strings.TrimPrefix(h, "map-files:"), ":")
		mapFiles(exec, data)
	case strings.HasPrefix(h, "listen-fd3:"):
		listenOn(strings.TrimPrefix(h, "listen-fd3:"))
	}
	if os.Geteuid() != 0 {
		fmt.Println("BPF tests need root: loading BPF programs requires CAP_BPF and CAP_PERFMON")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "vigil-agent-test")
	if err != nil {
		panic(err)
	}
	earlyGate = dir + "/gate"
	early = exec.Command("/bin/sh", "-c", `while [ ! -e "$0" ]; do sleep 0.05; done; exit 7`, earlyGate)
	if err := early.Start(); err != nil {
		panic(err)
	}
	restore := widePIDs()
	dns, err := beacontest.StartDNS()
	if err != nil {
		panic(err)
	}
	testDNS = dns
	shared = start(&testing.T{}, Config{Process: process.Options{
		NodeName: "test-node", Ancestors: process.AllAncestors, Credentials: true, Namespaces: true,
	}, Beacon: beacon.Config{DNSServer: dns.Addr, Timeout: 2 * time.Second, Workers: 2, Queue: 16}})
	code := m.Run()
	restore()
	_ = early.Process.Kill() // when the test that ends it did not run
	_ = early.Wait()
	shared.stop()
	dns.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// widePIDs raises the kernel's pid_max for the run, and returns what puts
// it back: the tests match events by pid in one shared collector, and
// with 32,768 pids a run of this package wraps around, so an earlier
// process's events could pass for a later one's.
func widePIDs() func() {
	const file, wide = "/proc/sys/kernel/pid_max", "4194304"
	old, err := os.ReadFile(file)
	if err != nil || os.WriteFile(file, []byte(wide), 0o644) != nil {
		return func() {}
	}
	return func() { _ = os.WriteFile(file, old, 0o644) }
}

// Helpers to match events.

func execOf(pid int) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		return ev.ProcessExec != nil && ev.ProcessExec.Process.Pid == uint32(pid)
	}
}

func exitOf(pid int) func(*event.Event) bool {
	return func(ev *event.Event) bool {
		return ev.ProcessExit != nil && ev.ProcessExit.Process.Pid == uint32(pid)
	}
}

// self is the test process's own snapshot record.
func self(t *testing.T) *event.Process {
	t.Helper()
	evs := shared.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
		return execOf(os.Getpid())(ev) && ev.ProcessExec.Process.Flags == "procFS"
	})
	if len(evs) != 1 {
		for _, ev := range evs {
			t.Logf("%+v", ev.ProcessExec.Process)
		}
		t.Fatalf("want 1 snapshot record of the test process, got %d", len(evs))
	}
	return evs[0].ProcessExec.Process
}

func waitTracing(t *testing.T) {
	t.Helper()
	self(t) // the snapshot is written once the tracepoints are attached
}

func itoa(i int) string { return strconv.Itoa(i) }

func resolved(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
