package agent

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/process"
)

// killedWithin runs cat on file until it is killed (want true) or runs
// through (want false) within 15 s, and says whether that happened.
func killedWithin(file string, want bool) bool { return killedWithinIn("", file, want) }

// killedWithinIn is killedWithin for a cat in cgroup dir ("": the test's).
func killedWithinIn(dir, file string, want bool) bool {
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		killed := killedBy(catIn(dir, file).Run()) == syscall.SIGKILL
		if killed == want {
			return true
		}
	}
	return false
}

// catIn is cat of file in cgroup dir ("": the test's).
func catIn(dir, file string) *exec.Cmd {
	if dir == "" {
		return exec.Command("/bin/cat", file)
	}
	return cgrouptest.Command(dir, "/bin/cat", file)
}

// kubeServer gives a test a real API server with the CRDs installed; the
// kernel matrix leaves these tests to the host (they need no kernel
// feature).
func kubeServer(t *testing.T) *kubetest.Server {
	t.Helper()
	if k := os.Getenv("VIGIL_TEST_KERNEL"); k != "" {
		t.Skipf("kernel matrix (%s): Kubernetes tests need no kernel feature; they run on the host", k)
	}
	k, err := kubetest.Start()
	if err != nil {
		t.Fatalf("a Kubernetes API server: %v", err)
	}
	t.Cleanup(k.Stop)
	if err := k.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	return k
}

// createPolicy creates a TracingPolicy resource from a YAML document.
func createPolicy(t *testing.T, k *kubetest.Server, doc string) *unstructured.Unstructured {
	t.Helper()
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		t.Fatal(err)
	}
	res := k.Dynamic.Resource(resourceOf(&obj)).Namespace(obj.GetNamespace())
	created, err := res.Create(context.Background(), &obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}) })
	return created
}

