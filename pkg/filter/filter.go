// Package filter decides which events leave the agent and what they show:
// allow and deny lists, field filters, redaction and an export rate limit.
//
// The options and their JSON are Tetragon's (--export-allowlist,
// --export-denylist, --field-filters, --redaction-filters,
// --export-rate-limit): each list is JSON objects, one per line. Anything
// Vigil does not implement is refused by name rather than ignored.
// lost_events and rate_limit_info records always pass, untouched: a loss is
// never silent.
package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/vigil-sec/vigil/pkg/event"
)

// Filter is one line of an allow or deny list: an event matches when it
// matches every field the line sets.
type Filter struct {
	preds []predicate
}

// predicate is one field of a filter.
type predicate func(s *subject) bool

// Match reports whether ev matches every field of f. An event without a
// process (lost_events, rate_limit_info) matches no process field.
func (f *Filter) Match(ev *event.Event) bool {
	s := subjectOf(ev)
	return f.match(&s)
}

func (f *Filter) match(s *subject) bool {
	for _, p := range f.preds {
		if !p(s) {
			return false
		}
	}
	return true
}

// matchAny reports whether one of fs matches s.
func matchAny(fs []*Filter, s *subject) bool {
	for _, f := range fs {
		if f.match(s) {
			return true
		}
	}
	return false
}

// ParseFilters parses an allow or deny list: JSON objects, one per line
// (blank lines are skipped), each a filter whose fields are ANDed; an event
// matches the list when it matches one of its filters. Errors name the line,
// the field and the reason.
//
// Fields, all lists whose elements are ORed:
//
//   - event_set: PROCESS_EXEC, PROCESS_EXIT, PROCESS_KPROBE,
//     PROCESS_TRACEPOINT, PROCESS_UPROBE, PROCESS_LSM
//   - binary_regex, parent_binary_regex: RE2 on process.binary,
//     parent.binary
//   - arguments_regex, parent_arguments_regex: RE2 on process.arguments,
//     parent.arguments
//   - namespace: process.pod.namespace; "" matches processes outside pods
//   - pod_regex, container_name_regex: RE2 on process.pod.name,
//     process.pod.container.name; never match a process outside pods
//   - container_id: RE2 on process.docker; never matches a process
//     outside containers
//   - labels: Kubernetes label selectors ("app=web,tier!=db") on
//     process.pod.pod_labels; never matches a process outside pods
//   - pid: process.pid
//   - pid_set: the pid and its descendants: process.pid, parent.pid or the
//     pid of an ancestor in the event. Only ancestors the event carries
//     count (all of them with --enable-ancestors, else only the parent),
//     where Tetragon looks further up its process cache.
//   - policy_names: the policy_name of a policy event
func ParseFilters(s string) ([]*Filter, error) {
	return parseFilters(s, &budget{})
}

