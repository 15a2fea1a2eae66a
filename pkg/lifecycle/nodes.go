package lifecycle

import (
	"maps"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// SetNodeLabels gives the node's labels, as the API server has them, and
// loads or unloads each policy whose spec.nodeSelector now matches or no
// longer does, as Tetragon does. Until the first call, such policies wait
// out of the kernel (StateNotSelected).
func (ps *Policies) SetNodeLabels(l map[string]string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.node != nil && maps.Equal(ps.node, l) {
		return
	}
	ps.node = maps.Clone(l)
	if ps.node == nil {
		ps.node = map[string]string{}
	}
	for _, r := range ps.byName {
		if r.doc == nil || r.doc.GetSpec().NodeSelector == nil || (r.state != StateLoaded && r.state != StateNotSelected) {
			continue
		}
		here, err := ps.selected(r.doc)
		switch {
		case err == nil && !here && r.state == StateLoaded:
			err = ps.deselect(r, r.doc, r.role)
		case err == nil && here && r.state == StateNotSelected:
			r.state = StateError
			err = ps.install(r, r.doc, r.role)
			ps.note(r, r.doc, err)
		}
		if err != nil {
			LogError(r.source, r.name, err)
		}
	}
}

// selected says whether p is for this node: it has no spec.nodeSelector,
// or the node's labels are known and match it. Where the agent cannot know
// them (compile.Target.Nodes), it lets Compile refuse the policy.
func (ps *Policies) selected(p policy.Policy) (bool, error) {
	sel := p.GetSpec().NodeSelector
	if sel == nil || !ps.target.Nodes {
		return true, nil // without the node's labels, Compile refuses it
	}
	if ps.node == nil {
		return false, nil
	}
	s, err := sel.Selector()
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(ps.node)), nil
}

// deselect keeps p as r's version out of the kernel: the node is not one
// its spec.nodeSelector selects (or not known yet).
func (ps *Policies) deselect(r *record, p policy.Policy, role string) error {
	if r.state == StateLoaded {
		st := ps.stats(r.name, r.inst.inst)
		if err := ps.unload(r); err != nil {
			return err
		}
		r.carried = r.carried.add(st)
	}
	r.state, r.doc, r.role, r.err = StateNotSelected, p, role, nil
	ps.byName[r.name] = r
	ps.persist(r)
	logrus.WithFields(logrus.Fields{"policy": r.name, "source": r.source}).Info("not loaded: this node is not one its nodeSelector selects")
	return nil
}
