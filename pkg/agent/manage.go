package agent

import (
	"fmt"
	"sort"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Policy states, as the API lists them.
const (
	StateLoaded   = "loaded"
	StateDisabled = "disabled"
	StateError    = "error"
)

// PolicyInfo is a policy as the API lists it.
type PolicyInfo struct {
	Name, Source, State, Mode string
	Error                     string // why its last version did not load
	Backends                  []string
	Skipped                   []string // calls the kernel lacks, left out (ignore.callNotFound)
	Events, Actions           uint64
	Enforces                  bool // it can signal, kill or deny
}

// kept is a policy out of the kernel: disabled, or refused.
type kept struct {
	source string
	doc    policy.Policy
	err    error
}

// keepDisabled makes p the version kept for disabled policy name, and says
// whether it is one.
func (ps *policies) keepDisabled(name, source string, p policy.Policy) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	k := ps.disabled[name]
	if k == nil || k.source != source {
		return false
	}
	k.doc = p
	return true
}

// noteResult remembers why the last version of a policy did not load.
func (ps *policies) noteResult(name, source string, p policy.Policy, err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if err == nil {
		delete(ps.failed, name)
		return
	}
	if old := ps.byName[name]; old != nil && old.source != source {
		return // another source's policy of that name stays as it is
	}
	ps.failed[name] = &kept{source: source, doc: p, err: err}
}

// Disable takes a loaded policy out of the kernel and keeps it listed.
func (ps *policies) Disable(name string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	in := ps.byName[name]
	if in == nil {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	ps.carry(name, in.inst)
	if err := ps.unload(name); err != nil {
		return err
	}
	ps.disabled[name] = &kept{source: in.source, doc: in.doc}
	return nil
}

// Enable puts a disabled policy back in the kernel, for an API caller of
// role. The guardrails judge it again, as they stand now: one they refuse
// stays disabled.
func (ps *policies) Enable(name, role string) error {
	ps.mu.Lock()
	k := ps.disabled[name]
	ps.mu.Unlock()
	if k == nil {
		return fmt.Errorf("policy %q is not disabled", name)
	}
	if ps.guard != nil {
		if err := ps.guard.Check(Load{Policy: k.doc, Source: k.source, Role: role}); err != nil {
			return err
		}
	}
	ps.mu.Lock()
	delete(ps.disabled, name)
	ps.mu.Unlock()
	err := ps.apply(k.source, k.doc)
	ps.noteResult(name, k.source, k.doc, err)
	return err
}

// Source says where policy name came from, "" when there is none.
func (ps *policies) Source(name string) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if in := ps.byName[name]; in != nil {
		return in.source
	}
	for _, m := range []map[string]*kept{ps.disabled, ps.failed} {
		if k := m[name]; k != nil {
			return k.source
		}
	}
	return ""
}

// List describes every policy: loaded, disabled or refused, by name.
func (ps *policies) List() []PolicyInfo {
	ps.mu.Lock()
	var out []PolicyInfo
	for name, in := range ps.byName {
		out = append(out, PolicyInfo{Name: name, Source: in.source, State: StateLoaded, Mode: modeName(in.mode),
			Enforces: policy.Enforces(in.doc), Skipped: in.skipped})
	}
	for name, k := range ps.disabled {
		out = append(out, keptInfo(name, StateDisabled, k))
	}
	for name, k := range ps.failed {
		if ps.byName[name] == nil {
			out = append(out, keptInfo(name, StateError, k))
		}
	}
	ps.mu.Unlock()
	for i := range out {
		ps.complete(&out[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// complete adds a listed policy's counts, backends and last error.
func (ps *policies) complete(p *PolicyInfo) {
	c := ps.countsOf(p.Name)
	p.Events, p.Actions = c.events, c.actions
	p.Backends = ps.backends(p.Name)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if k := ps.failed[p.Name]; k != nil {
		p.Error = k.err.Error()
	}
}

func keptInfo(name, state string, k *kept) PolicyInfo {
	mode, _ := modeOf(k.doc)
	return PolicyInfo{Name: name, Source: k.source, State: state, Mode: modeName(mode), Enforces: policy.Enforces(k.doc)}
}

func modeName(mode int) string {
	if mode == tracing.ModeMonitor {
		return "monitor"
	}
	return "enforce"
}

// hookCounts reads every loaded hook's counts, summed by policy and
// function (a list: hook covers several).
func (ps *policies) hookCounts() []HookCount {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	at := map[[2]string]int{} // index in out
	var out []HookCount
	for name, in := range ps.byName {
		for _, id := range in.inst.HookIDs {
			st, err := ps.hooks.Stats(&tracing.Installed{HookIDs: []uint32{id}})
			if err != nil {
				continue
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
		}
	}
	return out
}
