// Package memtune sizes the Go heap's headroom. The collector lets the
// heap grow by GOGC percent of what is live before it collects (100 by
// default: to twice the live heap). For an agent that tracks tens of
// thousands of processes that is tens of MiB held for nothing; for one
// with a few MiB live that turns events at a high rate into a collection
// every few milliseconds, each with its fixed cost.
//
// Run sets the percentage so that the headroom is what the heap allocates
// in cfg.Period (a collection about that often), between cfg.Min and
// cfg.Max: small when the agent is quiet, larger under a burst of events,
// and never below cfg.Floor percent of the live heap (a collection per
// that much growth at worst, which bounds the collector's CPU). GOGC=off
// turns it off.
package memtune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config says how much headroom to keep.
type Config struct {
	Min, Max uint64        // bytes above the live heap; Min 0 turns tuning off
	Period   time.Duration // the allocation the headroom is sized for
	Floor    int           // the lowest percentage
	Every    time.Duration // how often the heap is read
}

const (
	liveMetric   = "/gc/heap/live:bytes"
	allocsMetric = "/gc/heap/allocs:bytes"
)

// Run adjusts the collector's percentage every cfg.Every until ctx ends,
// then puts the starting one back.
func Run(ctx context.Context, cfg Config) {
	start := debug.SetGCPercent(100)
	debug.SetGCPercent(start)
	if cfg.Min == 0 || start < 0 {
		return
	}
	defer debug.SetGCPercent(start)
	sample := []metrics.Sample{{Name: liveMetric}, {Name: allocsMetric}}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	current, allocs, last := start, uint64(0), time.Time{}
	for {
		metrics.Read(sample)
		now := time.Now()
		var rate float64 // bytes a second
		if !last.IsZero() {
			rate = float64(sample[1].Value.Uint64()-allocs) / now.Sub(last).Seconds()
		}
		allocs, last = sample[1].Value.Uint64(), now
		if p := Percent(sample[0].Value.Uint64(), rate, cfg, start); p != current {
			debug.SetGCPercent(p)
			current = p
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Percent is the percentage that keeps the headroom for allocating rate
// bytes a second above a live heap of live bytes; unknown is the one to
// use before anything is live.
func Percent(live uint64, rate float64, cfg Config, unknown int) int {
	if live == 0 {
		return unknown
	}
	headroom := min(max(uint64(rate*cfg.Period.Seconds()), cfg.Min), cfg.Max)
	return max(int(headroom*100/live), cfg.Floor)
}
