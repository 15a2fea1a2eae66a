package lifecycle

import (
	"errors"
	"fmt"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/scope"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// State is where a policy stands.
type State string

// Policy states, as the API lists them.
const (
	StateLoaded   State = "loaded"   // in the kernel
	StateDisabled State = "disabled" // out of the kernel by request, kept
	StateError    State = "error"    // refused; no version of it is in the kernel
	// kept out of the kernel: the node's labels do not match its
	// spec.nodeSelector, or are not known yet (nodes.go)
	StateNotSelected State = "not_selected"
)

// Policies keeps the agent's policies in the kernel: it compiles them,
// installs them through the generic hook, replaces them in place, and
// remembers every hook's metadata to render its events.
type Policies struct {
	hooks  *tracing.Hooks
	scopes *scope.Scopes
	target compile.Target
	guard  Guard  // nil: none
	store  *Store // nil: nothing persisted
	// generation is the pinned generation the kernel counts this run's
	// hooks in (tracing.Sensor.Generation)
	generation string

	mu     sync.Mutex // every operation, whole
	byName map[string]*record
	node   map[string]string // the node's labels, nil until known (nodes.go)
	nextID uint32
	idUsed map[uint32]bool

	metaMu sync.RWMutex
	metas  map[uint32]*compile.Hook // by global hook id; kept after removal for late records
}

// record is one policy, whatever its state.
type record struct {
	name, source string
	role         string // the API caller's role that added it; guardrails see it again
	state        State
	doc          policy.Policy // the version in the kernel, disabled, or refused
	mode         int
	err          error      // why the last version did not load
	inst         *installed // StateLoaded
	// carried are the counts of versions and agents gone: they left the
	// kernel with their counts
	carried Counts
}

// installed is a version of a policy in the kernel.
type installed struct {
	id    uint32
	inst  *tracing.Installed
	scope *compile.Scope
	// workloads are the scope ids of its selectors' matchWorkloads
	workloads []uint32
	skipped   []string // the calls ignore.callNotFound left out (Compiled.Skipped)
}

// Counts are a policy's selector matches in the kernel (posted as events
// or not) and the enforcement actions it took.
type Counts struct{ Events, Actions uint64 }

// New returns the lifecycle of the policies installed through s's hooks. guard
// (nil: none) judges every load; store (nil: none) keeps them on disk.
func New(s *tracing.Sensor, scopes *scope.Scopes, target compile.Target, guard Guard, store *Store) *Policies {
	return &Policies{hooks: s.Hooks(), scopes: scopes, target: target, guard: guard, store: store, generation: s.Generation(),
		byName: map[string]*record{}, metas: map[uint32]*compile.Hook{}, idUsed: map[uint32]bool{}}
}

// Target is what policies are compiled for.
func (ps *Policies) Target() compile.Target {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.target
}

// SetGuard replaces the guardrails (nil: none) for the next operations.
func (ps *Policies) SetGuard(g Guard) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.guard = g
}

// SetTarget changes what the next policies are compiled for.
func (ps *Policies) SetTarget(t compile.Target) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.target = t
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
func (ps *Policies) Apply(source string, p policy.Policy) error {
	return ps.ApplyAs(source, "", p)
}

// ApplyAs is Apply for an API caller of role; guardrails see the role.
func (ps *Policies) ApplyAs(source, role string, p policy.Policy) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	name := compile.QualifiedName(p)
	r := ps.byName[name]
	if r != nil && r.source != source {
		if r.state != StateError {
			return fmt.Errorf("policy %q is already loaded from %s", name, r.source)
		}
		r = nil // another source's refused version gives way
	}
	if r == nil {
		r = &record{name: name, source: source, state: StateError}
	}
	err := ps.check(p, source, role)
	if err == nil && r.state == StateDisabled {
		r.doc, r.role = p, role
		ps.persist(r)
		return nil
	}
	var here bool
	if err == nil {
		here, err = ps.selected(p)
	}
	if err == nil && !here {
		return ps.deselect(r, p, role)
	}
	if err == nil {
		err = ps.install(r, p, role)
	}
	ps.note(r, p, err)
	return err
}

