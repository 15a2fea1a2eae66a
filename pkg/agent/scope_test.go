package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// scopedPolicy is killReadPolicy with a scope: namespaced in namespace (when
// set), with spec lines added at the top of its spec.
func scopedPolicy(name, prefix, namespace, spec string) string {
	doc := killReadPolicy(name, prefix, "enforce")
	if namespace != "" {
		doc = strings.Replace(doc, "kind: TracingPolicy\n", "kind: TracingPolicyNamespaced\n", 1)
		doc = strings.Replace(doc, "metadata:\n", "metadata:\n  namespace: "+namespace+"\n", 1)
	}
	return strings.Replace(doc, "spec:\n", "spec:\n"+spec, 1)
}

// podCgroups makes a pod's cgroups as the kubelet's systemd driver does,
// and one per container; it returns the containers' cgroups by name.
func podCgroups(t *testing.T, pod *corev1.Pod) map[string]string {
	slice := cgrouptest.PodSlice(t, string(pod.UID))
	out := map[string]string{}
	for _, cs := range pod.Status.ContainerStatuses {
		id := strings.TrimPrefix(cs.ContainerID, "containerd://")
		out[cs.Name] = cgrouptest.Make(t, slice, "cri-containerd-"+id+".scope")
	}
	return out
}

// scopeAgent starts an agent that knows node's pods and loads policies from
// the API server k.
func scopeAgent(t *testing.T, k *kubetest.Server, node string) *running {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	index := pods.New(k.Core.Pods(""), node)
	index.Start(ctx)
	for !index.Synced() {
		time.Sleep(20 * time.Millisecond)
	}
	a := start(t, Config{Process: process.Options{NodeName: node}, Pods: index, PodHold: time.Second, Kube: k.Config,
		StatusInterval: time.Second})
	t.Cleanup(a.stop)
	return a
}

// A TracingPolicyNamespaced kills in its namespace's pods only; a pod made
// after it is in scope from its first process.
func TestNamespacedPolicyKillsOnlyInItsNamespace(t *testing.T) {
	k := kubeServer(t)
	node := "scope-node-ns"
	a := scopeAgent(t, k, node)
	dir, secret, _ := secretFiles(t)
	shop := podCgroups(t, runPod(t, k, "shop", "web", node, map[string]string{"app": "web"},
		ctr{"main", strings.Repeat("a1", 32)}))
	other := podCgroups(t, runPod(t, k, "other", "web", node, map[string]string{"app": "web"},
		ctr{"main", strings.Repeat("b2", 32)}))

	createPolicy(t, k, scopedPolicy("shop-kill", dir+"/secret", "shop", ""))
	if !killedWithinIn(shop["main"], secret, true) {
		t.Fatal("the namespaced policy never killed cat in a pod of its namespace")
	}
	if sig := killedBy(catIn(other["main"], secret).Run()); sig != 0 {
		t.Errorf("cat in a pod of another namespace: killed by %v", sig)
	}
	if sig := killedBy(catIn("", secret).Run()); sig != 0 {
		t.Errorf("cat on the host: killed by %v", sig)
	}
	if st := waitStatus(t, k, "shop/shop-kill", node, func(st map[string]any) bool { return st["state"] == "loaded" }); st["state"] != "loaded" {
		t.Errorf("status of the node = %v", st)
	}

	// a new pod: the agent learns of it as the kubelet does, before its
	// cgroups exist; its first process is in scope
	late := runPod(t, k, "shop", "late", node, nil, ctr{"main", strings.Repeat("c3", 32)})
	waitPodScope(t, a, string(late.UID))
	if sig := killedBy(catIn(podCgroups(t, late)["main"], secret).Run()); sig != 9 {
		t.Errorf("the first cat in a new pod of the namespace: killed by %v, want SIGKILL", sig)
	}
}

// waitPodScope waits until the kernel has the scope of pod uid.
func waitPodScope(t *testing.T, a *running, uid string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		scopes, err := a.agent.sensor.PodScopes()
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := scopes[uid]; ok && m.Bits != [len(m.Bits)]uint64{} {
			return
		}
	}
	t.Fatalf("pod %s never got a scope in the kernel", uid)
}

