package policy

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// schemaLeaves lists the leaf paths under spec of a CRD's schema, list
// elements written "[]".
func schemaLeaves(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Schema struct {
					OpenAPIV3Schema schemaNode `yaml:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	var leaves []string
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].walk("spec", &leaves)
	return leaves
}

type schemaNode struct {
	Type       string
	Properties map[string]schemaNode
	Items      *schemaNode
}

func (n schemaNode) walk(p string, leaves *[]string) {
	switch {
	case n.Type == "object" && len(n.Properties) > 0:
		for k, v := range n.Properties {
			v.walk(p+"."+k, leaves)
		}
	case n.Type == "array" && n.Items != nil && n.Items.Type == "object" && len(n.Items.Properties) > 0:
		n.Items.walk(p+"[]", leaves)
	default:
		*leaves = append(*leaves, p)
	}
}

// TestFieldsCoverTheSchema: every leaf of Tetragon's schema is in the
// table and nothing else is; every implemented field names a test that
// exists.
func TestFieldsCoverTheSchema(t *testing.T) {
	for _, crd := range []string{"cilium.io_tracingpolicies.yaml", "cilium.io_tracingpoliciesnamespaced.yaml"} {
		leaves := schemaLeaves(t, filepath.Join("testdata/tetragon-crds", crd))
		if len(leaves) < 600 {
			t.Fatalf("%s: %d leaves: the schema walk is broken", crd, len(leaves))
		}
		for _, l := range leaves {
			if _, ok := Fields[l]; !ok {
				t.Errorf("%s: %s is not classified in policy.Fields", crd, l)
			}
		}
		for k := range Fields {
			if !slices.Contains(leaves, k) {
				t.Errorf("policy.Fields: %s is not in %s", k, crd)
			}
		}
	}
	counts := map[bool]int{}
	for k, s := range Fields {
		counts[s.Refused == ""]++
		if s.Refused == "" && !testExists(t, s.Test) {
			t.Errorf("policy.Fields[%q]: test %q does not exist", k, s.Test)
		}
	}
	t.Logf("%d fields: %d implemented, %d refused", len(Fields), counts[true], counts[false])
}

var testRef = regexp.MustCompile(`^([a-z/]+)\.(Test[A-Za-z0-9_]+)$`)

// testExists says whether ref ("pkg/agent.TestName") names a test function
// of the repository.
func testExists(t *testing.T, ref string) bool {
	m := testRef.FindStringSubmatch(ref)
	if m == nil {
		return false
	}
	files, _ := filepath.Glob(filepath.Join("../..", m[1], "*_test.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "\nfunc "+m[2]+"(t *testing.T)") {
			return true
		}
	}
	return false
}

// TestTypesFollowTheSchema: every field of Vigil's policy types is a
// field of Tetragon's schema (the table classifies it).
func TestTypesFollowTheSchema(t *testing.T) {
	var walk func(typ reflect.Type, p string)
	walk = func(typ reflect.Type, p string) {
		switch typ.Kind() {
		case reflect.Pointer:
			walk(typ.Elem(), p)
		case reflect.Struct:
			for _, f := range fieldsOf(typ) {
				walk(typ.FieldByIndex(f.index).Type, p+"."+f.name)
			}
		case reflect.Slice:
			if typ.Elem().Kind() == reflect.Struct {
				walk(typ.Elem(), p+"[]")
				return
			}
			fallthrough
		default:
			if _, ok := Fields[p]; !ok {
				t.Errorf("%s: a field of Vigil's types that Tetragon's schema does not have", p)
			}
		}
	}
	walk(reflect.TypeFor[TracingPolicySpec](), "spec")
}

func TestRefusalsNameThePath(t *testing.T) {
	ps, err := Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: refusals}
spec:
  selectorsMacros:
    m: {matchReturnArgs: [{index: 1, operator: Equal, values: ["1"]}]}
  kprobes:
  - call: sys_read
    args:
    - {index: 0, type: int}
    - {index: 1, type: char_buf, sizeArgIndex: 3, maxData: true}
    - {index: 2, type: size_t}
    data: [{index: 0, type: int, source: current_task, resolve: pid, btfType: task_struct}]
    selectors:
    - matchActions:
      - {action: Post, kernelStackTrace: true}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := Refusals(ps[0].GetSpec())
	// kernelStackTrace on Post is implemented: not among them
	want := []Refusal{
		{"spec.kprobes[0].data[0].btfType", "a data entry of source current_task starts from the task (struct task_struct): btfType does not apply"},
		{"spec.selectorsMacros.m.matchReturnArgs[0].index", "matchReturnArgs filters the return value: index does not apply"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
}
