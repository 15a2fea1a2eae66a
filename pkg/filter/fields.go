package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/pkg/event"
)

// fieldMask is what the field filters keep of one event type's body:
// only the include fields when include is set, and never the exclude
// fields. node_name and time are outside the body and always stay.
type fieldMask struct {
	include node
	exclude node
}

// node is a tree of dotted field paths; a nil node is a leaf, which
// stands for the whole field.
type node map[string]node

// add puts path into n; a field given whole absorbs its sub-fields.
func (n node) add(path []string) {
	name := path[0]
	child, listed := n[name]
	switch {
	case len(path) == 1:
		n[name] = nil
	case listed && child == nil:
	default:
		if child == nil {
			child = node{}
			n[name] = child
		}
		child.add(path[1:])
	}
}

// fieldFilter is one line of --field-filters.
type fieldFilter struct {
	kinds   kindSet
	paths   [][]string
	include bool
}

// parseFieldFilters parses Tetragon's --field-filters, one JSON object per
// line: {"fields": "process.binary,parent", "event_set": [...], "action":
// "INCLUDE" or "EXCLUDE", "invert_event_set": bool}. It returns the mask
// of each event type, nil where no filter applies. Unlike Tetragon, which
// applies filters one after the other (so that two INCLUDE filters keep
// only what both name), the INCLUDE filters of a type add up and EXCLUDE
// wins over INCLUDE.
func parseFieldFilters(s string) ([numKinds]*fieldMask, error) {
	var masks [numKinds]*fieldMask
	err := eachObject(s, func(obj []member) error {
		ff, err := parseFieldFilter(obj)
		if err == nil {
			ff.addTo(&masks)
		}
		return err
	})
	return masks, err
}

func (ff *fieldFilter) addTo(masks *[numKinds]*fieldMask) {
	for k := range numKinds {
		if !ff.kinds.has(k) {
			continue
		}
		if masks[k] == nil {
			masks[k] = &fieldMask{}
		}
		tree := &masks[k].exclude
		if ff.include {
			tree = &masks[k].include
		}
		if *tree == nil {
			*tree = node{}
		}
		for _, p := range ff.paths {
			tree.add(p)
		}
	}
}

type fieldFilterJSON struct {
	fields, action string
	eventSet       json.RawMessage
	invert         bool
}

func parseFieldFilter(obj []member) (*fieldFilter, error) {
	var j fieldFilterJSON
	for _, m := range obj {
		if err := j.set(m); err != nil {
			return nil, err
		}
	}
	ff := &fieldFilter{kinds: processKinds}
	if err := j.setKinds(ff); err != nil {
		return nil, err
	}
	switch j.action {
	case "INCLUDE", "EXCLUDE":
		ff.include = j.action == "INCLUDE"
	case "":
		return nil, errors.New("action: missing: INCLUDE or EXCLUDE")
	default:
		return nil, fmt.Errorf("action: %q: want INCLUDE or EXCLUDE", j.action)
	}
	var err error
	ff.paths, err = parsePaths(j.fields, ff.kinds)
	return ff, err
}

func (j *fieldFilterJSON) set(m member) error {
	var err error
	switch m.key {
	case "fields":
		err = json.Unmarshal(m.val, &j.fields)
	case "action":
		err = json.Unmarshal(m.val, &j.action)
	case "invert_event_set":
		err = json.Unmarshal(m.val, &j.invert)
	case "event_set":
		j.eventSet = m.val
	case "invert_dir":
		return errors.New("invert_dir: unknown field (Tetragon's name is invert_event_set)")
	default:
		return fmt.Errorf("%s: unknown field", m.key)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", m.key, wantType(m.key))
	}
	return nil
}

func wantType(key string) string {
	if key == "invert_event_set" {
		return "want true or false"
	}
	return "want a string"
}

func (j *fieldFilterJSON) setKinds(ff *fieldFilter) error {
	if j.eventSet == nil {
		if j.invert {
			return errors.New("invert_event_set: needs an event_set to invert")
		}
		return nil
	}
	set, err := decodeKinds(j.eventSet)
	if err != nil {
		return fieldErr("event_set", err)
	}
	ff.kinds = set
	if j.invert {
		ff.kinds = processKinds &^ set
	}
	if ff.kinds == 0 {
		return errors.New("invert_event_set: event_set lists every event type: none is left")
	}
	return nil
}

// parsePaths splits a comma-separated list of dotted paths, each of which
// must name a field of one of the event types in kinds.
func parsePaths(fields string, kinds kindSet) ([][]string, error) {
	if strings.TrimSpace(fields) == "" {
		return nil, errors.New("fields: missing: a comma-separated list of field paths such as \"process.binary,parent\"")
	}
	var paths [][]string
	for f := range strings.SplitSeq(fields, ",") {
		f = strings.TrimSpace(f)
		path := strings.Split(f, ".")
		if slices.Contains(path, "") || !resolvesIn(kinds, path) {
			return nil, fmt.Errorf("fields: %q: no such field in %s events", f, strings.Join(kindSetNames(kinds), ", "))
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// bodyTypes are the Go types of each event type's body.
var bodyTypes = map[kind]reflect.Type{
	kindExec:       reflect.TypeFor[event.ProcessExec](),
	kindExit:       reflect.TypeFor[event.ProcessExit](),
	kindKprobe:     reflect.TypeFor[event.ProcessKprobe](),
	kindLsm:        reflect.TypeFor[event.ProcessKprobe](),
	kindTracepoint: reflect.TypeFor[event.ProcessTracepoint](),
	kindUprobe:     reflect.TypeFor[event.ProcessUprobe](),
	kindUsdt:       reflect.TypeFor[event.ProcessUsdt](),
	kindLoader:     reflect.TypeFor[event.ProcessLoader](),
}

func resolvesIn(kinds kindSet, path []string) bool {
	for k, t := range bodyTypes {
		if kinds.has(k) && resolves(t, path) {
			return true
		}
	}
	return false
}

// resolves reports whether the JSON encoding of t has the dotted path;
// lists are looked into, maps are not.
func resolves(t reflect.Type, path []string) bool {
	for _, name := range path {
		t = elem(t)
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := jsonField(t, name)
		if !ok {
			return false
		}
		t = f.Type
	}
	return true
}

func elem(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// jsonField finds the field of struct t that encoding/json names name,
// in embedded structs too.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if g, ok := jsonField(elem(f.Type), name); ok {
				return g, true
			}
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
