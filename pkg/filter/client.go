package filter

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Client compiles an API client's allow and deny lists (the syntax of
// ParseFilters) into the events it takes: those the allowlist matches
// (all, without one) and the denylist does not; lost_events and
// rate_limit_info records always pass. Both lists together may cost at
// most maxCost (0: no limit; see budget): beyond it, parsing stops and the
// error wraps ErrCost.
func Client(allow, deny string, maxCost int) (func(*event.Event) bool, error) {
	b := &budget{limit: maxCost}
	a, err := parseFilters(allow, b)
	if err != nil {
		return nil, fmt.Errorf("allowlist %w", err)
	}
	d, err := parseFilters(deny, b)
	if err != nil {
		return nil, fmt.Errorf("denylist %w", err)
	}
	return func(ev *event.Event) bool {
		s := subjectOf(ev)
		if !processKinds.has(s.kind) {
			return true
		}
		return (len(a) == 0 || matchAny(a, &s)) && !matchAny(d, &s)
	}, nil
}
