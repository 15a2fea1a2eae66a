package policy

import (
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// validator checks the semantics of one decoded document.
type validator struct {
	*collector
	spec  *TracingPolicySpec
	lists map[string]*ListSpec
}

var (
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	identifier   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	kernelSymbol = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
	listName     = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

// validate checks a decoded document; namespaced is true for kind
// TracingPolicyNamespaced.
func (c *collector) validate(tp *TracingPolicy, namespaced bool) {
	v := &validator{collector: c, spec: &tp.Spec, lists: map[string]*ListSpec{}}
	v.metadata(&tp.ObjectMeta, namespaced)
	v.validateSpec(namespaced)
}

func (v *validator) metadata(m *ObjectMeta, namespaced bool) {
	p := path("metadata")
	if len(m.Name) > 253 || !dnsSubdomain.MatchString(m.Name) {
		v.errorf(p.child("name"), "%q is not a valid name (lower-case letters, digits, '-' and '.', at most 253 characters)", m.Name)
	}
	switch {
	case namespaced && m.Namespace == "":
		v.errorf(p.child("namespace"), "required for kind TracingPolicyNamespaced (outside a cluster there is no current namespace to default to)")
	case namespaced && (len(m.Namespace) > 63 || !dnsLabel.MatchString(m.Namespace)):
		v.errorf(p.child("namespace"), "%q is not a valid namespace name (lower-case letters, digits and '-', at most 63 characters)", m.Namespace)
	case !namespaced && m.Namespace != "":
		v.errorf(p.child("namespace"), "a TracingPolicy is cluster-scoped and has no namespace (use kind TracingPolicyNamespaced)")
	}
}

func (v *validator) validateSpec(namespaced bool) {
	s, p := v.spec, path("spec")
	v.validateLists(p.child("lists"))
	if len(s.KProbes)+len(s.Fentries)+len(s.Tracepoints)+len(s.UProbes)+len(s.Usdts)+len(s.LsmHooks) == 0 && !s.Loader {
		v.errorf(p, "the policy does nothing: it has no kprobes, fentries, tracepoints, uprobes, usdts or lsmhooks, and loader is not set")
	}
	v.validateHooks(p)
	v.validateEnforcers(p.child("enforcers"))
	v.validateOptions(p.child("options"))
	v.validateMacros(p.child("selectorsMacros"))
	v.validateScopes(p, namespaced)
}

// enum checks that got is one of valid; what names the kind of value.
func (v *validator) enum(p path, what, got string, valid []string) bool {
	if slices.Contains(valid, got) {
		return true
	}
	v.errorf(p, "unknown %s %q%s", what, got, hint(got, valid))
	return false
}

// limit checks that a count n of things (what) is at most max per unit.
func (v *validator) limit(p path, n, max int, what, per string) bool {
	if n > max {
		v.errorf(p, "%d %s exceed the limit of %d per %s", n, what, max, per)
		return false
	}
	return true
}

// valueCount checks that the filter at p with operator op has values, and
// not more than MaxValuesPerSet.
func (v *validator) valueCount(p path, op string, n int) bool {
	if n == 0 {
		v.errorf(p, "operator %s needs at least one value", op)
		return false
	}
	return v.limit(p.child("values"), n, MaxValuesPerSet, "values", "set")
}

// listRef checks a "list:NAME" reference.
func (v *validator) listRef(p path, ref string) {
	name := strings.TrimPrefix(ref, "list:")
	if _, ok := v.lists[name]; ok {
		return
	}
	if len(v.lists) == 0 {
		v.errorf(p, "list %q is not defined: spec.lists is empty", name)
		return
	}
	v.errorf(p, "list %q is not defined in spec.lists%s", name, didYouMean(name, sortedKeys(v.lists)))
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) validateLists(p path) {
	for i := range v.spec.Lists {
		l, q := &v.spec.Lists[i], p.at(i)
		if !listName.MatchString(l.Name) {
			v.errorf(q.child("name"), "%q is not a valid list name (letters, digits, '_' and '-')", l.Name)
		} else if _, dup := v.lists[l.Name]; dup {
			v.errorf(q.child("name"), "duplicate list name %q", l.Name)
		}
		v.lists[l.Name] = l
		v.listContent(l, q)
	}
}

func (v *validator) listContent(l *ListSpec, p path) {
	if l.Type != "" && !v.enum(p.child("type"), "list type", l.Type, listTypes) {
		return
	}
	generated := strings.HasPrefix(l.Type, "generated_")
	switch {
	case generated && len(l.Values) > 0:
		v.errorf(p.child("values"), "a %s list takes no values: they are generated", l.Type)
	case !generated && len(l.Values) == 0:
		v.errorf(p, "the list has no values")
	}
	v.limit(p.child("values"), len(l.Values), MaxValuesPerSet, "values", "list")
	for j, s := range l.Values {
		if !kernelSymbol.MatchString(s) {
			v.errorf(p.child("values").at(j), "%q is not a function or syscall name", s)
		}
	}
	v.listPattern(l, p)
}

func (v *validator) listPattern(l *ListSpec, p path) {
	switch {
	case l.Type == "generated_ftrace" && l.Pattern == nil:
		v.errorf(p, "a generated_ftrace list needs a pattern")
	case l.Type != "generated_ftrace" && l.Pattern != nil:
		v.errorf(p.child("pattern"), "pattern applies only to generated_ftrace lists")
	case l.Pattern != nil:
		if _, err := regexp.Compile(*l.Pattern); err != nil {
			v.errorf(p.child("pattern"), "invalid regular expression: %v", err)
		}
	}
}

// symbolOrList checks a function name or "list:NAME" reference.
func (v *validator) symbolOrList(p path, s string) {
	switch {
	case strings.HasPrefix(s, "list:"):
		v.listRef(p, s)
	case !kernelSymbol.MatchString(s):
		v.errorf(p, "%q is not a kernel function name", s)
	}
}

func (v *validator) validateEnforcers(p path) {
	for i, e := range v.spec.Enforcers {
		q := p.at(i)
		if len(e.Calls) == 0 {
			v.errorf(q, "the enforcer has no calls")
		}
		for j, call := range e.Calls {
			v.symbolOrList(q.child("calls").at(j), call)
		}
	}
}

func (v *validator) validateOptions(p path) {
	seen := map[string]bool{}
	for i, o := range v.spec.Options {
		q := p.at(i)
		if !v.enum(q.child("name"), "option", o.Name, optionNames) {
			continue
		}
		if seen[o.Name] {
			v.errorf(q.child("name"), "duplicate option %q", o.Name)
		}
		seen[o.Name] = true
		v.optionValue(o, q.child("value"))
	}
}

func (v *validator) optionValue(o OptionSpec, p path) {
	if o.Name == "policy-mode" {
		v.enum(p, "policy mode", o.Value, policyModes)
		return
	}
	if _, err := strconv.ParseBool(o.Value); err != nil {
		v.errorf(p, "%q is not a boolean (use \"true\" or \"false\")", o.Value)
	}
}

func (v *validator) validateMacros(p path) {
	for _, name := range sortedKeys(v.spec.SelectorsMacros) {
		sel := v.spec.SelectorsMacros[name]
		v.selector(&hook{generic: true}, &sel, p.key(name))
	}
}

// validateScopes checks the pod, container, host and node selectors.
func (v *validator) validateScopes(p path, namespaced bool) {
	s := v.spec
	v.labelSelector(s.PodSelector, p.child("podSelector"))
	v.labelSelector(s.ContainerSelector, p.child("containerSelector"))
	v.containerKeys(s.ContainerSelector, p.child("containerSelector"))
	v.labelSelector(s.NodeSelector, p.child("nodeSelector"))
	switch {
	case s.HostSelector == nil:
	case namespaced:
		v.errorf(p.child("hostSelector"), "a TracingPolicyNamespaced applies to pods only and cannot have a hostSelector")
	case len(s.HostSelector.MatchLabels) > 0 || len(s.HostSelector.MatchExpressions) > 0:
		v.errorf(p.child("hostSelector"), "hostSelector must be null (no host processes) or {} (all host processes)")
	}
}

func (v *validator) labelSelector(s *LabelSelector, p path) {
	if s == nil {
		return
	}
	for i, e := range s.MatchExpressions {
		q := p.child("matchExpressions").at(i)
		if e.Key == "" {
			v.errorf(q.child("key"), "must not be empty")
		}
		if !v.enum(q.child("operator"), "operator", e.Operator, labelOperators) {
			continue
		}
		withValues := e.Operator == "In" || e.Operator == "NotIn"
		if withValues && len(e.Values) == 0 {
			v.errorf(q, "operator %s needs at least one value", e.Operator)
		} else if !withValues && len(e.Values) > 0 {
			v.errorf(q.child("values"), "operator %s takes no values", e.Operator)
		}
	}
}

// containerKeys checks that containers are selected by name only.
func (v *validator) containerKeys(s *LabelSelector, p path) {
	if s == nil {
		return
	}
	for _, k := range sortedKeys(s.MatchLabels) {
		if k != "name" {
			v.errorf(p.child("matchLabels").key(k), "unsupported key %q: containers can only be selected by \"name\"", k)
		}
	}
	for i, e := range s.MatchExpressions {
		if e.Key != "name" {
			v.errorf(p.child("matchExpressions").at(i).child("key"), "unsupported key %q: containers can only be selected by \"name\"", e.Key)
		}
	}
}
