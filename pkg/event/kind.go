package event

// Kind says what an event reports.
type Kind struct {
	Type    string   // the event's JSON field: process_exec, process_kprobe, lost_events, ...
	Process *Process // the process it is about; nil for loss records
	Policy  string   // the policy of a policy event
}

// Kind returns what ev reports; Type is "unknown" for an empty event.
func (ev *Event) Kind() Kind {
	switch {
	case ev.ProcessExec != nil:
		return Kind{"process_exec", ev.ProcessExec.Process, ""}
	case ev.ProcessExit != nil:
		return Kind{"process_exit", ev.ProcessExit.Process, ""}
	case ev.ProcessKprobe != nil:
		return Kind{"process_kprobe", ev.ProcessKprobe.Process, ev.ProcessKprobe.PolicyName}
	case ev.ProcessLsm != nil:
		return Kind{"process_lsm", ev.ProcessLsm.Process, ev.ProcessLsm.PolicyName}
	case ev.ProcessTracepoint != nil:
		return Kind{"process_tracepoint", ev.ProcessTracepoint.Process, ev.ProcessTracepoint.PolicyName}
	case ev.ProcessUprobe != nil:
		return Kind{"process_uprobe", ev.ProcessUprobe.Process, ev.ProcessUprobe.PolicyName}
	case ev.ProcessUsdt != nil:
		return Kind{"process_usdt", ev.ProcessUsdt.Process, ev.ProcessUsdt.PolicyName}
	case ev.ProcessLoader != nil:
		return Kind{"process_loader", ev.ProcessLoader.Process, ""}
	case ev.LostEvents != nil:
		return Kind{Type: "lost_events"}
	case ev.RateLimitInfo != nil:
		return Kind{Type: "rate_limit_info"}
	}
	return Kind{Type: "unknown"}
}
