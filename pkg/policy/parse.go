package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxBytes is the size a policy file or request may have unless
// told otherwise: ten times Tetragon's largest example, a hundredth of
// what would strain an agent.
const DefaultMaxBytes = 1 << 20

// ParseFile reads (ReadFile, at most DefaultMaxBytes), parses and
// validates every policy document of the YAML file at name. See Parse.
func ParseFile(name string) ([]Policy, error) {
	data, err := ReadFile(name, DefaultMaxBytes)
	if err != nil {
		return nil, err
	}
	return Parse(data, name)
}

// ReadFile reads the policy file at name, which must be a regular file
// (after symbolic links, which ConfigMap volumes use) of at most max
// bytes. It never blocks on a FIFO or a device, and never reads more than
// max+1 bytes of anything.
func ReadFile(name string, max int64) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s): policy files must be regular files", name, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a policy file may have (--policy-max-bytes)", name, st.Size(), max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%s: grew past the %d bytes a policy file may have while it was read (--policy-max-bytes)", name, max)
	}
	return data, err
}

// Parse decodes and validates every document of the YAML stream data.
// source names the stream in error messages (usually the file name).
// Empty documents are skipped. If any document has a problem, Parse returns
// no policies and an ErrorList with every problem of every document;
// semantic checks of a document run once its structure decodes cleanly.
func Parse(data []byte, source string) ([]Policy, error) {
	policies, errs := parseStream(data)
	if len(policies) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{Msg: "no policy documents"})
	}
	if len(errs) == 0 {
		return policies, nil
	}
	for _, e := range errs {
		e.Source = source
	}
	return nil, errs
}

// parseStream parses every non-empty document of data; it stops at the
// first YAML syntax error.
func parseStream(data []byte) ([]Policy, ErrorList) {
	var policies []Policy
	var errs ErrorList
	seen := map[string]int{} // kind/namespace/name: line of the first
	aliasBudget := MaxAliasedNodes
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return policies, errs
		}
		if err != nil {
			return policies, append(errs, syntaxError(err))
		}
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		p, docErrs := parseDocument(doc.Content[0], &aliasBudget)
		if p != nil {
			docErrs = append(docErrs, duplicate(p, doc.Content[0].Line, seen)...)
		}
		policies = append(policies, p)
		errs = append(errs, docErrs...)
	}
}

// duplicate refuses a second document of the same kind, namespace and
// name in one stream: loaded one after the other, the second would
// silently replace the first.
func duplicate(p Policy, line int, seen map[string]int) ErrorList {
	key := p.GetKind() + "/" + p.GetNamespace() + "/" + p.GetName()
	if first, ok := seen[key]; ok {
		return ErrorList{{Line: line, Path: "metadata.name", Msg: fmt.Sprintf("a second policy named %q in this file (the first is at line %d): each would replace the other", p.GetName(), first)}}
	}
	seen[key] = line
	return nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML syntax error into an Error with its line.
func syntaxError(err error) *Error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{Msg: "invalid YAML: " + err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{Line: line, Msg: "invalid YAML: " + m[2]}
}

// parseDocument decodes and validates one document.
func parseDocument(root *yaml.Node, aliasBudget *int) (Policy, ErrorList) {
	c := newCollector(aliasBudget)
	kind, ok := c.checkHeader(root)
	if !ok {
		return nil, c.errs
	}
	var tp TracingPolicy
	c.decode(root, reflect.ValueOf(&tp).Elem(), "")
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	namespaced := kind == KindTracingPolicyNamespaced
	c.validate(&tp, namespaced)
	slices.SortStableFunc(c.errs, func(a, b *Error) int { return a.Line - b.Line })
	if namespaced {
		tpn := TracingPolicyNamespaced(tp)
		return &tpn, c.errs
	}
	return &tp, c.errs
}

// checkHeader checks apiVersion and kind before anything else, so that a
// document that is not a policy gets one clear error instead of a list of
// unknown fields.
func (c *collector) checkHeader(root *yaml.Node) (string, bool) {
	if root.Kind != yaml.MappingNode {
		c.addAt(root.Line, "", "document is not a mapping but %s", describe(root))
		return "", false
	}
	apiVersion, kind := mappingValue(root, "apiVersion"), mappingValue(root, "kind")
	if apiVersion == nil && kind == nil {
		c.addAt(root.Line, "", "not a TracingPolicy: the document has no apiVersion and no kind")
		return "", false
	}
	okVersion := c.checkHeaderField(root, apiVersion, "apiVersion", []string{APIVersionCilium, APIVersionVigil})
	okKind := c.checkHeaderField(root, kind, "kind", []string{KindTracingPolicy, KindTracingPolicyNamespaced})
	if !okVersion || !okKind {
		return "", false
	}
	return kind.Value, true
}

func (c *collector) checkHeaderField(root, n *yaml.Node, name string, valid []string) bool {
	switch {
	case n == nil:
		c.addAt(root.Line, "", "missing required field %q", name)
	case n.Kind != yaml.ScalarNode || n.Tag != "!!str":
		c.addAt(n.Line, path(name), "expected a string, got %s", describe(n))
	case !slices.Contains(valid, n.Value):
		c.addAt(n.Line, path(name), "unsupported %s %q%s", name, n.Value, hint(n.Value, valid))
	default:
		return true
	}
	return false
}

// mappingValue returns the value node of key in mapping m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
