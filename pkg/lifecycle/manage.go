package lifecycle

import (
	"slices"
	"sort"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// PolicyInfo is a policy as the API lists it.
type PolicyInfo struct {
	Name, Source, Mode string
	State              State
	Error              string // why its last version did not load
	Backends           []string
	Skipped            []string // calls the kernel lacks, left out (ignore.callNotFound)
	Events, Actions    uint64
	Enforces           bool // it can signal, kill or deny
}

// List describes every policy: loaded, disabled or refused, by name.
func (ps *Policies) List() []PolicyInfo {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]PolicyInfo, 0, len(ps.byName))
	for _, r := range ps.byName {
		out = append(out, ps.info(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Policy describes one policy; false when there is none of that name.
func (ps *Policies) Policy(name string) (PolicyInfo, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if r := ps.byName[name]; r != nil {
		return ps.info(r), true
	}
	return PolicyInfo{}, false
}

func (ps *Policies) info(r *record) PolicyInfo {
	mode := r.mode
	if r.state != StateLoaded {
		mode, _ = modeOf(r.doc)
	}
	c := ps.counts(r)
	p := PolicyInfo{Name: r.name, Source: r.source, State: r.state, Mode: modeName(mode),
		Enforces: policy.Enforces(r.doc), Events: c.Events, Actions: c.Actions}
	if r.err != nil {
		p.Error = r.err.Error()
	}
	if r.inst != nil {
		p.Skipped, p.Backends = r.inst.skipped, ps.backends(r.inst.inst)
	}
	return p
}

// counts are r's counts since it was first loaded.
func (ps *Policies) counts(r *record) Counts {
	if r.inst == nil {
		return r.carried
	}
	return r.carried.add(ps.stats(r.name, r.inst.inst))
}

// backends lists the kernel mechanisms that serve an installed version.
func (ps *Policies) backends(in *tracing.Installed) []string {
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range in.HookIDs {
		if b := ps.metas[id].Backend; !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// Source says where policy name came from, "" when there is none.
func (ps *Policies) Source(name string) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if r := ps.byName[name]; r != nil {
		return r.source
	}
	return ""
}

func modeName(mode int) string {
	if mode == tracing.ModeMonitor {
		return "monitor"
	}
	return "enforce"
}

// HookCount is one hook's counts: a policy's hooks on one function.
type HookCount struct {
	Policy, Function string
	Hits, Actions    uint64
}

// SelectorCount is the matches of a policy's selectors with one label.
type SelectorCount struct {
	Policy, Label string
	Hits          uint64
}

// eachHook calls f with the policy and id of every loaded hook, holding
// the locks.
func (ps *Policies) eachHook(f func(policy string, id uint32)) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	for name, r := range ps.byName {
		if r.inst != nil {
			for _, id := range r.inst.inst.HookIDs {
				f(name, id)
			}
		}
	}
}

// SelectorCounts reads the matches of every loaded selector with a label,
// summed by policy and label (several selectors may share one).
func (ps *Policies) SelectorCounts() []SelectorCount {
	sums := map[[2]string]uint64{}
	ps.eachHook(func(name string, id uint32) {
		labels := ps.metas[id].Labels
		if !slices.ContainsFunc(labels, func(l string) bool { return l != "" }) {
			return
		}
		hits, err := ps.hooks.SelectorHits(id, len(labels))
		if err != nil {
			return
		}
		for sel, n := range hits {
			if labels[sel] != "" {
				sums[[2]string{name, labels[sel]}] += n
			}
		}
	})
	out := make([]SelectorCount, 0, len(sums))
	for k, n := range sums {
		out = append(out, SelectorCount{Policy: k[0], Label: k[1], Hits: n})
	}
	return out
}

// HookCounts reads every loaded hook's counts, summed by policy and
// function (a list: hook covers several).
func (ps *Policies) HookCounts() []HookCount {
	at := map[[2]string]int{} // index in out
	var out []HookCount
	ps.eachHook(func(name string, id uint32) {
		st, err := ps.hooks.Stats(&tracing.Installed{HookIDs: []uint32{id}})
		if err != nil {
			return
		}
		key := [2]string{name, ps.metas[id].Function}
		i, ok := at[key]
		if !ok {
			i = len(out)
			at[key] = i
			out = append(out, HookCount{Policy: name, Function: key[1]})
		}
		out[i].Hits += st.Hits
		out[i].Actions += st.Actions
	})
	return out
}
