package memtune

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	cfg := Config{Headroom: 8 << 20, Floor: 25}
	for _, c := range []struct {
		name    string
		live    uint64
		ceiling int
		want    int
	}{
		{"small heap: the ceiling", 4 << 20, 100, 100},
		{"headroom equal to the heap", 8 << 20, 100, 100},
		{"a heap four times the headroom", 32 << 20, 100, 25},
		{"between", 20 << 20, 100, 40},
		{"a large heap: the floor", 1 << 30, 100, 25},
		{"a GOGC under the floor wins", 1 << 30, 10, 10},
		{"nothing live yet", 0, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Percent(c.live, cfg, c.ceiling); got != c.want {
				t.Fatalf("Percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
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
		Run(ctx, Config{Headroom: 8 << 20, Floor: 25, Every: 10 * time.Millisecond})
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
