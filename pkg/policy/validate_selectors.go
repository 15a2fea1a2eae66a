package policy

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

func (v *validator) selector(h *hook, s *KProbeSelector, p path) {
	v.pids(s.MatchPIDs, p.child("matchPIDs"))
	v.argFilters(h, s.MatchArgs, p.child("matchArgs"), h.args)
	dh := *h
	dh.byPosition = true
	v.argFilters(&dh, s.MatchData, p.child("matchData"), h.data)
	v.returnFilters(h, s.MatchReturnArgs, p.child("matchReturnArgs"))
	v.binaries(s.MatchBinaries, p.child("matchBinaries"))
	v.binaries(s.MatchParentBinaries, p.child("matchParentBinaries"))
	v.namespaces(s.MatchNamespaces, p.child("matchNamespaces"))
	v.namespaceChanges(s.MatchNamespaceChanges, p.child("matchNamespaceChanges"))
	v.capabilitySelectors(s.MatchCapabilities, p.child("matchCapabilities"))
	v.capabilitySelectors(s.MatchCapabilityChanges, p.child("matchCapabilityChanges"))
	v.actionList(h, s.MatchActions, p.child("matchActions"))
	v.returnActions(h, s.MatchReturnActions, p.child("matchReturnActions"))
	v.workloads(s.MatchWorkloads, p.child("matchWorkloads"))
	for i, name := range s.Macros {
		if _, ok := v.spec.SelectorsMacros[name]; !ok {
			v.errorf(p.child("macros").at(i), "macro %q is not defined in spec.selectorsMacros%s", name, didYouMean(name, sortedKeys(v.spec.SelectorsMacros)))
		}
	}
}

// workloads checks a selector's matchWorkloads as the spec's selectors of
// the same names.
func (v *validator) workloads(w *WorkloadSelector, p path) {
	if w == nil {
		return
	}
	v.labelSelector(w.PodSelector, p.child("podSelector"))
	v.labelSelector(w.ContainerSelector, p.child("containerSelector"))
	v.containerKeys(w.ContainerSelector, p.child("containerSelector"))
	if h := w.HostSelector; h != nil && (len(h.MatchLabels) > 0 || len(h.MatchExpressions) > 0) {
		v.errorf(p.child("hostSelector"), "hostSelector must be null (no host processes) or {} (all host processes)")
	}
}

func (v *validator) pids(list []PIDSelector, p path) {
	for i, s := range list {
		q := p.at(i)
		if v.enum(q.child("operator"), "operator", s.Operator, inNotIn) {
			v.valueCount(q, s.Operator, len(s.Values))
		}
	}
}

// argFilters checks matchArgs or matchData filters against the declared
// arguments decl.
func (v *validator) argFilters(h *hook, filters []ArgSelector, p path, decl []KProbeArg) {
	v.limit(p, len(filters), MaxArgFilters, "filters", "selector")
	target := *h
	target.args = decl
	for i := range filters {
		f, q := &filters[i], p.at(i)
		if !v.enum(q.child("operator"), "operator", f.Operator, argOperators) {
			continue
		}
		if typ, ok := v.filterTarget(&target, f, q); ok {
			v.argFilter(f, typ, q)
		}
	}
}

// filterTarget returns the type of the argument a filter applies to.
func (v *validator) filterTarget(h *hook, f *ArgSelector, p path) (string, bool) {
	if h.generic {
		return "auto", true
	}
	if len(f.Args) > 0 {
		return v.filterPositions(h, f, p)
	}
	if f.Operator == "CapabilitiesGained" {
		v.errorf(p.child("args"), "operator CapabilitiesGained compares two capability sets: give their positions in args, the old set then the new (for example [0, 1])")
		return "", false
	}
	a := h.lookup(f.Index)
	if a == nil {
		v.errorf(p.child("index"), "%s", h.undeclared(f.Index))
		return "", false
	}
	return argType(a), true
}