// Creating, editing and deleting a TracingPolicy resource changes what the
// agent enforces, within seconds.
func TestPoliciesFromTheAPIServer(t *testing.T) {
	k := kubeServer(t)
	a := start(t, Config{Process: process.Options{NodeName: "crd-node"}, Kube: k.Config, StatusInterval: time.Second})
	defer a.stop()

	dir, secret, other := secretFiles(t)
	createPolicy(t, k, killReadPolicy("crd-kill", dir+"/secret", "enforce"))
	res := k.Dynamic.Resource(policyResources[0])
	ctx := context.Background()
	if !killedWithin(secret, true) {
		t.Fatal("the policy created in the API server never killed cat")
	}
	if killedBy(exec.Command("/bin/cat", other).Run()) != 0 {
		t.Error("cat of another file was killed")
	}
	if st := nodeStatus(t, k, "crd-kill", "crd-node"); st["state"] != "loaded" || len(fmt.Sprint(st["backends"])) < 3 {
		t.Errorf("status of the node = %v, want loaded with its backends", st)
	}
	counted := func(st map[string]any) bool { n, _ := st["actions"].(int64); return n >= 1 }
	if st := waitStatus(t, k, "crd-kill", "crd-node", counted); !counted(st) {
		t.Errorf("status of the node = %v, want the kill counted in events and actions", st)
	}

	// edit: the other file instead
	created, err := res.Get(ctx, "crd-kill", metav1.GetOptions{}) // with the status the agent wrote
	if err != nil {
		t.Fatal(err)
	}
	kprobes, _, _ := unstructured.NestedSlice(created.Object, "spec", "kprobes")
	sel := kprobes[0].(map[string]any)["selectors"].([]any)[0].(map[string]any)
	sel["matchArgs"].([]any)[0].(map[string]any)["values"] = []any{other}
	if err := unstructured.SetNestedSlice(created.Object, kprobes, "spec", "kprobes"); err != nil {
		t.Fatal(err)
	}
	if _, err := res.Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !killedWithin(other, true) || !killedWithin(secret, false) {
		t.Fatal("the edited policy is not the one enforced")
	}

	if err := res.Delete(ctx, "crd-kill", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !killedWithin(other, false) {
		t.Fatal("the deleted policy still kills")
	}
}

// nodeStatus waits for node's entry in a policy's status.
func nodeStatus(t *testing.T, k *kubetest.Server, name, node string) map[string]any {
	t.Helper()
	return waitStatus(t, k, name, node, func(map[string]any) bool { return true })
}

// waitStatus waits up to 15 s for node's entry in a policy's status to
// satisfy ok, and returns the last entry seen. A namespaced policy's name
// is "namespace/name".
func waitStatus(t *testing.T, k *kubetest.Server, name, node string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var last map[string]any
	res := k.Dynamic.Resource(policyResources[0]).Namespace("")
	if ns, n, found := strings.Cut(name, "/"); found {
		res, name = k.Dynamic.Resource(policyResources[1]).Namespace(ns), n
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		obj, err := res.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nodes, _, _ := unstructured.NestedSlice(obj.Object, "status", "nodes")
		for _, n := range nodes {
			if m := n.(map[string]any); m["node"] == node {
				if last = m; ok(m) {
					return m
				}
			}
		}
	}
	if last == nil {
		t.Fatalf("policy %s: no status from node %s", name, node)
	}
	return last
}

// A policy this node cannot load says why in its status.
func TestPolicyStatusShowsTheError(t *testing.T) {
	k := kubeServer(t)
	a := start(t, Config{Process: process.Options{NodeName: "status-node"}, Kube: k.Config})
	defer a.stop()
	createPolicy(t, k, `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata: {name: broken}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [/etc/shadow]}]
      matchActions: [{action: Override, argError: -1}]
`)
	st := nodeStatus(t, k, "broken", "status-node")
	overrides := kernel().Has(probe.FmodRetSyscall) || kernel().Has(probe.OverrideReturn)
	if want := map[bool]string{true: "loaded", false: "error"}[overrides]; st["state"] != want {
		t.Errorf("state = %v, want %s (%v)", st["state"], want, st)
	}
	if msg, _ := st["message"].(string); !overrides && !strings.Contains(msg, "Override needs") {
		t.Errorf("message = %q, want the reason", msg)
	}

	// a loaded policy that skipped a call the kernel lacks says which
	createPolicy(t, k, `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata: {name: skips}
spec:
  kprobes:
  - {call: vigil_no_such_function, syscall: false, ignore: {callNotFound: true}}
  - {call: sys_openat}
`)
	st = nodeStatus(t, k, "skips", "status-node")
	want := "skipped spec.kprobes[0].call: vigil_no_such_function is not in this kernel (ignore.callNotFound)"
	if msg, _ := st["message"].(string); st["state"] != "loaded" || msg != want {
		t.Errorf("status = %v, want loaded with the message %q", st, want)
	}
}

// The agent starts and enforces its file policies while the API server is
// down, and loads the policy resources once it is up.
func TestFilePoliciesWhileTheAPIServerIsDown(t *testing.T) {
	k := kubeServer(t)
	if err := k.Down(); err != nil {
		t.Fatal(err)
	}
	dir, secret, other := secretFiles(t)
	file := policyFile(t, killReadPolicy("file-kill", dir+"/secret", "enforce"))
	a := start(t, Config{Process: process.Options{NodeName: "down-node"}, Kube: k.Config, PolicyFiles: []string{file}})
	defer a.stop()
	if !killedWithin(secret, true) {
		t.Fatal("the file policy does not work while the API server is down")
	}
	h := waitHealth(a.agent, func(h Health) bool { return !strings.Contains(h.Why, "running processes") })
	if !h.Live || h.Ready || !strings.Contains(h.Why, "API server") {
		t.Errorf("health while the API server is down = %+v, want live, not ready, for the API server", h)
	}

	if err := k.Up(); err != nil {
		t.Fatal(err)
	}
	createPolicy(t, k, killReadPolicy("crd-after-outage", dir+"/other", "enforce"))
	if !killedWithin(other, true) {
		t.Fatal("the policy created once the API server was up never took effect")
	}
	if h := waitHealth(a.agent, func(h Health) bool { return h.Ready }); !h.Ready || !h.Live {
		t.Errorf("health once the API server is up = %+v, want live and ready", h)
	}
}

// A node is ready only once the policies the API server holds are loaded:
// the first cat after readiness is killed.
func TestReadyOnlyWithTheAPIServersPolicies(t *testing.T) {
	k := kubeServer(t)
	dir, secret, _ := secretFiles(t)
	createPolicy(t, k, killReadPolicy("crd-ready", dir+"/secret", "enforce"))
	a := start(t, Config{Process: process.Options{NodeName: "ready-node"}, Kube: k.Config})
	defer a.stop()
	if h := waitHealth(a.agent, func(h Health) bool { return h.Ready }); !h.Ready {
		t.Fatalf("never ready: %+v", h)
	}
	if sig := killedBy(exec.Command("/bin/cat", secret).Run()); sig != syscall.SIGKILL {
		t.Errorf("the first cat once ready ended with signal %v, want SIGKILL", sig)
	}
}

// waitHealth waits up to 30 s for a's health to satisfy ok, and returns
// the last one seen.
func waitHealth(a *Agent, ok func(Health) bool) Health {
	h := a.Health()
	for deadline := time.Now().Add(30 * time.Second); !ok(h) && time.Now().Before(deadline); h = a.Health() {
		time.Sleep(100 * time.Millisecond)
	}
	return h
}

// Tetragon's own resources (cilium.io), where its CRDs are installed, are
// loaded and enforced like Vigil's.
func TestCiliumPoliciesFromTheAPIServer(t *testing.T) {
	k := kubeServer(t)
	if err := k.InstallTetragonCRDs(); err != nil {
		t.Fatal(err)
	}
	a := start(t, Config{Process: process.Options{NodeName: "cilium-node"}, Kube: k.Config, StatusInterval: time.Second})
	defer a.stop()
	dir, secret, other := secretFiles(t)
	doc := strings.Replace(killReadPolicy("cilium-kill", dir+"/secret", "enforce"), "vigil.dev/v1alpha1", "cilium.io/v1alpha1", 1)
	createPolicy(t, k, doc)
	if !killedWithin(secret, true) {
		t.Fatal("the cilium.io policy created in the API server never killed cat")
	}
	if killedBy(exec.Command("/bin/cat", other).Run()) != 0 {
		t.Error("cat of another file was killed")
	}
	res := k.Dynamic.Resource(policyResources[2])
	if err := res.Delete(context.Background(), "cilium-kill", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !killedWithin(secret, false) {
		t.Fatal("the deleted cilium.io policy still kills")
	}
}

// TestNodeSelectorFollowsNodeLabels: a policy whose spec.nodeSelector does
// not match the node's labels stays out of the kernel (its status says
// so), loads when the node gets the label, and leaves when it loses it.
func TestNodeSelectorFollowsNodeLabels(t *testing.T) {
	k := kubeServer(t)
	nodes := k.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"})
	ctx := context.Background()
	node := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": "sel-node", "labels": map[string]any{"pool": "general"}}}}
	if _, err := nodes.Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := start(t, Config{Process: process.Options{NodeName: "sel-node"}, Kube: k.Config, StatusInterval: time.Second})
	defer a.stop()
	dir, secret, _ := secretFiles(t)
	createPolicy(t, k, strings.Replace(killReadPolicy("gpu-only", dir+"/secret", "enforce"),
		"spec:\n", "spec:\n  nodeSelector:\n    matchLabels: {pool: gpu}\n", 1))
	if st := waitStatus(t, k, "gpu-only", "sel-node", func(st map[string]any) bool { return st["state"] == "not_selected" }); st["state"] != "not_selected" {
		t.Fatalf("status on a node without the label: %v, want not_selected", st)
	}
	if killedWithin(secret, true) {
		t.Fatal("the policy killed on a node its nodeSelector does not select")
	}
	label := func(pool string) {
		patch := []byte(`{"metadata":{"labels":{"pool":"` + pool + `"}}}`)
		if _, err := nodes.Patch(ctx, "sel-node", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	label("gpu")
	if !killedWithin(secret, true) {
		t.Fatal("the node got the label: the policy never killed")
	}
	label("general")
	if !killedWithin(secret, false) {
		t.Fatal("the node lost the label: the policy still kills")
	}
}
