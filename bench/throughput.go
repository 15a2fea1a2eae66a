package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
)

// probeTime is how long each rate is tried while searching for the
// highest one without loss; the rate found must then hold for
// -throughput-time.
const probeTime = 10 * time.Second

// trial is one run of the agent at an offered rate: the matching opens
// made, the policy events it delivered on its stdout, the events its
// in-band lost_events records counted, and the CPU time the agent's
// process used meanwhile (user space: decoding, enriching, encoding and
// writing; the kernel's part runs in the opening threads).
type trial struct {
	opens, delivered, lost uint64
	secs, cpu              float64
}

// cpuPerEvent is the agent's CPU time per delivered event, in µs.
func (t trial) cpuPerEvent() float64 { return 1e6 * t.cpu / float64(max(t.delivered, 1)) }

func (t trial) offered() float64      { return t.rate(t.opens) }
func (t trial) rate(n uint64) float64 { return float64(n) / t.secs }

// throughput finds the highest rate of policy events the agent delivers
// with no loss (doubling, then bisecting, each rate tried for probeTime,
// the result held for o.throughput), then offers events as fast as one CPU
// can make them, from every CPU, to show what happens above it.
func throughput(r *report, o options) error {
	dir, err := os.MkdirTemp("", "vigil-bench-rate-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, pol := filepath.Join(dir, "file"), filepath.Join(dir, "open.yaml")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pol, []byte(fmt.Sprintf(openPolicy, target)), 0o600); err != nil {
		return err
	}
	try := func(rate float64, d time.Duration) (trial, error) {
		t, err := runTrial(o.bin, pol, target, rate, d)
		if err == nil {
			r.trials = append(r.trials, t)
		}
		return t, err
	}
	best, err := search(try)
	if err != nil {
		return err
	}
	held, err := hold(try, best, o.throughput)
	if err != nil {
		return err
	}
	over, err := try(0, probeTime)
	if err != nil {
		return err
	}
	r.printf("## Throughput and loss: opens of a file a policy watches, each one event\n\n")
	r.printf("| run | offered (events/s) | delivered (events/s) | lost, counted in-band | delivered + lost | agent CPU per event (µs) |\n|---|---|---|---|---|---|\n")
	for _, t := range r.trials {
		r.printf("| %.0f s | %.0f | %.0f | %d | %d of %d | %.2f |\n", t.secs, t.offered(), t.rate(t.delivered), t.lost, t.delivered+t.lost, t.opens, t.cpuPerEvent())
	}
	r.printf("\nHighest rate with no loss for %s: **%.0f events/s** (%d events). Above it, the file opened as fast as every CPU can (%.0f/s): %.0f delivered/s, %d lost and reported in lost_events records; the agent stayed up.\n\n",
		o.throughput, held.rate(held.delivered), held.delivered, over.offered(), over.rate(over.delivered), over.lost)
	return nil
}

// search doubles the rate from 5,000 events/s until events are lost or the
// generator cannot offer more, then bisects between the last good rate and
// the first bad one.
func search(try func(float64, time.Duration) (trial, error)) (float64, error) {
	good, bad := 0.0, 0.0
	for rate := 5000.0; bad == 0; rate *= 2 {
		t, err := try(rate, probeTime)
		if err != nil {
			return 0, err
		}
		switch {
		case t.lost > 0:
			bad = rate
		case t.offered() < 0.9*rate: // the generator's limit, not the agent's
			return t.offered(), nil
		default:
			good = rate
		}
	}
	for i := 0; i < 3; i++ {
		mid := (good + bad) / 2
		t, err := try(mid, probeTime)
		if err != nil {
			return 0, err
		}
		if t.lost > 0 {
			bad = mid
		} else {
			good = mid
		}
	}
	return good, nil
}

// hold runs the rate for d, stepping down 10% at a time until a run loses
// nothing.
func hold(try func(float64, time.Duration) (trial, error), rate float64, d time.Duration) (trial, error) {
	for i := 0; i < 5; i, rate = i+1, rate*0.9 {
		t, err := try(rate, d)
		if err != nil || t.lost == 0 {
			return t, err
		}
	}
	return trial{}, errors.New("no rate held without loss")
}

// runTrial starts an agent with the policy, opens target at rate (as fast
// as it can when 0) for d, stops the agent and counts what it wrote.
func runTrial(bin, pol, target string, rate float64, d time.Duration) (trial, error) {
	a, err := startAgent(bin, []string{"--tracing-policy", pol}, true)
	if err != nil {
		return trial{}, err
	}
	var t trial
	var cerr error
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		t, cerr = count(a.out)
	}()
	ticks := cpuTicks(a.pid())
	opens, secs, err := paced(target, rate, d)
	alive := a.cmd.Process.Signal(syscall.Signal(0)) == nil
	cpu := float64(cpuTicks(a.pid())-ticks) / 100 // clock ticks of 10 ms
	a.terminate()
	<-counted
	if err == nil {
		err = cerr
	}
	if werr := a.wait(); err == nil && (werr != nil || !alive) {
		err = fmt.Errorf("the agent did not stay up at %.0f events/s: %v", rate, werr)
	}
	t.opens, t.secs, t.cpu = opens, secs, cpu
	return t, err
}

// paced opens and closes path rate times a second for d (flat out when
// rate is 0), from one thread per CPU, and returns the opens made and the
// seconds they took.
func paced(path string, rate float64, d time.Duration) (uint64, float64, error) {
	threads := runtime.NumCPU()
	counts := make([]uint64, threads)
	errs := make([]error, threads)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[i], errs[i] = opener(path, rate/float64(threads), start, d)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var n uint64
	for i := range counts {
		if errs[i] != nil {
			return 0, 0, errs[i]
		}
		n += counts[i]
	}
	return n, secs, nil
}

// opener is one thread of paced.
func opener(path string, rate float64, start time.Time, d time.Duration) (uint64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var n uint64
	for el := time.Since(start); el < d; el = time.Since(start) {
		want := n + 1000
		if rate > 0 {
			want = uint64(rate * el.Seconds())
		}
		for ; n < want; n++ {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err != nil {
				return n, err
			}
			unix.Close(fd)
		}
		if rate > 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	return n, nil
}

var (
	kprobeLine = []byte(`{"process_kprobe":`)
	lostLine   = []byte(`{"lost_events":`)
)

// count reads the agent's JSON lines to their end: policy events
// delivered, and the counts of its lost_events records.
func count(out io.Reader) (trial, error) {
	var t trial
	br := bufio.NewReaderSize(out, 1<<20)
	for lineStart := true; ; {
		line, err := br.ReadSlice('\n')
		if lineStart && bytes.HasPrefix(line, kprobeLine) {
			t.delivered++
		}
		if lineStart && bytes.HasPrefix(line, lostLine) {
			var ev event.Event
			if jerr := json.Unmarshal(line, &ev); jerr != nil {
				return t, fmt.Errorf("a lost_events record: %w", jerr)
			}
			t.lost += ev.LostEvents.Count
		}
		lineStart = !errors.Is(err, bufio.ErrBufferFull)
		switch {
		case errors.Is(err, io.EOF):
			return t, nil
		case err != nil && lineStart:
			return t, err
		}
	}
}
