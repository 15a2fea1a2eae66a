package event

import "testing"

func TestKindNamesTheTypeProcessAndPolicy(t *testing.T) {
	p := &Process{Pid: 7}
	for _, tc := range []struct {
		ev     Event
		typ    string
		proc   *Process
		policy string
	}{
		{Event{ProcessExec: &ProcessExec{Process: p}}, "process_exec", p, ""},
		{Event{ProcessKprobe: &ProcessKprobe{Process: p, PolicyName: "k"}}, "process_kprobe", p, "k"},
		{Event{ProcessLsm: &ProcessKprobe{Process: p, PolicyName: "l"}}, "process_lsm", p, "l"},
		{Event{ProcessTracepoint: &ProcessTracepoint{Process: p, PolicyName: "t"}}, "process_tracepoint", p, "t"},
		{Event{LostEvents: &LostEvents{Count: 1}}, "lost_events", nil, ""},
		{Event{}, "unknown", nil, ""},
	} {
		if k := tc.ev.Kind(); k.Type != tc.typ || k.Process != tc.proc || k.Policy != tc.policy {
			t.Errorf("%s: %+v", tc.typ, k)
		}
	}
}
