package v1alpha1

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/vigil-sec/vigil/internal/kubetest"
)

var server *kubetest.Server

// testKernel is set in the kernel matrix, where these tests, which need no
// kernel feature, do not run (they run on the host).
var testKernel = os.Getenv("VIGIL_TEST_KERNEL")

func TestMain(m *testing.M) {
	if testKernel == "" {
		var err error
		if server, err = kubetest.Start(); err != nil {
			fmt.Println("CRD tests need a Kubernetes API server:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	os.Exit(code)
}

// The example policies are valid TracingPolicy objects for the API server,
// which refuses a field the schema does not have.
func TestExamplesAreValidResources(t *testing.T) {
	if testKernel != "" {
		t.Skipf("kernel matrix (%s): the CRDs need no kernel feature; they are tested on the host", testKernel)
	}
	if err := server.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	dyn := server.Dynamic
	gvr := schema.GroupVersionResource{Group: "vigil.dev", Version: "v1alpha1", Resource: "tracingpolicies"}
	files, _ := filepath.Glob("../../../examples/policies/*.yaml")
	if len(files) < 5 {
		t.Fatalf("want the example policies, found %d", len(files))
	}
	strict := metav1.CreateOptions{FieldValidation: "Strict"}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := dyn.Resource(gvr).Create(context.Background(), &obj, strict); err != nil {
			t.Errorf("%s: refused: %v", f, err)
			continue
		}
		_ = dyn.Resource(gvr).Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{})
	}
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "vigil.dev/v1alpha1", "kind": "TracingPolicy", "metadata": map[string]any{"name": "bad"},
		"spec": map[string]any{"kprobes": []any{map[string]any{"call": "sys_openat", "sycall": true}}},
	}}
	if _, err := dyn.Resource(gvr).Create(context.Background(), bad, strict); err == nil || !strings.Contains(err.Error(), "sycall") {
		t.Errorf("a misspelt field: want it refused by name, got %v", err)
	}
}
