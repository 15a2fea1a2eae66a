package filter

import (
	"sort"

	"github.com/vigil-sec/vigil/pkg/event"
)

// kind is an event's type.
type kind uint8

const (
	kindNone kind = iota // an event with no body set
	kindExec
	kindExit
	kindKprobe
	kindTracepoint
	kindUprobe
	kindLsm
	kindUsdt
	kindLoader
	kindLost
	kindRateLimit
	numKinds
)

// kindSet is a set of kinds, one bit each.
type kindSet uint16

func (s kindSet) has(k kind) bool { return s&(1<<k) != 0 }

// processKinds are the events about a process: the ones filters, field
// filters, the rate limit and redaction apply to.
const processKinds kindSet = 1<<kindExec | 1<<kindExit | 1<<kindKprobe |
	1<<kindTracepoint | 1<<kindUprobe | 1<<kindLsm | 1<<kindUsdt | 1<<kindLoader

// kindNames are Tetragon's event type names, as event_set takes them.
var kindNames = map[string]kind{
	"PROCESS_EXEC":       kindExec,
	"PROCESS_EXIT":       kindExit,
	"PROCESS_KPROBE":     kindKprobe,
	"PROCESS_TRACEPOINT": kindTracepoint,
	"PROCESS_UPROBE":     kindUprobe,
	"PROCESS_LSM":        kindLsm,
	"PROCESS_USDT":       kindUsdt,
	"PROCESS_LOADER":     kindLoader,
	// Vigil's lost_events has no Tetragon name; RATE_LIMIT_INFO is
	// Tetragon's.
	"LOST_EVENTS":     kindLost,
	"RATE_LIMIT_INFO": kindRateLimit,
}

