package guard

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// document is the input of guardrails; the package doc describes it.
type document struct {
	Policy     policyDoc `json:"policy"`
	Source     string    `json:"source"`
	Role       string    `json:"role"`
	Enforces   bool      `json:"enforces"`
	Actions    []string  `json:"actions"`
	Hooks      []hook    `json:"hooks"`
	Scoped     bool      `json:"scoped"`
	Host       bool      `json:"host"`
	Namespaces []string  `json:"namespaces"`
}

type policyDoc struct {
	APIVersion    string                    `json:"apiVersion"`
	Kind          string                    `json:"kind"`
	Name          string                    `json:"name"`
	Namespace     string                    `json:"namespace"`
	QualifiedName string                    `json:"qualifiedName"`
	Labels        map[string]string         `json:"labels"`
	Annotations   map[string]string         `json:"annotations"`
	Spec          *policy.TracingPolicySpec `json:"spec"`
}

type hook struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Path    string   `json:"path,omitempty"`
	Actions []string `json:"actions"`
}

// Input returns the JSON document that guardrails see as input for l.
func Input(l agent.Load) ([]byte, error) {
	return json.Marshal(newDocument(l))
}

func newDocument(l agent.Load) *document {
	p, s := l.Policy, l.Policy.GetSpec()
	_, namespaced := p.(*policy.TracingPolicyNamespaced)
	d := &document{
		Policy:     newPolicyDoc(p),
		Source:     l.Source,
		Role:       l.Role,
		Enforces:   policy.Enforces(p),
		Hooks:      hooksOf(s),
		Scoped:     namespaced || s.PodSelector != nil || s.ContainerSelector != nil,
		Host:       s.HostSelector != nil,
		Namespaces: []string{},
	}
	if namespaced {
		d.Namespaces = append(d.Namespaces, p.GetNamespace())
	}
	d.Actions = allActions(s, d.Hooks)
	return d
}

func newPolicyDoc(p policy.Policy) policyDoc {
	m := policy.ObjectMeta{Name: p.GetName(), Namespace: p.GetNamespace()}
	switch v := p.(type) {
	case *policy.TracingPolicy:
		m = v.ObjectMeta
	case *policy.TracingPolicyNamespaced:
		m = v.ObjectMeta
	}
	return policyDoc{
		APIVersion:    p.GetAPIVersion(),
		Kind:          p.GetKind(),
		Name:          m.Name,
		Namespace:     m.Namespace,
		QualifiedName: compile.QualifiedName(p),
		Labels:        nonNil(m.Labels),
		Annotations:   nonNil(m.Annotations),
		Spec:          p.GetSpec(),
	}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// hooksOf lists the functions s hooks, with the actions of each.
func hooksOf(s *policy.TracingPolicySpec) []hook {
	hs := []hook{}
	add := func(typ, name, path string, sels []policy.KProbeSelector) {
		hs = append(hs, hook{Type: typ, Name: name, Path: path, Actions: hookActions(s, sels)})
	}
	for _, k := range s.KProbes {
		for _, c := range calls(s, k.Call) {
			add("kprobe", c, "", k.Selectors)
		}
	}
	for _, k := range s.Fentries {
		for _, c := range calls(s, k.Call) {
			add("fentry", c, "", k.Selectors)
		}
	}
	for _, t := range s.Tracepoints {
		add("tracepoint", t.Subsystem+"/"+t.Event, "", t.Selectors)
	}
	for _, h := range s.LsmHooks {
		add("lsmhook", h.Hook, "", h.Selectors)
	}
	for _, u := range s.UProbes {
		syms := u.Symbols
		if len(syms) == 0 {
			syms = []string{""} // by offset
		}
		for _, sym := range syms {
			add("uprobe", sym, u.Path, u.Selectors)
		}
	}
	for _, u := range s.Usdts {
		add("usdt", u.Provider+":"+u.Name, u.Path, u.Selectors)
	}
	return hs
}

// calls expands "list:NAME" to the values of that list, when it has any.
func calls(s *policy.TracingPolicySpec, call string) []string {
	name, ok := strings.CutPrefix(call, "list:")
	if !ok {
		return []string{call}
	}
	for _, l := range s.Lists {
		if l.Name == name && len(l.Values) > 0 {
			return l.Values
		}
	}
	return []string{call}
}

// hookActions returns the distinct actions of sels, their macros included.
func hookActions(s *policy.TracingPolicySpec, sels []policy.KProbeSelector) []string {
	set := map[string]bool{}
	for _, sel := range sels {
		addActions(set, sel)
		for _, m := range sel.Macros {
			addActions(set, s.SelectorsMacros[m])
		}
	}
	return sorted(set)
}

// allActions returns the distinct actions of all hooks and macros.
func allActions(s *policy.TracingPolicySpec, hs []hook) []string {
	set := map[string]bool{}
	for _, h := range hs {
		for _, a := range h.Actions {
			set[a] = true
		}
	}
	for _, m := range s.SelectorsMacros {
		addActions(set, m)
	}
	return sorted(set)
}

func addActions(set map[string]bool, sel policy.KProbeSelector) {
	for _, a := range sel.MatchActions {
		set[a.Action] = true
	}
	for _, a := range sel.MatchReturnActions {
		set[a.Action] = true
	}
}

func sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