// filterPositions resolves a filter's args field: positions in args.
func (v *validator) filterPositions(h *hook, f *ArgSelector, p path) (string, bool) {
	ok := true
	for j, pos := range f.Args {
		if int(pos) >= len(h.args) {
			v.errorf(p.child("args").at(j), "%d is not a position in args: %d are declared", pos, len(h.args))
			ok = false
		}
	}
	if !ok {
		return "", false
	}
	if f.Operator == "CapabilitiesGained" {
		return v.capsGainedTarget(h, f, p)
	}
	if len(f.Args) > 1 {
		v.errorf(p.child("args"), "operator %s applies to one argument, got %d positions (only CapabilitiesGained compares two)", f.Operator, len(f.Args))
		return "", false
	}
	return argType(&h.args[f.Args[0]]), true
}

// capabilitySets are the argument types CapabilitiesGained compares.
var capabilitySets = []string{"kernel_cap_t", "cap_inheritable", "cap_permitted", "cap_effective"}

// capsGainedTarget checks the two positions of CapabilitiesGained: the old
// capability set, then the new.
func (v *validator) capsGainedTarget(h *hook, f *ArgSelector, p path) (string, bool) {
	if len(f.Args) != 2 {
		v.errorf(p.child("args"), "operator CapabilitiesGained compares two capability sets: give their positions in args, the old set then the new (for example [0, 1]), got %d", len(f.Args))
		return "", false
	}
	ok := true
	for j, pos := range f.Args {
		if typ := h.args[pos].Type; !slices.Contains(capabilitySets, typ) {
			v.errorf(p.child("args").at(j), "args[%d] is of type %q: CapabilitiesGained compares capability sets (%s)", pos, typ, strings.Join(capabilitySets, ", "))
			ok = false
		}
	}
	return h.args[f.Args[0]].Type, ok
}

// argType is an argument's type, "auto" when unset or unknown (an unknown
// type is reported where it is declared).
func argType(a *KProbeArg) string {
	if _, ok := argClasses[a.Type]; !ok {
		return "auto"
	}
	return a.Type
}

// argFilter checks that a filter's operator fits the argument type and
// that its values parse.
func (v *validator) argFilter(f *ArgSelector, typ string, p path) {
	cls := argClasses[typ]
	ops := familyOperators[cls.family]
	switch {
	case f.Operator == "CelExpr":
	case cls.family == famOpaque:
		v.errorf(p.child("operator"), "arguments of type %s cannot be filtered", typ)
		return
	case !slices.Contains(ops, f.Operator):
		v.errorf(p.child("operator"), "operator %s does not apply to argument type %s (valid: %s)", f.Operator, typ, strings.Join(ops, ", "))
		return
	}
	if !v.filterValueCount(f, p) {
		return
	}
	check := v.valueChecker(f.Operator, typ, cls)
	for i, val := range f.Values {
		if msg := cmp.Or(unexpanded(val), check(val)); msg != "" {
			v.errorf(p.child("values").at(i), "%s", msg)
		}
	}
}

var privPortOperators = []string{"SPortPriv", "NotSportPriv", "NotSPortPriv", "DPortPriv", "NotDPortPriv"}

// filterValueCount checks how many values the operator takes.
func (v *validator) filterValueCount(f *ArgSelector, p path) bool {
	switch {
	case slices.Contains(privPortOperators, f.Operator):
		if len(f.Values) > 0 {
			v.errorf(p.child("values"), "operator %s takes no values: it matches the privileged ports (below 1024)", f.Operator)
		}
		return false
	case f.Operator == "CapabilitiesGained":
		if len(f.Values) > 0 {
			v.errorf(p.child("values"), "operator CapabilitiesGained takes no values: it matches when the second set has a capability the first lacks")
		}
		return false
	case slices.Contains([]string{"GT", "LT", "GreaterThan", "LessThan"}, f.Operator) && len(f.Values) > 1:
		v.errorf(p.child("values"), "operator %s takes exactly one value, got %d", f.Operator, len(f.Values))
		return false
	}
	return v.valueCount(p, f.Operator, len(f.Values))
}

