package agent

import (
	"strings"
	"time"
)

// Health says whether the agent works and whether it is ready, for
// liveness and readiness probes.
type Health struct {
	// Live: the agent's reader has made progress within liveWindow (or
	// the agent started less than that ago).
	Live bool
	// Ready: the programs are attached, the running processes known and
	// the configured policies loaded: those of files, and with Kubernetes
	// every TracingPolicy resource as the API server first listed them.
	Ready bool
	Why   string // what is not so, when either is false
}

// liveWindow is how long the reader may make no progress before the agent
// is not live. It polls every readWait, so only a reader stuck for good
// (or a writer that blocks it: a sink that never returns) stays this long.
const liveWindow = 30 * time.Second

// Health reports the agent's health; it is safe for concurrent use.
func (a *Agent) Health() Health {
	var why []string
	since := a.started
	if beat := a.beat.Load(); beat != 0 {
		since = time.Unix(0, beat)
	}
	live := time.Since(since) < liveWindow
	if !live {
		why = append(why, "the event reader has made no progress for "+time.Since(since).Round(time.Second).String())
	}
	if !a.snapshotDone.Load() {
		why = append(why, "the running processes are not known yet")
	}
	if a.crds != nil && !a.crds.ready.Load() {
		why = append(why, "the TracingPolicy resources are not loaded yet (the API server has not answered)")
	}
	return Health{Live: live, Ready: len(why) == 0, Why: strings.Join(why, "; ")}
}