// podSelector follows the pods' labels, containerSelector their
// containers' names, and hostSelector alone means host processes only.
func TestPodContainerAndHostSelectors(t *testing.T) {
	k := kubeServer(t)
	node := "scope-node-sel"
	scopeAgent(t, k, node)
	dir, secret, _ := secretFiles(t)
	api := podCgroups(t, runPod(t, k, "team", "api", node, map[string]string{"app": "api"},
		ctr{"main", strings.Repeat("d4", 32)}, ctr{"sidecar", strings.Repeat("e5", 32)}))
	web := runPod(t, k, "team", "web", node, map[string]string{"app": "web"}, ctr{"main", strings.Repeat("f6", 32)})
	webCg := podCgroups(t, web)

	createPolicy(t, k, scopedPolicy("api-main", dir+"/secret", "",
		"  podSelector: {matchLabels: {app: api}}\n  containerSelector: {matchLabels: {name: main}}\n"))
	if !killedWithinIn(api["main"], secret, true) {
		t.Fatal("the policy never killed cat in the selected container")
	}
	for what, cg := range map[string]string{"sidecar": api["sidecar"], "pod app=web": webCg["main"], "host": ""} {
		if sig := killedBy(catIn(cg, secret).Run()); sig != 0 {
			t.Errorf("cat in %s: killed by %v", what, sig)
		}
	}
	web.Labels["app"] = "api"
	if _, err := k.Client.CoreV1().Pods("team").Update(context.Background(), web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !killedWithinIn(webCg["main"], secret, true) {
		t.Fatal("relabelled app=api, the pod's main container never came into scope")
	}

	createPolicy(t, k, scopedPolicy("host-only", dir+"/other", "", "  hostSelector: {}\n"))
	if !killedWithinIn("", dir+"/other", true) {
		t.Fatal("the hostSelector policy never killed cat on the host")
	}
	if sig := killedBy(catIn(api["main"], dir+"/other").Run()); sig != 0 {
		t.Errorf("cat of the other file in a pod: killed by %v", sig)
	}
}

// TestMatchWorkloadsPerSelector: each selector's matchWorkloads limits that
// selector alone, as Tetragon's: a pod and container selector, hostSelector
// {} (host processes only), and a containerSelector alone (those
// containers in every pod). Removing the policy clears the selectors'
// scopes.
func TestMatchWorkloadsPerSelector(t *testing.T) {
	k := kubeServer(t)
	node := "scope-node-wl"
	a := scopeAgent(t, k, node)
	dir, secret, other := secretFiles(t)
	third := dir + "/third"
	if err := os.WriteFile(third, []byte("data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	api := podCgroups(t, runPod(t, k, "team", "api", node, map[string]string{"app": "api"},
		ctr{"main", strings.Repeat("a7", 32)}, ctr{"sidecar", strings.Repeat("b8", 32)}))
	web := podCgroups(t, runPod(t, k, "team", "web", node, map[string]string{"app": "web"},
		ctr{"main", strings.Repeat("c9", 32)}))
	kill := func(file, workloads string) string {
		return fmt.Sprintf("    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]\n"+
			"      matchBinaries: [{operator: In, values: [%q]}]\n"+
			"      matchWorkloads: %s\n      matchActions: [{action: Sigkill}]\n", file, resolvedPath("/bin/cat"), workloads)
	}
	pol := createPolicy(t, k, "apiVersion: vigil.dev/v1alpha1\nkind: TracingPolicy\nmetadata: {name: per-selector}\nspec:\n"+
		"  kprobes:\n  - call: sys_openat\n    syscall: true\n    args: [{index: 0, type: int}, {index: 1, type: string}]\n    selectors:\n"+
		kill(secret, "{podSelector: {matchLabels: {app: api}}, containerSelector: {matchLabels: {name: main}}}")+
		kill(other, "{hostSelector: {}}")+
		kill(third, "{containerSelector: {matchLabels: {name: sidecar}}}"))
	if !killedWithinIn(api["main"], secret, true) {
		t.Fatal("the first selector never killed cat in the api pod's main container")
	}
	for _, tc := range []struct {
		what, cgroup, file string
		killed             bool
	}{
		{"secret in the api sidecar", api["sidecar"], secret, false},
		{"secret in the web pod", web["main"], secret, false},
		{"secret on the host", "", secret, false},
		{"other on the host", "", other, true},
		{"other in the api pod", api["main"], other, false},
		{"third in the api sidecar", api["sidecar"], third, true},
		{"third in the api main container", api["main"], third, false},
		{"third in the web pod", web["main"], third, false},
		{"third on the host", "", third, false},
	} {
		if killed := killedBy(catIn(tc.cgroup, tc.file).Run()) == syscall.SIGKILL; killed != tc.killed {
			t.Errorf("cat of %s: killed %v, want %v", tc.what, killed, tc.killed)
		}
	}
	host, err := a.agent.sensor.HostScope()
	if err != nil || host == (tracing.ScopeMask{}) {
		t.Fatalf("host scope %v (%v), want the hostSelector's bit", host, err)
	}
	if err := k.Dynamic.Resource(resourceOf(pol)).Delete(context.Background(), "per-selector", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if host, err = a.agent.sensor.HostScope(); err == nil && host == (tracing.ScopeMask{}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host scope %v (%v) after the policy's removal, want none", host, err)
		}
	}
}