// kindSetNames returns the names of the kinds in set, sorted.
func kindSetNames(set kindSet) []string {
	var names []string
	for n, k := range kindNames {
		if set.has(k) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// subject is what filters and redaction look at in one event.
type subject struct {
	kind      kind
	proc      *event.Process
	parent    *event.Process
	ancestors []*event.Process
	args      []*event.Argument
	policy    string
}

// subjectOf reads the parts of ev that filters look at.
func subjectOf(ev *event.Event) subject {
	switch {
	case ev.ProcessExec != nil:
		b := ev.ProcessExec
		return subject{kind: kindExec, proc: b.Process, parent: b.Parent, ancestors: b.Ancestors}
	case ev.ProcessExit != nil:
		b := ev.ProcessExit
		return subject{kind: kindExit, proc: b.Process, parent: b.Parent, ancestors: b.Ancestors}
	case ev.ProcessKprobe != nil:
		return kprobeSubject(kindKprobe, ev.ProcessKprobe)
	case ev.ProcessLsm != nil:
		return kprobeSubject(kindLsm, ev.ProcessLsm)
	case ev.ProcessTracepoint != nil:
		b := ev.ProcessTracepoint
		return subject{kind: kindTracepoint, proc: b.Process, parent: b.Parent,
			ancestors: b.Ancestors, args: b.Args, policy: b.PolicyName}
	case ev.ProcessUprobe != nil:
		b := ev.ProcessUprobe
		return subject{kind: kindUprobe, proc: b.Process, parent: b.Parent,
			ancestors: b.Ancestors, args: b.Args, policy: b.PolicyName}
	case ev.ProcessUsdt != nil:
		b := ev.ProcessUsdt
		return subject{kind: kindUsdt, proc: b.Process, parent: b.Parent,
			ancestors: b.Ancestors, args: b.Args, policy: b.PolicyName}
	case ev.ProcessLoader != nil:
		return subject{kind: kindLoader, proc: ev.ProcessLoader.Process}
	case ev.LostEvents != nil:
		return subject{kind: kindLost}
	case ev.RateLimitInfo != nil:
		return subject{kind: kindRateLimit}
	}
	return subject{kind: kindNone}
}

func kprobeSubject(k kind, b *event.ProcessKprobe) subject {
	return subject{kind: k, proc: b.Process, parent: b.Parent,
		ancestors: b.Ancestors, args: b.Args, policy: b.PolicyName}
}

// withProcesses returns a copy of ev whose body carries s's processes and
// arguments; ev and its body are left as they are.
func withProcesses(ev *event.Event, s subject) *event.Event {
	out := *ev
	switch s.kind {
	case kindExec:
		b := *ev.ProcessExec
		b.Process, b.Parent, b.Ancestors = s.proc, s.parent, s.ancestors
		out.ProcessExec = &b
	case kindExit:
		b := *ev.ProcessExit
		b.Process, b.Parent, b.Ancestors = s.proc, s.parent, s.ancestors
		out.ProcessExit = &b
	case kindKprobe:
		out.ProcessKprobe = kprobeWith(ev.ProcessKprobe, s)
	case kindLsm:
		out.ProcessLsm = kprobeWith(ev.ProcessLsm, s)
	case kindTracepoint:
		b := *ev.ProcessTracepoint
		b.Process, b.Parent, b.Ancestors, b.Args = s.proc, s.parent, s.ancestors, s.args
		out.ProcessTracepoint = &b
	case kindUprobe:
		b := *ev.ProcessUprobe
		b.Process, b.Parent, b.Ancestors, b.Args = s.proc, s.parent, s.ancestors, s.args
		out.ProcessUprobe = &b
	case kindUsdt:
		b := *ev.ProcessUsdt
		b.Process, b.Parent, b.Ancestors, b.Args = s.proc, s.parent, s.ancestors, s.args
		out.ProcessUsdt = &b
	case kindLoader:
		b := *ev.ProcessLoader
		b.Process = s.proc
		out.ProcessLoader = &b
	}
	return &out
}

func kprobeWith(k *event.ProcessKprobe, s subject) *event.ProcessKprobe {
	b := *k
	b.Process, b.Parent, b.Ancestors, b.Args = s.proc, s.parent, s.ancestors, s.args
	return &b
}

// bodies holds one event body of each kind, for an encoder to fill
// without allocating.
type bodies struct {
	exec       event.ProcessExec
	exit       event.ProcessExit
	kprobe     event.ProcessKprobe
	tracepoint event.ProcessTracepoint
	uprobe     event.ProcessUprobe
	usdt       event.ProcessUsdt
	loader     event.ProcessLoader
}

// bare returns the JSON name of ev's body and a copy of it in b without
// its processes, with s's arguments.
func (b *bodies) bare(ev *event.Event, s *subject) (string, any) {
	switch s.kind {
	case kindExec:
		b.exec = *ev.ProcessExec
		b.exec.Process, b.exec.Parent, b.exec.Ancestors = nil, nil, nil
		return "process_exec", &b.exec
	case kindExit:
		b.exit = *ev.ProcessExit
		b.exit.Process, b.exit.Parent, b.exit.Ancestors = nil, nil, nil
		return "process_exit", &b.exit
	case kindKprobe, kindLsm:
		name, k := "process_kprobe", ev.ProcessKprobe
		if s.kind == kindLsm {
			name, k = "process_lsm", ev.ProcessLsm
		}
		b.kprobe = *k
		b.kprobe.Process, b.kprobe.Parent, b.kprobe.Ancestors, b.kprobe.Args = nil, nil, nil, s.args
		return name, &b.kprobe
	case kindTracepoint:
		b.tracepoint = *ev.ProcessTracepoint
		b.tracepoint.Process, b.tracepoint.Parent, b.tracepoint.Ancestors, b.tracepoint.Args = nil, nil, nil, s.args
		return "process_tracepoint", &b.tracepoint
	case kindUprobe:
		b.uprobe = *ev.ProcessUprobe
		b.uprobe.Process, b.uprobe.Parent, b.uprobe.Ancestors, b.uprobe.Args = nil, nil, nil, s.args
		return "process_uprobe", &b.uprobe
	case kindUsdt:
		b.usdt = *ev.ProcessUsdt
		b.usdt.Process, b.usdt.Parent, b.usdt.Ancestors, b.usdt.Args = nil, nil, nil, s.args
		return "process_usdt", &b.usdt
	case kindLoader:
		b.loader = *ev.ProcessLoader
		b.loader.Process = nil
		return "process_loader", &b.loader
	}
	return "", nil
}