// check asks the guardrails about p.
func (ps *Policies) check(p policy.Policy, source, role string) error {
	if ps.guard == nil {
		return nil
	}
	return ps.guard.Check(Load{Policy: p, Source: source, Role: role})
}

// note records the outcome of loading p into r: a refused version leaves
// the one in the kernel (if any) as it is.
func (ps *Policies) note(r *record, p policy.Policy, err error) {
	ps.byName[r.name] = r
	r.err = err
	if err == nil {
		ps.persist(r)
		return
	}
	if r.state == StateError {
		r.doc = p
	}
}

// install puts p in the kernel as r's version, replacing the one there.
func (ps *Policies) install(r *record, p policy.Policy, role string) error {
	mode, err := modeOf(p)
	if err != nil {
		return err
	}
	c, err := compile.Compile(p, ps.target)
	if err != nil {
		return err
	}
	old := r.inst
	id, err := ps.allocate(old)
	if err != nil {
		return err
	}
	workloads, err := ps.setWorkloads(c)
	var in *tracing.Installed
	if err == nil {
		in, err = ps.installCompiled(id, mode, c, old)
	}
	if err != nil {
		ps.dropWorkloads(workloads)
		if old == nil {
			delete(ps.idUsed, id)
		}
		return err
	}
	if old != nil {
		r.carried = r.carried.add(ps.stats(r.name, old.inst))
		ps.dropWorkloads(old.workloads)
	}
	ps.metaMu.Lock()
	for i, hid := range in.HookIDs {
		ps.metas[hid] = c.Hooks[i]
	}
	ps.metaMu.Unlock()
	r.inst = &installed{id: id, inst: in, scope: c.Scope, workloads: workloads, skipped: c.Skipped}
	r.state, r.doc, r.mode, r.role = StateLoaded, p, mode, role
	for _, s := range c.Skipped {
		logrus.WithFields(logrus.Fields{"policy": c.Name, "source": r.source}).Warn("skipped: " + s)
	}
	for _, s := range c.Caveats {
		logrus.WithFields(logrus.Fields{"policy": c.Name, "source": r.source}).Warn("fallback: " + s)
	}
	return nil
}

func (c Counts) add(st tracing.HookStat) Counts {
	return Counts{Events: c.Events + st.Hits, Actions: c.Actions + st.Actions}
}

// stats reads the kernel's counts of an installed version.
func (ps *Policies) stats(name string, in *tracing.Installed) tracing.HookStat {
	st, err := ps.hooks.Stats(in)
	if err != nil {
		logrus.WithError(err).WithField("policy", name).Warn("reading the policy's counts")
	}
	return st
}

