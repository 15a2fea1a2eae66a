package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/process"
)

// redacted replaces what a redaction's capture groups match.
const redacted = "*****"

// redaction is one line of --redaction-filters. Vigil's events carry no
// environment variables, so only arguments are redacted: those of the
// process, its parent and ancestors, and the string arguments of policy
// events.
type redaction struct {
	match  []*Filter        // the events it applies to; none: all
	binary []*regexp.Regexp // the processes it applies to; none: all
	redact []*regexp.Regexp
}

// parseRedactions parses Tetragon's --redaction-filters, one JSON object
// per line: {"redact": ["--password(?:\\s+|=)(\\S*)"], "binary_regex":
// [...], "match": [filter, ...]}. Tetragon deprecated match; Vigil takes
// it, as a filter or a list of filters, to restrict a redaction to the
// events that match one of them.
func parseRedactions(s string) ([]*redaction, error) {
	var rs []*redaction
	err := eachObject(s, func(obj []member) error {
		r, err := parseRedaction(obj)
		rs = append(rs, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

func parseRedaction(obj []member) (*redaction, error) {
	r := &redaction{}
	for _, m := range obj {
		var err error
		switch m.key {
		case "redact":
			r.redact, err = decodeRedact(m.val)
		case "binary_regex":
			r.binary, err = decodeRegexps(m.val)
		case "match":
			r.match, err = decodeMatch(m.val)
		default:
			return nil, fmt.Errorf("%s: unknown field", m.key)
		}
		if err != nil {
			return nil, fieldErr(m.key, err)
		}
	}
	if r.redact == nil {
		return nil, errors.New("redact: missing: regular expressions whose capture groups are redacted")
	}
	return r, nil
}

func decodeRedact(raw json.RawMessage) ([]*regexp.Regexp, error) {
	res, err := decodeRegexps(raw)
	for i, re := range res {
		if re.NumSubexp() == 0 {
			return nil, fmt.Errorf("[%d]: no capture group: nothing would be redacted", i)
		}
	}
	return res, err
}

// decodeMatch decodes one filter or a list of them.
func decodeMatch(raw json.RawMessage) ([]*Filter, error) {
	if raw[0] == '{' {
		obj, err := members(raw)
		if err != nil {
			return nil, err
		}
		f, err := parseFilter(obj)
		return []*Filter{f}, err
	}
	list, err := decodeList[json.RawMessage](raw, "filters (objects)")
	fs := make([]*Filter, len(list))
	for i, item := range list {
		obj, err := members(item)
		if err == nil {
			fs[i], err = parseFilter(obj)
		}
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return fs, err
}

// redactEvent returns ev, or a copy of it with the capture groups of the
// redactions that apply replaced in its arguments. ev and what it points
// to are never changed: processes are shared between events.
func redactEvent(rs []*redaction, ev *event.Event, s subject) *event.Event {
	if len(rs) == 0 {
		return ev // before s's address is taken, which puts it on the heap
	}
	return redactWith(rs, ev, s)
}

func redactWith(rs []*redaction, ev *event.Event, s subject) *event.Event {
	rules := applicable(rs, &s)
	if len(rules) == 0 {
		return ev
	}
	out := s
	var changed [4]bool
	out.proc, changed[0] = redactProcess(rules, s.proc)
	out.parent, changed[1] = redactProcess(rules, s.parent)
	out.ancestors, changed[2] = redactProcesses(rules, s.ancestors)
	out.args, changed[3] = redactArgs(rules, s.proc, s.args)
	if changed == [4]bool{} {
		return ev
	}
	return withProcesses(ev, out)
}

// applicable returns the redactions whose match filters s matches.
func applicable(rs []*redaction, s *subject) []*redaction {
	for i, r := range rs {
		if r.match != nil && !matchAny(r.match, s) {
			return keepMatching(rs[:i:i], rs[i+1:], s)
		}
	}
	return rs
}

func keepMatching(kept, rest []*redaction, s *subject) []*redaction {
	for _, r := range rest {
		if r.match == nil || matchAny(r.match, s) {
			kept = append(kept, r)
		}
	}
	return kept
}

func redactProcess(rules []*redaction, p *event.Process) (*event.Process, bool) {
	if p == nil {
		return p, false
	}
	args, changed := redactArguments(rules, p.Binary, p.Arguments)
	if !changed {
		return p, false
	}
	cp := *p
	cp.Arguments = args
	return &cp, true
}

func redactProcesses(rules []*redaction, ps []*event.Process) ([]*event.Process, bool) {
	var out []*event.Process
	for i, p := range ps {
		rp, changed := redactProcess(rules, p)
		if changed && out == nil {
			out = append(make([]*event.Process, 0, len(ps)), ps[:i]...)
		}
		if out != nil {
			out = append(out, rp)
		}
	}
	if out == nil {
		return ps, false
	}
	return out, true
}

// redactArgs redacts the string arguments of a policy event of proc.
func redactArgs(rules []*redaction, proc *event.Process, args []*event.Argument) ([]*event.Argument, bool) {
	binary := ""
	if proc != nil {
		binary = proc.Binary
	}
	var out []*event.Argument
	for i, a := range args {
		ra := redactArg(rules, binary, a)
		if ra != a && out == nil {
			out = append(make([]*event.Argument, 0, len(args)), args[:i]...)
		}
		if out != nil {
			out = append(out, ra)
		}
	}
	if out == nil {
		return args, false
	}
	return out, true
}

func redactArg(rules []*redaction, binary string, a *event.Argument) *event.Argument {
	if a == nil || a.StringArg == nil {
		return a
	}
	v, changed := redactString(rules, binary, *a.StringArg)
	if !changed {
		return a
	}
	cp := *a
	cp.StringArg = &v
	return &cp
}

// redactString applies the redactions that apply to binary to s. The
// binary is looked at only once a redaction finds something to hide: most
// strings hold no secret, and most binaries are not restricted.
func redactString(rules []*redaction, binary, s string) (string, bool) {
	changed := false
	for _, r := range rules {
		for _, re := range r.redact {
			matches := re.FindAllStringSubmatchIndex(s, -1)
			if matches == nil {
				continue
			}
			if r.binary != nil && !anyMatch(r.binary, binary) {
				break
			}
			var c bool
			s, c = replaceCaptures(s, matches)
			changed = changed || c
		}
	}
	return s, changed
}

// redactArguments redacts a process' arguments argument by argument: the
// expressions see the arguments unquoted, joined by single spaces, and a
// capture that begins a value (beginsValue) hides the rest of the argument
// it ends in (in --password "my secret phrase", "--password(?:\s+|=)(\S*)"
// captures "my", which begins the second argument: all of it is hidden);
// then the arguments are quoted again. On the quoted string, the capture
// was "my and secret phrase" was left. A capture inside an argument
// otherwise hides only itself: bash -c "app --password x --verbose" keeps
// --verbose.
func redactArguments(rules []*redaction, binary, s string) (string, bool) {
	argv := process.SplitArgs(s)
	changed := false
	for _, r := range rules {
		for _, re := range r.redact {
			joined, starts := joinArgv(argv)
			matches := re.FindAllStringSubmatchIndex(joined, -1)
			if matches == nil {
				continue
			}
			if r.binary != nil && !anyMatch(r.binary, binary) {
				break
			}
			var c bool
			argv, c = redactArgv(argv, joined, starts, matches)
			changed = changed || c
		}
	}
	if !changed {
		return s, false
	}
	return process.JoinArgs(argv), true
}

// joinArgv joins argv with single spaces, and returns where each argument
// starts.
func joinArgv(argv []string) (string, []int) {
	starts := make([]int, len(argv))
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		starts[i] = b.Len()
		b.WriteString(a)
	}
	return b.String(), starts
}

// redactArgv replaces the capture groups of matches in joined (argv joined
// by joinArgv), a capture that begins an argument up to the end of the
// argument it ends in, and splits the result into arguments again; a
// replacement across a space joins the arguments on both sides.
func redactArgv(argv []string, joined string, starts []int, matches [][]int) ([]string, bool) {
	spans := captureSpans(argv, starts, matches)
	if len(spans) == 0 {
		return argv, false
	}
	out := make([]string, 0, len(argv))
	var cur strings.Builder
	next := 1 // the argument whose separator comes next
	for p, k := 0, 0; p < len(joined); {
		for next < len(starts) && starts[next]-1 < p {
			next++
		}
		switch {
		case k < len(spans) && p == spans[k][0]:
			cur.WriteString(redacted)
			p, k = spans[k][1], k+1
		case next < len(starts) && p == starts[next]-1:
			out = append(out, cur.String())
			cur.Reset()
			p++
		default:
			cur.WriteByte(joined[p])
			p++
		}
	}
	return append(out, cur.String()), true
}

// captureSpans returns the spans of joined to replace, in order, without
// overlaps: the non-empty capture groups of matches, each one that begins
// a value (beginsValue) extended to the end of the argument it ends in.
func captureSpans(argv []string, starts []int, matches [][]int) [][2]int {
	var spans [][2]int
	last := 0
	for _, m := range matches {
		for g := 2; g < len(m); g += 2 {
			start, end := m[g], m[g+1]
			if start < last || start == end {
				continue
			}
			if beginsValue(argv, starts, start) {
				j, _ := slices.BinarySearch(starts, end)
				j-- // the argument the capture ends in
				end = max(end, starts[j]+len(argv[j]))
			}
			spans = append(spans, [2]int{start, end})
			last = end
		}
	}
	return spans
}

// beginsValue tells whether the argument at joined offset off is a value:
// it begins an argument, or follows the first '=' of an argument that
// begins with '-' (--password=VALUE: the rest of the argument).
func beginsValue(argv []string, starts []int, off int) bool {
	i, found := slices.BinarySearch(starts, off)
	if found {
		return true
	}
	i-- // the argument off is in
	a := argv[i]
	return strings.HasPrefix(a, "-") && strings.IndexByte(a, '=') == off-starts[i]-1
}

// redactCaptures replaces what the capture groups of re match in s.
func redactCaptures(re *regexp.Regexp, s string) (string, bool) {
	return replaceCaptures(s, re.FindAllStringSubmatchIndex(s, -1))
}

// replaceCaptures replaces the capture groups of matches in s. A group
// inside one already replaced, and a group that matched nothing, are left.
func replaceCaptures(s string, matches [][]int) (string, bool) {
	var b strings.Builder
	last := 0
	for _, m := range matches {
		for g := 2; g < len(m); g += 2 {
			start, end := m[g], m[g+1]
			if start < last || start == end {
				continue
			}
			b.WriteString(s[last:start])
			b.WriteString(redacted)
			last = end
		}
	}
	if last == 0 {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}
