// Package memtune bounds the Go heap's headroom. The collector lets the
// heap grow by GOGC percent of what is live before it collects (100 by
// default: to twice the live heap), which for an agent that tracks tens
// of thousands of processes is tens of MiB held for nothing. Run lowers
// the percentage as the live heap grows, so that the headroom stays near
// a fixed size: never below a floor (a collection per that much growth
// at worst, which bounds the collector's CPU), never above the
// percentage the process started with (GOGC; off stays off).
package memtune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Config says how much headroom to keep.
type Config struct {
	Headroom uint64        // bytes above the live heap; 0 turns tuning off
	Floor    int           // the lowest percentage
	Every    time.Duration // how often the live heap is read
}

const liveMetric = "/gc/heap/live:bytes"

// Run adjusts the collector's percentage every cfg.Every until ctx ends,
// then puts the starting one back.
func Run(ctx context.Context, cfg Config) {
	start := debug.SetGCPercent(100)
	debug.SetGCPercent(start)
	if cfg.Headroom == 0 || start < 0 {
		return
	}
	defer debug.SetGCPercent(start)
	sample := []metrics.Sample{{Name: liveMetric}}
	tick := time.NewTicker(cfg.Every)
	defer tick.Stop()
	current := start
	for {
		metrics.Read(sample)
		if p := Percent(sample[0].Value.Uint64(), cfg, start); p != current {
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

// Percent is the percentage that keeps cfg.Headroom above a live heap of
// live bytes, within cfg.Floor and ceiling.
func Percent(live uint64, cfg Config, ceiling int) int {
	if live == 0 {
		return ceiling
	}
	p := int(min(cfg.Headroom*100/live, uint64(ceiling)))
	return max(p, min(cfg.Floor, ceiling))
}