// installCompiled puts c's scope, then its hooks in the kernel, so that a
// scoped hook never runs before its scope is known; on failure old's
// scope is back, and old is whole.
func (ps *Policies) installCompiled(id uint32, mode int, c *compile.Compiled, old *installed) (*tracing.Installed, error) {
	var oldScope *compile.Scope
	var prev *tracing.Installed
	if old != nil {
		oldScope, prev = old.scope, old.inst
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
func (ps *Policies) allocate(old *installed) (uint32, error) {
	if old != nil {
		return old.id, nil
	}
	for range tracing.MaxPolicies {
		id := ps.nextID%(tracing.MaxPolicies-1) + 1
		ps.nextID = id
		if !ps.idUsed[id] {
			ps.idUsed[id] = true
			return id, nil
		}
	}
	return 0, fmt.Errorf("all %d policy ids are in use", tracing.MaxPolicies-1)
}

// Remove forgets a policy: takes it out of the kernel if it is there.
func (ps *Policies) Remove(name string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.byName[name]
	if r == nil {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	var err error
	if r.state == StateLoaded {
		err = ps.unload(r)
	}
	if err == nil {
		delete(ps.byName, name)
		ps.unpersist(r)
	}
	return err
}

// unload takes r's version out of the kernel.
func (ps *Policies) unload(r *record) error {
	old := r.inst
	if err := ps.hooks.Remove(old.inst); err != nil {
		return err
	}
	r.inst = nil
	delete(ps.idUsed, old.id)
	ps.dropWorkloads(old.workloads)
	if old.scope != nil {
		return ps.scopes.Set(old.id, nil)
	}
	return nil
}

// SetMode switches a loaded policy between enforce and monitor.
func (ps *Policies) SetMode(name string, mode int) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.byName[name]
	if r == nil || r.state != StateLoaded {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	if err := ps.hooks.SetMode(r.inst.id, mode); err != nil {
		return err
	}
	r.mode = mode
	ps.persist(r)
	return nil
}

// Disable takes a loaded policy out of the kernel and keeps it listed.
func (ps *Policies) Disable(name string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.byName[name]
	if r == nil || r.state != StateLoaded {
		return fmt.Errorf("policy %q is not loaded", name)
	}
	st := ps.stats(name, r.inst.inst)
	if err := ps.unload(r); err != nil {
		return err
	}
	r.carried = r.carried.add(st)
	r.state, r.err = StateDisabled, nil
	ps.persist(r)
	return nil
}

// Enable puts a disabled policy back in the kernel, for an API caller of
// role. The guardrails judge it again, as they stand now: one they refuse
// stays disabled; one that does not load is in error.
func (ps *Policies) Enable(name, role string) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	r := ps.byName[name]
	if r == nil || r.state != StateDisabled {
		return fmt.Errorf("policy %q is not disabled", name)
	}
	if err := ps.check(r.doc, r.source, role); err != nil {
		return err
	}
	r.state = StateError
	err := ps.install(r, r.doc, role)
	ps.note(r, r.doc, err)
	if err != nil {
		ps.unpersist(r)
	}
	return err
}

// FromSource lists the names of the policies from source, in any state.
func (ps *Policies) FromSource(source string) []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []string
	for name, r := range ps.byName {
		if r.source == source {
			out = append(out, name)
		}
	}
	return out
}

// Sources lists every source that has a policy.
func (ps *Policies) Sources() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, r := range ps.byName {
		if !seen[r.source] {
			seen[r.source] = true
			out = append(out, r.source)
		}
	}
	return out
}

// Hook is the metadata of hook id, nil when no policy has had it.
func (ps *Policies) Hook(id uint32) *compile.Hook {
	ps.metaMu.RLock()
	defer ps.metaMu.RUnlock()
	return ps.metas[id]
}

// SyncSource makes the policies from source exactly docs: applies each,
// and removes those that source no longer holds. Failures are logged with
// the source and reason, and do not affect other policies.
func (ps *Policies) SyncSource(source string, docs []policy.Policy) {
	keep := map[string]bool{}
	for _, p := range docs {
		keep[compile.QualifiedName(p)] = true
		if err := ps.Apply(source, p); err != nil {
			LogError(source, p.GetName(), err)
			continue
		}
		logrus.WithFields(logrus.Fields{"policy": p.GetName(), "source": source}).Info("policy loaded")
	}
	for _, name := range ps.FromSource(source) {
		if !keep[name] {
			if err := ps.Remove(name); err != nil {
				LogError(source, name, err)
			}
			logrus.WithFields(logrus.Fields{"policy": name, "source": source}).Info("policy removed")
		}
	}
}

// LogError logs why a policy from source did not load or leave.
func LogError(source, name string, err error) {
	var u *compile.UnsupportedError
	f := logrus.Fields{"policy": name, "source": source}
	if errors.As(err, &u) {
		f["path"] = u.Path
	}
	logrus.WithFields(f).WithError(err).Error("policy not loaded")
}
