package respond

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what the Engine did since it was made.
type Stats struct {
	// Prefiltered alerts were dropped before OPA: no rule wants their type
	// and policy. Queued alerts went to the worker; QueueDrops found the
	// queue full.
	Prefiltered, Queued, QueueDrops uint64
	// Evaluations of the respond rule, their errors and durations
	// (input conversion included); EvalP99 is over the last 1024.
	Evaluations, EvalErrors uint64
	EvalTotal, EvalMax      time.Duration
	EvalP99                 time.Duration
	// Responses carried out and failed, by action.
	Responses, Failures map[string]uint64
	// Refused responses: over the workload's budget, or aimed at a
	// process on the never-touch list.
	RefusedBudget, RefusedNeverTouch uint64
}

const recentEvals = 1024

type counters struct {
	prefiltered, queued, queueDrops atomic.Uint64
	evalErrors                      atomic.Uint64
	refusedBudget, refusedNever     atomic.Uint64

	mu          sync.Mutex
	evaluations uint64
	total, max  time.Duration
	recent      [recentEvals]time.Duration
	responses   map[string]uint64
	failures    map[string]uint64
}

func (c *counters) evaluated(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recent[c.evaluations%recentEvals] = d
	c.evaluations++
	c.total += d
	c.max = max(c.max, d)
}

func (c *counters) responded(action string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := &c.failures
	if ok {
		m = &c.responses
	}
	if *m == nil {
		*m = map[string]uint64{}
	}
	(*m)[action]++
}

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	c := &e.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(c.evaluations, recentEvals)
	return Stats{
		Prefiltered: c.prefiltered.Load(), Queued: c.queued.Load(), QueueDrops: c.queueDrops.Load(),
		Evaluations: c.evaluations, EvalErrors: c.evalErrors.Load(), EvalTotal: c.total, EvalMax: c.max,
		EvalP99:       percentile(c.recent[:n], 0.99),
		Responses:     maps.Clone(c.responses),
		Failures:      maps.Clone(c.failures),
		RefusedBudget: c.refusedBudget.Load(), RefusedNeverTouch: c.refusedNever.Load(),
	}
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	return s[min(len(s)-1, int(float64(len(s))*q))]
}