// returnFilters checks matchReturnArgs against the hook's returnArg.
func (v *validator) returnFilters(h *hook, filters []ArgSelector, p path) {
	if len(filters) == 0 || !v.needsReturn(h, p, "matchReturnArgs") {
		return
	}
	v.limit(p, len(filters), MaxArgFilters, "filters", "selector")
	typ := "auto"
	if h.returnArg != nil {
		typ = argType(h.returnArg)
	}
	for i := range filters {
		f, q := &filters[i], p.at(i)
		if v.enum(q.child("operator"), "operator", f.Operator, argOperators) {
			v.argFilter(f, typ, q)
		}
	}
}

// needsReturn checks that the hook reads a return value, for field.
func (v *validator) needsReturn(h *hook, p path, field string) bool {
	switch {
	case h.generic:
		return true
	case h.kind != "kprobe" && h.kind != "fentry" && h.kind != "uprobe":
		v.errorf(p, "%s is not available on %s: only kprobes, fentries and uprobes have a return value", field, h.phrase())
	case !h.ret:
		v.errorf(p, "%s needs return: true on the hook", field)
	default:
		return true
	}
	return false
}

func (v *validator) binaries(list []BinarySelector, p path) {
	v.limit(p, len(list), MaxBinarySelectors, "entries", "selector")
	for i, s := range list {
		q := p.at(i)
		if !v.enum(q.child("operator"), "operator", s.Operator, binaryOperators) || !v.valueCount(q, s.Operator, len(s.Values)) {
			continue
		}
		exact := s.Operator == "In" || s.Operator == "NotIn"
		if s.FollowChildren && !exact {
			v.errorf(q.child("followChildren"), "followChildren needs operator In or NotIn")
		}
		for j, val := range s.Values {
			v.binaryValue(q.child("values").at(j), val, exact)
		}
	}
}

func (v *validator) binaryValue(p path, val string, exact bool) {
	switch {
	case val == "":
		v.errorf(p, "must not be empty")
	case exact && !strings.HasPrefix(val, "/"):
		v.errorf(p, "%q is not an absolute path (In and NotIn compare the full path of the executable)", val)
	case !exact && strings.HasSuffix(val, "\x00"):
		v.errorf(p, "%q ends with a NUL byte, which only an exact match (In, NotIn) can compare", val)
	}
}

func (v *validator) namespaces(list []NamespaceSelector, p path) {
	for i, s := range list {
		q := p.at(i)
		ok := v.enum(q.child("namespace"), "namespace", s.Namespace, NamespaceTypes)
		if !v.enum(q.child("operator"), "operator", s.Operator, inNotIn) || !ok || !v.valueCount(q, s.Operator, len(s.Values)) {
			continue
		}
		for j, val := range s.Values {
			if _, err := strconv.ParseUint(val, 10, 32); err != nil && val != "host_ns" {
				v.errorf(q.child("values").at(j), "%q is not a namespace inode number or \"host_ns\"", val)
			}
		}
	}
}

func (v *validator) namespaceChanges(list []NamespaceChangesSelector, p path) {
	for i, s := range list {
		q := p.at(i)
		if !v.enum(q.child("operator"), "operator", s.Operator, inNotIn) || !v.valueCount(q, s.Operator, len(s.Values)) {
			continue
		}
		for j, val := range s.Values {
			v.enum(q.child("values").at(j), "namespace", val, NamespaceTypes)
		}
	}
}

func (v *validator) capabilitySelectors(list []CapabilitiesSelector, p path) {
	for i, s := range list {
		q := p.at(i)
		if s.Type != "" {
			v.enum(q.child("type"), "capability set", s.Type, capabilityTypes)
		}
		if !v.enum(q.child("operator"), "operator", s.Operator, inNotIn) || !v.valueCount(q, s.Operator, len(s.Values)) {
			continue
		}
		for j, val := range s.Values {
			v.enum(q.child("values").at(j), "capability", val, capabilities)
		}
	}
}
