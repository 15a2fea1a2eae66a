package respond

import (
	"sync"
	"time"
)

// budget allows at most n alerts per workload within a sliding window to
// get responses.
type budget struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	used   map[string][]time.Time
}

func newBudget(n int, window time.Duration) *budget {
	return &budget{n: n, window: window, used: map[string][]time.Time{}}
}

// take spends one of workload's responses at now, if any are left.
func (b *budget) take(workload string, now time.Time) bool {
	if b.n < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.used) > 4096 {
		b.forget(now)
	}
	ts := b.recent(workload, now)
	if len(ts) >= b.n {
		b.used[workload] = ts
		return false
	}
	b.used[workload] = append(ts, now)
	return true
}

// recent returns workload's responses still inside the window.
func (b *budget) recent(workload string, now time.Time) []time.Time {
	ts := b.used[workload]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= b.window {
		i++
	}
	return ts[i:]
}

// forget drops workloads with no response inside the window.
func (b *budget) forget(now time.Time) {
	for w := range b.used {
		if len(b.recent(w, now)) == 0 {
			delete(b.used, w)
		}
	}
}
