package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/vigil-sec/vigil/internal/kubetest"
)

// helm runs Helm v4 as the Go tool pinned in tools/helm (a module of its
// own), on the chart in deploy/helm/vigil.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "helm"}, args...)...)
	cmd.Dir = "../tools/helm"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

const chart = "../../deploy/helm/vigil"

// objects splits rendered manifests into objects, by kind/name.
func objects(t *testing.T, rendered string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, doc := range strings.Split(rendered, "\n---") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		if o == nil {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		out[o["kind"].(string)+"/"+md["name"].(string)] = o
	}
	return out
}

// The chart lints, renders what its values ask for, and what it renders
// applies to a real API server, where its service account may do exactly
// what the kustomize manifests' may.
func TestHelmChart(t *testing.T) {
	helm(t, "lint", "--strict", chart)
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(`policies:
  watch.yaml: |
    apiVersion: cilium.io/v1alpha1
    kind: TracingPolicy
    metadata: {name: watch}
    spec: {}
sinks: ["otlp+grpc://otel.observability:4317"]
guardrails: {no-kill.rego: "package vigil.guard"}
metrics: {serviceMonitor: {enabled: true}}
capabilities: [BPF, PERFMON, SYS_ADMIN, SYS_PTRACE, DAC_READ_SEARCH]
library: {enabled: true}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	full := objects(t, helm(t, "template", "vigil", chart, "--namespace", "vigil-helm", "-f", values))
	ds := full["DaemonSet/vigil"]
	if ds == nil || full["ServiceMonitor/vigil"] == nil || full["ConfigMap/vigil-policies"] == nil ||
		full["ConfigMap/vigil-guardrails"] == nil {
		t.Fatalf("rendered: %v", keys(full))
	}
	if got, want := count(full, "TracingPolicy/"), libraryPolicies(t); got != want {
		t.Errorf("library.enabled renders %d TracingPolicy resources, want the library's %d", got, want)
	}
	sc := container(ds)["securityContext"].(map[string]any)
	if caps := fmt.Sprint(sc["capabilities"].(map[string]any)["add"]); caps != "[BPF PERFMON SYS_ADMIN SYS_PTRACE DAC_READ_SEARCH]" {
		t.Errorf("capabilities: %s, want the values'", caps)
	}
	args := strings.Join(containerArgs(ds), " ")
	for _, want := range []string{"--sink=otlp+grpc://otel.observability:4317", "--tracing-policy-dir=/etc/vigil/policies",
		"--guardrails-configmap=vigil-helm/vigil-guardrails", "--keep-enforcement", "--enable-k8s-api"} {
		if !strings.Contains(args, want) {
			t.Errorf("the agent's args lack %s: %s", want, args)
		}
	}

	k, err := kubetest.Start()
	if err != nil {
		t.Fatalf("a Kubernetes API server: %v", err)
	}
	defer k.Stop()
	rendered := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(rendered, []byte(helm(t, "template", "vigil", chart, "--namespace", "vigil-helm",
		"--include-crds", "--set-string", "policies.a\\.yaml=x")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, k, "create", "namespace", "vigil-helm"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if out, err := kubectl(t, k, "apply", "--server-side", "-f", rendered); err != nil {
		t.Fatalf("kubectl apply of the chart: %v\n%s", err, out)
	}
	if out, err := kubectl(t, k, "get", "daemonset", "-n", "vigil-helm", "vigil", "-o",
		"jsonpath={.spec.template.spec.containers[0].readinessProbe.httpGet.path}"); err != nil || out != "/readyz" {
		t.Errorf("the DaemonSet's readiness probe: %v %s", err, out)
	}
	checkPermissions(t, k, "vigil-helm")
}

// container is the DaemonSet's (first) container.
func container(ds map[string]any) map[string]any {
	spec := ds["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	return spec["containers"].([]any)[0].(map[string]any)
}

func containerArgs(ds map[string]any) []string {
	var out []string
	for _, a := range container(ds)["args"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// count is the number of objects whose key starts with prefix.
func count(objs map[string]map[string]any, prefix string) int {
	n := 0
	for k := range objs {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// libraryPolicies is the number of policies in policies/library.
func libraryPolicies(t *testing.T) int {
	files, err := filepath.Glob("../policies/library/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("policies/library: %v %d files", err, len(files))
	}
	return len(files)
}
