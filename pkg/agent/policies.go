package agent

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/scope"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// policies keeps the agent's policies in the kernel: it compiles them,
// installs them through the generic hook, replaces them in place, and
// remembers every hook's metadata to render its events.
type policies struct {
	hooks  *tracing.Hooks
	scopes *scope.Scopes
	target compile.Target
	guard  Guard // nil: none

	mu     sync.Mutex
	byName map[string]*installed
	nextID uint32
	idUsed map[uint32]bool

	metaMu sync.RWMutex
	metas  map[uint32]*compile.Hook // by global hook id; kept after removal for late records

	// counts of earlier versions of each policy, by name: a replaced
	// version's hooks leave the kernel with their counts
	carried  map[string]policyCounts
	disabled map[string]*kept // out of the kernel by request, by name
	failed   map[string]*kept // whose last version did not load, by name
}

// policyCounts are a policy's selector matches in the kernel (posted as
// events or not) and the enforcement actions it took.
type policyCounts struct{ events, actions uint64 }

// countsOf returns a policy's counts since it was first loaded.
func (ps *policies) countsOf(name string) policyCounts {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	c := ps.carried[name]
	if in := ps.byName[name]; in != nil {
		st, err := ps.hooks.Stats(in.inst)
		if err != nil {
			logrus.WithError(err).WithField("policy", name).Warn("reading the policy's counts")
		}
		c.events += st.Hits
		c.actions += st.Actions
	}
	return c
}

type installed struct {
	id     uint32
	source string
	inst   *tracing.Installed
	scope  *compile.Scope
	doc    policy.Policy // the document, to enable it again once disabled
	mode   int
	// skipped are the calls ignore.callNotFound left out (Compiled.Skipped)
	skipped []string
}

func newPolicies(h *tracing.Hooks, scopes *scope.Scopes, target compile.Target) *policies {
	return &policies{hooks: h, scopes: scopes, target: target, byName: map[string]*installed{},
		metas: map[uint32]*compile.Hook{}, carried: map[string]policyCounts{}, idUsed: map[uint32]bool{},
		disabled: map[string]*kept{}, failed: map[string]*kept{}}
}

// modeOf reads the policy mode from spec.options (name "policy-mode").
func modeOf(p policy.Policy) (int, error) {
	for _, o := range p.GetSpec().Options {
		if o.Name != "policy-mode" {
			continue
		}
		switch o.Value {
		case "enforce":
			return tracing.ModeEnforce, nil
		case "monitor":
			return tracing.ModeMonitor, nil
		}
		return 0, fmt.Errorf("spec.options policy-mode: %q is neither enforce nor monitor", o.Value)
	}
	return tracing.ModeEnforce, nil
}

// Apply installs p from source, replacing a policy of the same name with
// no gap: the new hooks are live before the old ones leave. A disabled
// policy stays out of the kernel: p becomes the version kept for it.
func (ps *policies) Apply(source string, p policy.Policy) error {
	return ps.ApplyAs(source, "", p)
}

// ApplyAs is Apply for an API caller of role; guardrails see the role.
func (ps *policies) ApplyAs(source, role string, p policy.Policy) error {
	name := compile.QualifiedName(p)
	var err error
	if ps.guard != nil {
		err = ps.guard.Check(Load{Policy: p, Source: source, Role: role})
	}
	if err == nil && ps.keepDisabled(name, source, p) {
		return nil
	}
	if err == nil {
		err = ps.apply(source, p)
	}
	ps.noteResult(name, source, p, err)
	return err
}

func (ps *policies) apply(source string, p policy.Policy) error {
	mode, err := modeOf(p)
	if err != nil {
		return err
	}
	c, err := compile.Compile(p, ps.target)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	old := ps.byName[c.Name]
	if old != nil && old.source != source {
		return fmt.Errorf("policy %q is already loaded from %s", c.Name, old.source)
	}
	id, prev, err := ps.allocate(old)
	if err != nil {
		return err
	}
	in, err := ps.install(id, mode, c, prev, old)
	if err != nil {
		if old == nil {
			delete(ps.idUsed, id)
		}
		return err
	}
	if old != nil {
		ps.carry(c.Name, old.inst)
	}
	ps.metaMu.Lock()
	for i, hid := range in.HookIDs {
		ps.metas[hid] = c.Hooks[i]
	}
	ps.metaMu.Unlock()
	ps.byName[c.Name] = &installed{id: id, source: source, inst: in, scope: c.Scope, doc: p, mode: mode, skipped: c.Skipped}
	for _, s := range c.Skipped {
		logrus.WithFields(logrus.Fields{"policy": c.Name, "source": source}).Warn("skipped: " + s)
	}
	return nil
}

// carry adds the counts of a replaced version's hooks (out of the kernel's
// lists, their counts stay until their ids are handed out again).
func (ps *policies) carry(name string, old *tracing.Installed) {
	st, err := ps.hooks.Stats(old)
	if err != nil {
		logrus.WithError(err).WithField("policy", name).Warn("reading the replaced policy's counts")
	}
	c := ps.carried[name]
	c.events += st.Hits
	c.actions += st.Actions
	ps.carried[name] = c
}

