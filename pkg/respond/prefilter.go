package respond

import (
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/vigil-sec/vigil/pkg/event"
)

// anyPolicy in a match entry stands for every policy, and events without
// one (process_exec, process_exit).
const anyPolicy = "*"

// alertTypes are the event types a match entry may name.
var alertTypes = []string{"process_kprobe", "process_lsm", "process_uprobe", "process_usdt", "process_tracepoint",
	"process_exec", "process_exit"}

// prefilter holds, per event type, the policies some rule wants.
type prefilter map[string]map[string]bool

// wants says whether any rule may respond to ev.
func (p prefilter) wants(ev *event.Event) bool {
	k := ev.Kind()
	pols := p[k.Type]
	return pols != nil && (pols[anyPolicy] || k.Policy != "" && pols[k.Policy])
}

// evalMatch evaluates data.vigil.responses.match, without input, into
// the prefilter.
func evalMatch(ctx context.Context, c *ast.Compiler) (prefilter, error) {
	rs, err := rego.New(rego.Compiler(c), rego.Query(matchQuery)).Eval(ctx)
	if err != nil {
		return nil, err
	}
	p := prefilter{}
	if len(rs) == 0 {
		return p, nil
	}
	entries, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a set of objects, not %T", matchQuery, rs[0].Expressions[0].Value)
	}
	for _, e := range entries {
		if err := p.add(e); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p prefilter) add(entry any) error {
	m, _ := entry.(map[string]any)
	typ, _ := m["type"].(string)
	policy, _ := m["policy"].(string)
	if m == nil || len(m) != 2 || policy == "" || !slices.Contains(alertTypes, typ) {
		return fmt.Errorf(`%s: entry %v: want {"type": one of %v, "policy": a name or "*"}`, matchQuery, entry, alertTypes)
	}
	if p[typ] == nil {
		p[typ] = map[string]bool{}
	}
	p[typ][policy] = true
	return nil
}
