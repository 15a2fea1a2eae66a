package filter

import "github.com/vigil-sec/vigil/pkg/event"

// tetragonOnly returns ev without Vigil's additions to Tetragon's events
// (Options.Strict): each process's cgroup and its pod's uid, a policy
// event's backend and mode, and why a truncated buffer is incomplete. Tetragon writes a monitor-mode policy's action as the one it would
// have taken, as Vigil's action field does, so leaving the mode out keeps
// Tetragon's meaning. ev and what it points to are left as they are.
func tetragonOnly(ev *event.Event) *event.Event {
	s := subjectOf(ev)
	s.proc, s.parent = tetragonProcess(s.proc), tetragonProcess(s.parent)
	if len(s.ancestors) > 0 {
		ancestors := make([]*event.Process, len(s.ancestors))
		for i, a := range s.ancestors {
			ancestors[i] = tetragonProcess(a)
		}
		s.ancestors = ancestors
	}
	s.args = withoutIncomplete(s.args)
	out := withProcesses(ev, s) // bodies are copies from here on
	switch {
	case out.ProcessKprobe != nil:
		out.ProcessKprobe.Backend, out.ProcessKprobe.Mode = "", ""
	case out.ProcessLsm != nil:
		out.ProcessLsm.Backend, out.ProcessLsm.Mode = "", ""
	case out.ProcessTracepoint != nil:
		out.ProcessTracepoint.Mode = ""
	case out.ProcessUprobe != nil:
		out.ProcessUprobe.Mode = ""
	case out.ProcessUsdt != nil:
		out.ProcessUsdt.Mode = ""
	}
	return out
}

// tetragonProcess is p, or a copy of it without its cgroup and its pod's
// uid when it has either.
func tetragonProcess(p *event.Process) *event.Process {
	podUID := p != nil && p.Pod != nil && p.Pod.UID != ""
	if p == nil || (p.Cgroup == nil && !podUID) {
		return p
	}
	c := *p
	c.Cgroup = nil
	if podUID {
		pod := *p.Pod
		pod.UID = ""
		c.Pod = &pod
	}
	return &c
}

// withoutIncomplete is args, or a copy of them whose truncated buffers do
// not say why they are incomplete, when one does.
func withoutIncomplete(args []*event.Argument) []*event.Argument {
	var out []*event.Argument
	for i, a := range args {
		if a == nil || a.TruncatedBytesArg == nil || a.TruncatedBytesArg.Incomplete == "" {
			continue
		}
		if out == nil {
			out = append([]*event.Argument(nil), args...)
		}
		c, tb := *a, *a.TruncatedBytesArg
		tb.Incomplete = ""
		c.TruncatedBytesArg = &tb
		out[i] = &c
	}
	if out == nil {
		return args
	}
	return out
}