// parseFilters parses a list, spending what its filters cost from b.
func parseFilters(s string, b *budget) ([]*Filter, error) {
	var fs []*Filter
	err := eachObject(s, func(obj []member) error {
		f, err := parseFilterWithin(obj, b)
		fs = append(fs, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fs, nil
}

func parseFilter(obj []member) (*Filter, error) {
	return parseFilterWithin(obj, &budget{})
}

// parseFilterWithin parses one filter, spending its cost from b.
func parseFilterWithin(obj []member, b *budget) (*Filter, error) {
	if len(obj) == 0 {
		return nil, errors.New("no fields: the filter would match every event")
	}
	if err := b.spend(1); err != nil {
		return nil, err
	}
	f := &Filter{}
	for _, m := range obj {
		build, ok := filterFields[m.key]
		if !ok {
			return nil, unknownField(m.key)
		}
		p, err := build(m.val, b)
		if err != nil {
			return nil, fieldErr(m.key, err)
		}
		f.preds = append(f.preds, p)
	}
	return f, nil
}

// notImplemented are Tetragon's filter fields Vigil does not implement.
var notImplemented = []string{"health_check", "capabilities", "cel_expression",
	"in_init_tree", "ancestor_binary_regex"}

func unknownField(key string) error {
	if slices.Contains(notImplemented, key) {
		return fmt.Errorf("%s: Tetragon's filter field is not implemented by Vigil", key)
	}
	return fmt.Errorf("%s: unknown field", key)
}

// filterFields builds each field's predicate from its JSON value,
// spending its cost from the budget.
var filterFields = map[string]func(json.RawMessage, *budget) (predicate, error){
	"event_set":              eventSet,
	"binary_regex":           regexOn(func(s *subject) *string { return field(s.proc, binaryOf) }),
	"parent_binary_regex":    regexOn(func(s *subject) *string { return field(s.parent, binaryOf) }),
	"arguments_regex":        regexOn(func(s *subject) *string { return field(s.proc, argumentsOf) }),
	"parent_arguments_regex": regexOn(func(s *subject) *string { return field(s.parent, argumentsOf) }),
	"container_id":           regexOn(func(s *subject) *string { return field(s.proc, dockerOf) }),
	"pod_regex":              regexOn(podName),
	"container_name_regex":   regexOn(containerName),
	"namespace":              namespace,
	"labels":                 labelSelectors,
	"pid":                    pid,
	"pid_set":                pidSet,
	"policy_names":           policyNames,
}

func eventSet(raw json.RawMessage, b *budget) (predicate, error) {
	set, err := decodeKinds(raw)
	if err == nil {
		err = b.spend(1) // a bit test
	}
	return func(s *subject) bool { return set.has(s.kind) }, err
}

// regexOn matches regular expressions on the string get returns; nil (no
// such string in the event) never matches.
func regexOn(get func(s *subject) *string) func(json.RawMessage, *budget) (predicate, error) {
	return func(raw json.RawMessage, b *budget) (predicate, error) {
		res, err := decodeRegexpsWithin(raw, b)
		return func(s *subject) bool {
			v := get(s)
			return v != nil && anyMatch(res, *v)
		}, err
	}
}

// field returns a string field of p, or nil without p.
func field(p *event.Process, get func(*event.Process) *string) *string {
	if p == nil {
		return nil
	}
	return get(p)
}

func binaryOf(p *event.Process) *string    { return &p.Binary }
func argumentsOf(p *event.Process) *string { return &p.Arguments }

// dockerOf returns the container id; a process outside containers has none.
func dockerOf(p *event.Process) *string {
	if p.Docker == "" {
		return nil
	}
	return &p.Docker
}

func podOf(s *subject) *event.Pod {
	if s.proc == nil {
		return nil
	}
	return s.proc.Pod
}

func podName(s *subject) *string {
	if pod := podOf(s); pod != nil {
		return &pod.Name
	}
	return nil
}

func containerName(s *subject) *string {
	if pod := podOf(s); pod != nil && pod.Container != nil {
		return &pod.Container.Name
	}
	return nil
}

func namespace(raw json.RawMessage, b *budget) (predicate, error) {
	names, err := decodeListWithin[string](raw, "namespaces (strings)", b)
	return func(s *subject) bool {
		if s.proc == nil {
			return false
		}
		ns := ""
		if pod := podOf(s); pod != nil {
			ns = pod.Namespace
		}
		return slices.Contains(names, ns)
	}, err
}

func labelSelectors(raw json.RawMessage, b *budget) (predicate, error) {
	exprs, err := decodeList[string](raw, "label selectors (strings)")
	if err != nil {
		return nil, err
	}
	sels := make([]labels.Selector, len(exprs))
	for i, e := range exprs {
		if sels[i], err = labels.Parse(e); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		reqs, _ := sels[i].Requirements()
		if err := b.spend(1 + len(reqs)); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return func(s *subject) bool {
		pod := podOf(s)
		if pod == nil {
			return false
		}
		set := labels.Set(pod.PodLabels)
		return slices.ContainsFunc(sels, func(sel labels.Selector) bool { return sel.Matches(set) })
	}, nil
}

func pid(raw json.RawMessage, b *budget) (predicate, error) {
	pids, err := decodeListWithin[uint32](raw, "pids (numbers)", b)
	return func(s *subject) bool {
		return s.proc != nil && slices.Contains(pids, s.proc.Pid)
	}, err
}

func pidSet(raw json.RawMessage, b *budget) (predicate, error) {
	pids, err := decodeListWithin[uint32](raw, "pids (numbers)", b)
	in := func(p *event.Process) bool { return p != nil && slices.Contains(pids, p.Pid) }
	return func(s *subject) bool {
		return in(s.proc) || in(s.parent) || slices.ContainsFunc(s.ancestors, in)
	}, err
}

func policyNames(raw json.RawMessage, b *budget) (predicate, error) {
	names, err := decodeListWithin[string](raw, "policy names (strings)", b)
	return func(s *subject) bool {
		return s.policy != "" && slices.Contains(names, s.policy)
	}, err
}
