package event

// TetragonLoss returns a lost_events record as Tetragon's rate_limit_info,
// for consumers that take Tetragon's events alone (the agent's
// --export-tetragon-strict): the count stays; the reason and the window,
// which Tetragon's record has no place for, go (the agent's log and
// metrics keep them). Other events come back as they are.
func TetragonLoss(ev *Event) *Event {
	if ev.LostEvents == nil {
		return ev
	}
	return &Event{RateLimitInfo: &RateLimitInfo{NumberOfDroppedProcessEvents: ev.LostEvents.Count},
		NodeName: ev.NodeName, Time: ev.Time}
}
