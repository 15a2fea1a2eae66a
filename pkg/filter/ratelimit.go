package filter

import (
	"sync"
	"time"
)

// reportInterval is the least time between two rate_limit_info records.
const reportInterval = time.Minute

// limiter is the export rate limit: limit events a minute, in bursts of up
// to limit, and the count of the events it dropped since its last report.
type limiter struct {
	mu       sync.Mutex
	interval time.Duration // a minute / limit; 0: no limit
	next     time.Time     // when the next event is due, were events evenly spaced
	dropped  uint64        // dropped since the last report
	reported time.Time     // when the last report was made
}

func newLimiter(perMinute int) *limiter {
	l := &limiter{}
	if perMinute > 0 {
		l.interval = max(time.Minute/time.Duration(perMinute), 1)
	}
	return l
}

// allow reports whether an event at now passes, and counts it when not.
// It is a token bucket in the form of the generic cell rate algorithm: an
// event passes while it is at most a minute less one interval ahead of its
// even spacing.
func (l *limiter) allow(now time.Time) bool {
	if l.interval == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.next
	if next.Before(now) {
		next = now
	}
	if next.Sub(now) > time.Minute-l.interval {
		l.dropped++
		return false
	}
	l.next = next.Add(l.interval)
	return true
}

// report returns the number of events to report at now, when a report is
// due: events were dropped, and the last report is a minute old or more.
func (l *limiter) report(now time.Time) (uint64, bool) {
	if l.interval == 0 {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped == 0 || (!l.reported.IsZero() && now.Sub(l.reported) < reportInterval) {
		return 0, false
	}
	n := l.dropped
	l.dropped, l.reported = 0, now
	return n, true
}
