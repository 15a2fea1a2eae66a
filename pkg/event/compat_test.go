package event

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// corpus is Tetragon's own exported events, copied unchanged from the
// compatibility corpus (see its SOURCE.md).
const corpus = "testdata/tetragon"

// TestFieldsMatchTetragon: every field Vigil emits that Tetragon's events
// also have carries the same name and JSON type.
func TestFieldsMatchTetragon(t *testing.T) {
	theirs := map[string]string{}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.json"))
	if len(files) == 0 {
		t.Fatalf("compatibility corpus not found at %s", corpus)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for {
			var v any
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			flatten("", v, theirs)
		}
	}
	ours := map[string]string{}
	for _, ev := range []any{filled(&Event{ProcessExec: &ProcessExec{}}), filled(&Event{ProcessExit: &ProcessExit{}}), filled(&Event{ProcessKprobe: &ProcessKprobe{}})} {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		_ = json.Unmarshal(b, &v)
		flatten("", v, ours)
	}
	var shared []string
	for path, typ := range ours {
		if want, ok := theirs[path]; ok {
			shared = append(shared, path)
			if typ != want {
				t.Errorf("%s: Vigil emits a JSON %s, Tetragon a %s", path, typ, want)
			}
		}
	}
	sort.Strings(shared)
	t.Logf("%d fields shared with Tetragon's events", len(shared))
	for _, must := range []string{
		"node_name", "time", "process_exec.process.exec_id", "process_exec.process.binary",
		"process_exec.process.arguments", "process_exec.parent.pid", "process_exit.process.cwd",
		"process_exec.process.cap.permitted[]", "process_exec.process.start_time",
		"process_kprobe.function_name", "process_kprobe.action", "process_kprobe.args[].file_arg.path",
		"process_kprobe.args[].truncated_bytes_arg.orig_size",
	} {
		if _, ok := theirs[must]; !ok {
			t.Errorf("corpus lacks %s: the test is not comparing what it should", must)
		}
		if _, ok := ours[must]; !ok {
			t.Errorf("Vigil does not emit %s", must)
		}
	}
}

func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		out[prefix] = "object"
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, e, out)
		}
	case []any:
		out[prefix] = "array"
		for _, e := range x {
			flatten(prefix+"[]", e, out)
		}
	case string:
		out[prefix] = "string"
	case float64:
		out[prefix] = "number"
	case bool:
		out[prefix] = "bool"
	}
}

// filled sets every field reachable from v to a non-zero value, so that
// nothing is left out by omitempty.
func filled[T any](v *T) *T {
	fill(reflect.ValueOf(v).Elem())
	return v
}

func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Uint32, reflect.Uint64, reflect.Uint8:
		v.SetUint(1)
	case reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Bool:
		v.SetBool(true)
	}
}