// install puts c's scope, then its hooks in the kernel, so that a scoped
// hook never runs before its scope is known; on failure old's scope is
// back.
func (ps *policies) install(id uint32, mode int, c *compile.Compiled, prev *tracing.Installed,
	old *installed) (*tracing.Installed, error) {
	var oldScope *compile.Scope
	if old != nil {
		oldScope = old.scope
	}
	if c.Scope != nil {
		if err := ps.scopes.Set(id, c.Scope); err != nil {
			return nil, err
		}
	}
	in, err := ps.hooks.Install(id, mode, c.Program, prev)
	switch {
	case err != nil && c.Scope != nil:
		err = errors.Join(err, ps.scopes.Set(id, oldScope))
	case err == nil && c.Scope == nil && oldScope != nil: // the old, scoped hooks are gone
		if serr := ps.scopes.Set(id, nil); serr != nil {
			logrus.WithError(serr).Warn("clearing a replaced policy's scope")
		}
	}
	return in, err
}

// allocate returns old's id, or a free one: ids go round before one is
// reused, as hook ids do.
func (ps *policies) allocate(old *installed) (uint32, *tracing.Installed, error) {
	if old != nil {
		return old.id, old.inst, nil
	}
	for range tracing.MaxPolicies {
		id := ps.nextID%(tracing.MaxPolicies-1) + 1
		ps.nextID = id
		if !ps.idUsed[id] {
			ps.idUsed[id] = true
			return id, nil, nil
		}
	}
	return 0, nil, fmt.Errorf("all %d policy ids are in use", tracing.MaxPolicies-1)
}

// Remove forgets a policy: takes it out of the kernel if it is there.
func (ps *policies) Remove(name string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	_, wasDisabled := ps.disabled[name]
	_, hadFailed := ps.failed[name]
	delete(ps.disabled, name)
	delete(ps.failed, name)
	delete(ps.carried, name)
	if ps.byName[name] == nil && (wasDisabled || hadFailed) {
		return nil
	}
	return ps.unload(name)
}

// unload takes a loaded policy out of the kernel.
func (ps *policies) unload(name string) error {
	old := ps.byName[name]
	if old == nil {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	delete(ps.byName, name)
	err := ps.hooks.Remove(old.inst)
	delete(ps.idUsed, old.id)
	if old.scope != nil {
		err = errors.Join(err, ps.scopes.Set(old.id, nil))
	}
	return err
}

// SetMode switches a loaded policy between enforce and monitor.
func (ps *policies) SetMode(name string, mode int) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	p := ps.byName[name]
	if p == nil {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	if err := ps.hooks.SetMode(p.id, mode); err != nil {
		return err
	}
	p.mode = mode
	return nil
}

// fromSource lists the names of the policies from source: loaded,
// disabled, or refused.
func (ps *policies) fromSource(source string) []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []string
	for name, p := range ps.byName {
		if p.source == source {
			out = append(out, name)
		}
	}
	for _, m := range []map[string]*kept{ps.disabled, ps.failed} {
		for name, k := range m {
			if k.source == source && ps.byName[name] == nil {
				out = append(out, name)
			}
		}
	}
	return out
}

func (ps *policies) hook(id uint32) *compile.Hook {
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	return ps.metas[id]
}

// syncSource makes the policies from source exactly docs: applies each,
// and removes those that source no longer holds. Failures are logged with
// the source and reason, and do not affect other policies.
func (ps *policies) syncSource(source string, docs []policy.Policy) {
	keep := map[string]bool{}
	for _, p := range docs {
		keep[compile.QualifiedName(p)] = true
		if err := ps.Apply(source, p); err != nil {
			logPolicyError(source, p.GetName(), err)
			continue
		}
		logrus.WithFields(logrus.Fields{"policy": p.GetName(), "source": source}).Info("policy loaded")
	}
	for _, name := range ps.fromSource(source) {
		if !keep[name] {
			if err := ps.Remove(name); err != nil {
				logPolicyError(source, name, err)
			}
			logrus.WithFields(logrus.Fields{"policy": name, "source": source}).Info("policy removed")
		}
	}
}

func logPolicyError(source, name string, err error) {
	var u *compile.UnsupportedError
	f := logrus.Fields{"policy": name, "source": source}
	if errors.As(err, &u) {
		f["path"] = u.Path
	}
	logrus.WithFields(f).WithError(err).Error("policy not loaded")
}

// skipped lists the calls a loaded policy left out (ignore.callNotFound).
func (ps *policies) skipped(name string) []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if in := ps.byName[name]; in != nil {
		return in.skipped
	}
	return nil
}

// backends lists the kernel mechanisms that serve a loaded policy's hooks.
func (ps *policies) backends(name string) []string {
	ps.mu.Lock()
	in := ps.byName[name]
	ps.mu.Unlock()
	if in == nil {
		return nil
	}
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, id := range in.inst.HookIDs {
		if b := ps.metas[id].Backend; !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}
