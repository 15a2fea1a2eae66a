package agent

import (
	"strings"
	"testing"
	"time"
)

// Health: live while the reader beats (or the agent has just started),
// ready once the running processes are known.
func TestHealthFollowsTheReader(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name          string
		started, beat time.Time
		snapshot      bool
		live, ready   bool
		why           string
	}{
		{"starting", now, time.Time{}, false, true, false, "running processes"},
		{"stuck in the snapshot", now.Add(-time.Minute), time.Time{}, false, false, false, "no progress for 1m0s"},
		{"running", now.Add(-time.Hour), now, true, true, true, ""},
		{"reader stuck", now.Add(-time.Hour), now.Add(-40 * time.Second), true, false, false, "no progress for 40s"},
	} {
		a := &Agent{started: c.started}
		if !c.beat.IsZero() {
			a.beat.Store(c.beat.UnixNano())
		}
		a.snapshotDone.Store(c.snapshot)
		h := a.Health()
		if h.Live != c.live || h.Ready != c.ready || !strings.Contains(h.Why, c.why) || (c.why == "") != (h.Why == "") {
			t.Errorf("%s: %+v, want live %v, ready %v, why with %q", c.name, h, c.live, c.ready, c.why)
		}
	}
}
