package memtune

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	cfg := Config{Min: 8 << 20, Max: 32 << 20, Period: 100 * time.Millisecond, Floor: 25}
	for _, c := range []struct {
		name string
		live uint64
		rate float64 // bytes a second
		want int
	}{
		{"quiet, headroom equal to the heap", 8 << 20, 0, 100},
		{"quiet, a heap four times the headroom", 32 << 20, 0, 25},
		{"quiet, between", 20 << 20, 0, 40},
		{"quiet, a large heap: the floor", 1 << 30, 0, 25},
		{"quiet, a small heap: the minimum headroom", 2 << 20, 0, 400},
		{"busy: what 100 ms allocates", 8 << 20, 160 << 20, 200},
		{"very busy: the maximum headroom", 8 << 20, 1 << 30, 400},
		{"busy, a large heap: the floor", 1 << 30, 160 << 20, 25},
		{"nothing live yet", 0, 0, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percent(c.live, c.rate, cfg, 100); got != c.want {
				t.Fatalf("Percent(%d MiB live, %.0f MiB/s) = %d, want %d", c.live>>20, c.rate/(1<<20), got, c.want)
			}
		})
	}
}

// TestRunLowersAndRestores holds a live heap of 64 MiB: Run lowers the
// collector's percentage to keep 8 MiB of headroom (the floor, 25, here),
// and puts the starting one back when it stops.
func TestRunLowersAndRestores(t *testing.T) {
	start := debug.SetGCPercent(100)
	defer debug.SetGCPercent(start)
	live := make([]byte, 64<<20)
	for i := range live {
		live[i] = 1
	}
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Config{Min: 8 << 20, Max: 8 << 20, Period: time.Second, Floor: 25, Every: 10 * time.Millisecond})
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() != 25 {
		if time.Now().After(deadline) {
			t.Fatalf("the percentage stayed %d with 64 MiB live", gcPercent())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if p := gcPercent(); p != 100 {
		t.Fatalf("after Run the percentage is %d, want 100 back", p)
	}
	runtime.KeepAlive(live)
}

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestRunGrowsUnderAllocation: while the heap allocates fast, Run lets it
// grow by what it allocates in a period, up to the maximum headroom, so
// that collections do not come every few milliseconds.
func TestRunGrowsUnderAllocation(t *testing.T) {
	start := debug.SetGCPercent(100)
	defer debug.SetGCPercent(start)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx, Config{Min: 1 << 20, Max: 256 << 20, Period: time.Second, Floor: 25, Every: 10 * time.Millisecond})
	time.Sleep(100 * time.Millisecond)
	quiet := gcPercent()
	var sink [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() < 4*quiet {
		if time.Now().After(deadline) {
			t.Fatalf("the percentage stayed %d (quiet: %d) while allocating", gcPercent(), quiet)
		}
		sink = append(sink[:0], make([]byte, 1<<20)) // about a GiB a second
	}
	runtime.KeepAlive(sink)
}
