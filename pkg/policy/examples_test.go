package policy

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
)

func TestExamplesCompile(t *testing.T) {
	kernel := probe.Run()
	files, _ := filepath.Glob("../../examples/policies/*.yaml")
	for _, f := range files {
		ps, err := ParseFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, p := range ps {
			if _, err := Compile(p, Target{Kernel: kernel}); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		}
	}
	if len(files) < 5 {
		t.Errorf("want at least 5 example policies, found %d", len(files))
	}
}

// A namespaced policy is refused until pods scope it in the kernel: loaded
// unscoped, it would apply to every process of the node.
func TestNamespacedPolicyIsNotLoadedUnscoped(t *testing.T) {
	ps, err := Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata: {name: ns-only, namespace: shop}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
`), "ns.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(ps[0], Target{Kernel: probe.Run()})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Path != "metadata.namespace" {
		t.Errorf("compile: %v, want it refused at metadata.namespace", err)
	}
}
