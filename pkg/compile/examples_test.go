package compile

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
)

func TestExamplesCompile(t *testing.T) {
	kernel := probe.Run()
	files, _ := filepath.Glob("../../examples/policies/*.yaml")
	for _, f := range files {
		ps, err := policy.ParseFile(f)
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

// A namespaced policy applies to its namespace's pods only: without the
// node's pods it is refused, never loaded on every process; with them its
// hooks check the pod scope.
func TestNamespacedPolicyIsScoped(t *testing.T) {
	ps, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata: {name: ns-only, namespace: shop}
spec:
  containerSelector: {matchLabels: {name: main}}
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
	if !errors.As(err, &ue) || ue.Path != "metadata.namespace" || !strings.Contains(ue.Reason, "--enable-k8s-api") {
		t.Errorf("compile without pods: %v, want it refused at metadata.namespace", err)
	}
	c, err := Compile(ps[0], Target{Kernel: probe.Run(), Pods: true})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.Scope
	if sc == nil || sc.Namespace != "shop" || sc.Pods == nil || sc.Containers.MatchLabels["name"] != "main" || sc.Host {
		t.Errorf("scope %+v", sc)
	}
	for _, h := range c.Program.Hooks {
		if h.Config.Scoped != 1 {
			t.Errorf("hook on syscall %d is not scoped", h.Syscall)
		}
	}
}
