package policy

// enforcing are the actions that change what a process can do.
var enforcing = map[string]bool{"Sigkill": true, "Signal": true, "Override": true}

// Enforces says whether p can signal, kill or deny: loading or changing
// such a policy is an admin operation.
func Enforces(p Policy) bool {
	s := p.GetSpec()
	var sels [][]KProbeSelector
	for _, k := range s.KProbes {
		sels = append(sels, k.Selectors)
	}
	for _, k := range s.Fentries {
		sels = append(sels, k.Selectors)
	}
	for _, t := range s.Tracepoints {
		sels = append(sels, t.Selectors)
	}
	for _, u := range s.UProbes {
		sels = append(sels, u.Selectors)
	}
	for _, u := range s.Usdts {
		sels = append(sels, u.Selectors)
	}
	for _, l := range s.LsmHooks {
		sels = append(sels, l.Selectors)
	}
	macros := make([]KProbeSelector, 0, len(s.SelectorsMacros))
	for _, m := range s.SelectorsMacros {
		macros = append(macros, m)
	}
	for _, list := range append(sels, macros) {
		for _, sel := range list {
			if enforcingActions(sel.MatchActions) || enforcingActions(sel.MatchReturnActions) {
				return true
			}
		}
	}
	return false
}

func enforcingActions(as []ActionSelector) bool {
	for _, a := range as {
		if enforcing[a.Action] {
			return true
		}
	}
	return false
}
