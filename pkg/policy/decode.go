package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decode fills v from the YAML node n, strictly: fields are matched by
// their json tag, unknown and duplicate fields are errors, a field whose
// tag lacks omitempty is required (the rule CRD generators use), and
// scalars must have the YAML type of the Go field. Null leaves v unset.
func (c *collector) decode(n *yaml.Node, v reflect.Value, p path) {
	if n.Kind == yaml.AliasNode {
		c.aliasDepth++
		defer func() { c.aliasDepth-- }()
		n = n.Alias
	}
	if !c.spend(n, p) {
		return
	}
	c.lines[p] = n.Line
	if isNull(n) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		c.decode(n, v.Elem(), p)
	case reflect.Struct:
		c.decodeStruct(n, v, p)
	case reflect.Slice:
		c.decodeSlice(n, v, p)
	case reflect.Map:
		c.decodeMap(n, v, p)
	default:
		c.decodeScalar(n, v, p)
	}
}

// spend counts a node decoded through an alias against the stream's
// budget, and says whether decoding goes on: nested aliases expand
// exponentially (an alias bomb), so their expansion is bounded, refused
// with the path where the budget ran out.
func (c *collector) spend(n *yaml.Node, p path) bool {
	if c.aliasDepth == 0 {
		return true
	}
	if *c.aliasBudget <= 0 {
		if *c.aliasBudget == 0 {
			c.addAt(n.Line, p, "YAML aliases expand to more than %d values in this file (an alias bomb?): write the values out, or use fewer aliases", MaxAliasedNodes)
			*c.aliasBudget = -1
		}
		return false
	}
	*c.aliasBudget--
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// field is a struct field reachable through its json name.
type field struct {
	name     string
	index    []int
	required bool
}

// fieldsOf lists the json fields of struct type t, flattening fields
// embedded with `json:",inline"`, in declaration order.
func fieldsOf(t reflect.Type) []field {
	var fields []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" && opts == "inline" {
			for _, f := range fieldsOf(sf.Type) {
				f.index = append([]int{i}, f.index...)
				fields = append(fields, f)
			}
			continue
		}
		fields = append(fields, field{name: name, index: []int{i}, required: !strings.Contains(opts, "omitempty")})
	}
	return fields
}

func (c *collector) decodeStruct(n *yaml.Node, v reflect.Value, p path) {
	if n.Kind != yaml.MappingNode {
		c.typeError(n, p, "a mapping")
		return
	}
	fields := fieldsOf(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	present := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if !c.checkKey(key, p, present, names) {
			continue
		}
		f := fields[slices.Index(names, key.Value)]
		if !isNull(val) {
			present[key.Value] = true
		}
		c.decode(val, v.FieldByIndex(f.index), p.child(key.Value))
		c.lines[p.child(key.Value)] = key.Line
	}
	for _, f := range fields {
		if f.required && !present[f.name] {
			c.addAt(n.Line, p, "missing required field %q", f.name)
		}
	}
}

// checkKey reports whether key names a field that has not been seen yet.
func (c *collector) checkKey(key *yaml.Node, p path, seen map[string]bool, names []string) bool {
	switch {
	case key.Kind != yaml.ScalarNode:
		c.addAt(key.Line, p, "field names must be strings")
	case seen[key.Value]:
		c.addAt(key.Line, p, "duplicate field %q", key.Value)
	case slices.Index(names, key.Value) < 0:
		c.addAt(key.Line, p, "unknown field %q%s", key.Value, didYouMean(key.Value, names))
	default:
		return true
	}
	return false
}

// didYouMean is hint without the list of valid values.
func didYouMean(got string, valid []string) string {
	if s, ok := nearest(got, valid); ok {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

func (c *collector) decodeSlice(n *yaml.Node, v reflect.Value, p path) {
	if n.Kind != yaml.SequenceNode {
		c.typeError(n, p, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		c.decode(item, s.Index(i), p.at(i))
	}
	v.Set(s)
}

func (c *collector) decodeMap(n *yaml.Node, v reflect.Value, p path) {
	if n.Kind != yaml.MappingNode {
		c.typeError(n, p, "a mapping")
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode {
			c.addAt(key.Line, p, "keys must be strings")
			continue
		}
		if m.MapIndex(reflect.ValueOf(key.Value)).IsValid() {
			c.addAt(key.Line, p, "duplicate key %q", key.Value)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		c.decode(val, elem, p.key(key.Value))
		c.lines[p.key(key.Value)] = key.Line
		m.SetMapIndex(reflect.ValueOf(key.Value), elem)
	}
	v.Set(m)
}

func (c *collector) decodeScalar(n *yaml.Node, v reflect.Value, p path) {
	var err error
	switch v.Kind() {
	case reflect.String:
		err = setString(n, v)
	case reflect.Bool:
		err = setBool(n, v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		err = setInt(n, v)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		err = setUint(n, v)
	default:
		err = fmt.Errorf("cannot decode into %s", v.Type())
	}
	if err != nil {
		c.addAt(n.Line, p, "%v", err)
	}
}

func setString(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!bool" {
		return typeMismatch(n, "a string")
	}
	if i := strings.IndexByte(n.Value, 0); i >= 0 && i < len(n.Value)-1 {
		return fmt.Errorf("the string holds a NUL byte before its end: the kernel's strings end at their first NUL, so it could never match")
	}
	v.SetString(n.Value)
	return nil
}

func setBool(n *yaml.Node, v reflect.Value) error {
	b, err := strconv.ParseBool(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || err != nil {
		return typeMismatch(n, "a boolean")
	}
	v.SetBool(b)
	return nil
}

func setInt(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return typeMismatch(n, "an integer")
	}
	i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
	if err != nil {
		return fmt.Errorf("%s is out of range for %s", n.Value, v.Type())
	}
	v.SetInt(i)
	return nil
}

func setUint(n *yaml.Node, v reflect.Value) error {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return typeMismatch(n, "a non-negative integer")
	}
	if strings.HasPrefix(n.Value, "-") {
		return fmt.Errorf("expected a non-negative integer, got %s", n.Value)
	}
	u, err := strconv.ParseUint(strings.TrimPrefix(n.Value, "+"), 0, v.Type().Bits())
	if err != nil {
		return fmt.Errorf("%s is out of range for %s", n.Value, v.Type())
	}
	v.SetUint(u)
	return nil
}

func (c *collector) typeError(n *yaml.Node, p path, want string) {
	c.addAt(n.Line, p, "%v", typeMismatch(n, want))
}

// typeMismatch says what was expected and what the node is.
func typeMismatch(n *yaml.Node, want string) error {
	return fmt.Errorf("expected %s, got %s", want, describe(n))
}

func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Tag == "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case n.Tag == "!!bool":
		return "boolean " + n.Value
	case n.Tag == "!!float":
		return "number " + n.Value
	case n.Tag == "!!int":
		return "integer " + n.Value
	}
	return n.Tag + " " + n.Value
}
