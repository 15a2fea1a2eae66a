package agent

import (
	"time"

	"github.com/vigil-sec/vigil/pkg/containerid"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/process"
)

// dockerIDLen is how much of the container id the "docker" field keeps.
const dockerIDLen = 31

// podWaiter adds to events the pod and container their processes run in.
// An event whose process runs in a container the pod index does not know
// yet waits, with every event after it so that order holds, until the
// index knows it or hold has passed; then it goes out, with its pod if
// there is one.
type podWaiter struct {
	index   *pods.Index
	cache   *process.Cache // whose processes get their pods
	hold    time.Duration
	queue   []held
	expired uint64 // events that went out without the pod they waited for
}

type held struct {
	ev    *event.Event
	until time.Time
}

// admit takes ev and returns the events that may go out now, in order.
func (w *podWaiter) admit(ev *event.Event, now time.Time) []*event.Event {
	if len(w.queue) == 0 && w.attach(ev) {
		return []*event.Event{ev}
	}
	w.queue = append(w.queue, held{ev, now.Add(w.hold)})
	return w.release(now)
}

// drain returns every held event, for shutdown.
func (w *podWaiter) drain() []*event.Event {
	return w.release(time.Now().Add(w.hold))
}

// release returns the held events that may go out now.
func (w *podWaiter) release(now time.Time) []*event.Event {
	var out []*event.Event
	for len(w.queue) > 0 {
		h := w.queue[0]
		if !w.attach(h.ev) {
			if now.Before(h.until) {
				break
			}
			w.expired++
		}
		out = append(out, h.ev)
		w.queue = w.queue[1:]
	}
	return out
}

// attach gives ev's processes their pods; it says false when the event's
// own process runs in a container whose pod is not known yet.
func (w *podWaiter) attach(ev *event.Event) bool {
	procs := processes(ev)
	ready := true
	for i, p := range procs {
		if !w.attachOne(p) && i == 0 {
			ready = false
		}
	}
	return ready
}

// attachOne sets p's pod; false when p is in a container of no known pod.
func (w *podWaiter) attachOne(p *event.Process) bool {
	if p == nil || p.Pod != nil || p.Cgroup == nil {
		return true
	}
	id, _, ok := containerid.Parse(p.Cgroup.Name)
	if !ok {
		return true // a host process
	}
	pod := w.index.Container(id)
	if pod == nil {
		// before the first list of pods (the API server may be down),
		// waiting would only delay every container's events
		return !w.index.Synced()
	}
	pod.Container.Pid = p.NsPid
	w.cache.SetPod(p, pod, id[:dockerIDLen])
	return true
}

// processes lists an event's process first, then its parent and ancestors.
func processes(ev *event.Event) []*event.Process {
	var proc, parent *event.Process
	var ancestors []*event.Process
	switch {
	case ev.ProcessExec != nil:
		proc, parent, ancestors = ev.ProcessExec.Process, ev.ProcessExec.Parent, ev.ProcessExec.Ancestors
	case ev.ProcessExit != nil:
		proc, parent, ancestors = ev.ProcessExit.Process, ev.ProcessExit.Parent, ev.ProcessExit.Ancestors
	case ev.ProcessKprobe != nil:
		proc, parent, ancestors = ev.ProcessKprobe.Process, ev.ProcessKprobe.Parent, ev.ProcessKprobe.Ancestors
	case ev.ProcessLsm != nil:
		proc, parent, ancestors = ev.ProcessLsm.Process, ev.ProcessLsm.Parent, ev.ProcessLsm.Ancestors
	case ev.ProcessUprobe != nil:
		proc, parent, ancestors = ev.ProcessUprobe.Process, ev.ProcessUprobe.Parent, ev.ProcessUprobe.Ancestors
	case ev.ProcessUsdt != nil:
		proc, parent, ancestors = ev.ProcessUsdt.Process, ev.ProcessUsdt.Parent, ev.ProcessUsdt.Ancestors
	case ev.ProcessLoader != nil:
		proc = ev.ProcessLoader.Process
	case ev.ProcessTracepoint != nil:
		proc, parent, ancestors = ev.ProcessTracepoint.Process, ev.ProcessTracepoint.Parent, ev.ProcessTracepoint.Ancestors
	default:
		return nil
	}
	return append([]*event.Process{proc, parent}, ancestors...)
}
