package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/kubewatch"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/respond"
)

// rbacNode is the node of the test's pod: the agent's pod index watches
// the pods of one node.
const rbacNode = "rbac-test-node"

// rbacRules answer an alert of policy rbac-test with an annotation and a
// label of its pod.
const rbacRules = `package vigil.responses

match contains {"type": "process_kprobe", "policy": "rbac-test"}

respond contains {"action": "annotate", "key": "vigil.dev/rbac-test", "value": "annotated"} if {
	input.process_kprobe.policy_name == "rbac-test"
}

respond contains {"action": "label", "key": "vigil.dev/rbac-test", "value": "labelled"} if {
	input.process_kprobe.policy_name == "rbac-test"
}
`

// The agent's service account, with rbac.yaml as shipped, can make every
// API call the agent makes (the pod index, the annotate and label
// responses through pkg/respond, the policies' informers and status
// writes, the ConfigMaps of guardrails and response rules), and no other.
// The calls are made with a token of the service account.
func TestAgentRBAC(t *testing.T) {
	k, err := kubetest.Start()
	if err != nil {
		t.Fatalf("a Kubernetes API server: %v", err)
	}
	defer k.Stop()
	if err := k.InstallCRDs(); err != nil {
		t.Fatal(err)
	}
	ns, sa := applyShipped(t, k)
	agent := serviceAccountConfig(t, k, ns, sa)
	client := kubernetes.NewForConfigOrDie(agent)
	core, err := kubewatch.NewCore(agent) // the agent's own client
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The token is the service account's, not the admin's: the denials
	// below mean something.
	who, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who is the agent: %v", err)
	}
	if want := "system:serviceaccount:" + ns + ":" + sa; who.Status.UserInfo.Username != want {
		t.Fatalf("the agent's token is %q's, want %q", who.Status.UserInfo.Username, want)
	}

	pod := testPod(t, k)
	podIndex(t, ctx, core, pod)
	annotateAndLabel(t, k, core, pod)
	policies(t, ctx, k, agent, pod.Namespace)
	configMaps(t, ctx, core, ns)
	refused(t, ctx, client, agent, pod)
	accessReviews(t, ctx, client, ns)
}

// applyShipped applies namespace.yaml and rbac.yaml, parsed from the files,
// with the namespace kustomization.yaml gives their namespaced objects,
// and returns that namespace and the service account's name.
func applyShipped(t *testing.T, k *kubetest.Server) (ns, sa string) {
	t.Helper()
	var kust struct {
		Namespace string   `json:"namespace"`
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile("kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if kust.Namespace == "" || !slices.Contains(kust.Resources, "rbac.yaml") {
		t.Fatalf("kustomization.yaml: namespace %q, resources %q: want a namespace and rbac.yaml", kust.Namespace, kust.Resources)
	}
	groups, err := restmapper.GetAPIGroupResources(k.Client.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	var bound bool
	for _, file := range []string{"namespace.yaml", "rbac.yaml"} {
		for _, obj := range readObjects(t, file) {
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %s: %v", file, gvk, err)
			}
			res := k.Dynamic.Resource(m.Resource)
			var ri dynamic.ResourceInterface = res
			if m.Scope.Name() == "namespace" {
				obj.SetNamespace(kust.Namespace)
				ri = res.Namespace(kust.Namespace)
			}
			if _, err := ri.Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "vigil-rbac-test", Force: true}); err != nil {
				t.Fatalf("%s: applying %s %s: %v", file, gvk.Kind, obj.GetName(), err)
			}
			switch gvk.Kind {
			case "ServiceAccount":
				sa = obj.GetName()
			case "ClusterRoleBinding", "RoleBinding":
				bound = true
			}
		}
	}
	if sa == "" || !bound {
		t.Fatalf("rbac.yaml: service account %q, bindings %v: want both", sa, bound)
	}
	return kust.Namespace, sa
}

// readObjects parses the YAML documents of file.
func readObjects(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("%s: no objects", file)
	}
	return objs
}

// serviceAccountConfig is a client configuration with a token of the
// service account ns/sa (TokenRequest), and nothing of the admin's.
func serviceAccountConfig(t *testing.T, k *kubetest.Server, ns, sa string) *rest.Config {
	t.Helper()
	expiry := int64(600)
	tok, err := k.Client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("a token of service account %s/%s: %v", ns, sa, err)
	}
	cfg := rest.AnonymousClientConfig(k.Config)
	cfg.BearerToken = tok.Status.Token
	return cfg
}

// testPod creates, as the admin, a pod on rbacNode in namespace
// rbac-test (which stays: without a controller manager a deleted
// namespace never goes away).
func testPod(t *testing.T, k *kubetest.Server) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	_, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod, err := k.Client.CoreV1().Pods("rbac-test").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: rbacNode,
			Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0) // no kubelet finishes a graceful deletion
		_ = k.Client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	return pod
}

// podIndex runs the agent's pod index (pkg/pods) and waits for pod.
func podIndex(t *testing.T, ctx context.Context, client *kubewatch.Core, pod *corev1.Pod) {
	t.Helper()
	ix := pods.New(client.Pods(""), rbacNode)
	ictx, stop := context.WithCancel(ctx)
	defer stop()
	ix.Start(ictx)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ix.Synced() && slices.ContainsFunc(ix.List(), func(p *corev1.Pod) bool { return p.UID == pod.UID }) {
			return
		}
	}
	_, err := client.Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + rbacNode})
	t.Errorf("the pod index (list and watch of the node's pods) did not see pod %s/%s within 10s (a list of them: %v)", pod.Namespace, pod.Name, err)
}

// annotateAndLabel has a respond.Engine, whose client is the service
// account's, answer an alert of a process of pod with an annotate and a
// label response, and checks both on the pod.
func annotateAndLabel(t *testing.T, k *kubetest.Server, client *kubewatch.Core, pod *corev1.Pod) {
	t.Helper()
	e, err := respond.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set(map[string]string{"rbac-test.rego": rbacRules}); err != nil {
		t.Fatal(err)
	}
	results := make(chan respond.Result, 4)
	if err := e.Start(respond.Options{Client: client, OnResult: func(r respond.Result) { results <- r }}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := &event.Event{NodeName: rbacNode, Time: event.FormatTime(time.Now()),
		ProcessKprobe: &event.ProcessKprobe{PolicyName: "rbac-test", FunctionName: "__x64_sys_setuid", Action: event.ActionPost,
			Process: &event.Process{Pid: uint32(os.Getpid()), Binary: "/usr/bin/web",
				Pod: &event.Pod{Namespace: pod.Namespace, Name: pod.Name, Container: &event.Container{Name: "web"}}}}}
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ev, line); err != nil {
		t.Fatal(err)
	}
	done := map[string]bool{}
	for range 2 {
		select {
		case r := <-results:
			done[r.Action] = true
			if !r.OK {
				t.Errorf("the %s response as the agent: %+v", r.Action, r)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no result of the annotate and label responses within 15s (got %v)", done)
		}
	}
	if !done[respond.ActionAnnotate] || !done[respond.ActionLabel] {
		t.Errorf("responses carried out: %v, want annotate and label", done)
	}
	got, err := k.Client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Annotations["vigil.dev/rbac-test"]; a != "annotated" {
		t.Errorf("the pod's annotation vigil.dev/rbac-test = %q, want annotated (annotations %v)", a, got.Annotations)
	}
	if l := got.Labels["vigil.dev/rbac-test"]; l != "labelled" || got.Labels["app"] != "web" {
		t.Errorf("the pod's labels %v, want vigil.dev/rbac-test=labelled added to app=web", got.Labels)
	}
}

var (
	vigilPolicies   = schema.GroupVersionResource{Group: "vigil.dev", Version: "v1alpha1", Resource: "tracingpolicies"}
	vigilNamespaced = schema.GroupVersionResource{Group: "vigil.dev", Version: "v1alpha1", Resource: "tracingpoliciesnamespaced"}
)

// policies makes, as the agent, the calls of pkg/agent's CRD source:
// discovery, list and watch of the policies in every namespace, and a
// server-side apply of this node's entry of a policy's status.
func policies(t *testing.T, ctx context.Context, k *kubetest.Server, agent *rest.Config, ns string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(agent)
	disc := kubernetes.NewForConfigOrDie(agent).Discovery()
	if _, err := disc.ServerResourcesForGroupVersion("vigil.dev/v1alpha1"); err != nil {
		t.Errorf("discovery of vigil.dev/v1alpha1 as the agent: %v", err)
	}
	for _, tc := range []struct {
		gvr  schema.GroupVersionResource
		kind string
		ns   string
	}{{vigilPolicies, "TracingPolicy", ""}, {vigilNamespaced, "TracingPolicyNamespaced", ns}} {
		name := "rbac-test-" + tc.gvr.Resource
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "vigil.dev/v1alpha1", "kind": tc.kind,
			"metadata": map[string]any{"name": name, "namespace": tc.ns},
			"spec":     map[string]any{"kprobes": []any{map[string]any{"call": "sys_setuid", "syscall": true}}}}}
		admin := k.Dynamic.Resource(tc.gvr).Namespace(tc.ns)
		_ = admin.Delete(ctx, name, metav1.DeleteOptions{})
		if _, err := admin.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s: %v", tc.kind, name, err)
		}
		defer admin.Delete(context.Background(), name, metav1.DeleteOptions{})

		list, err := dyn.Resource(tc.gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Errorf("list %s as the agent: %v", tc.gvr.Resource, err)
		} else if w, err := dyn.Resource(tc.gvr).Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()}); err != nil {
			t.Errorf("watch %s as the agent: %v", tc.gvr.Resource, err)
		} else {
			w.Stop()
		}

		// pkg/agent's report: this node's entry, by server-side apply.
		patch, err := json.Marshal(map[string]any{"apiVersion": "vigil.dev/v1alpha1", "kind": tc.kind,
			"metadata": map[string]any{"name": name, "namespace": tc.ns},
			"status": map[string]any{"nodes": []any{map[string]any{"node": rbacNode, "state": "loaded",
				"updated": time.Now().UTC().Format(time.RFC3339)}}}})
		if err != nil {
			t.Fatal(err)
		}
		force := true
		_, err = dyn.Resource(tc.gvr).Namespace(tc.ns).Patch(ctx, name, types.ApplyPatchType, patch,
			metav1.PatchOptions{FieldManager: "vigil-agent/" + rbacNode, Force: &force}, "status")
		if err != nil {
			t.Errorf("the status of %s %s as the agent: %v", tc.kind, name, err)
			continue
		}
		got, err := admin.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		nodes, _, _ := unstructured.NestedSlice(got.Object, "status", "nodes")
		if len(nodes) != 1 || fmt.Sprint(nodes[0].(map[string]any)["node"]) != rbacNode {
			t.Errorf("the status of %s %s: nodes %v, want this node's entry", tc.kind, name, nodes)
		}
	}
}

// configMaps makes, as the agent, the calls of its ConfigMap watcher
// (guardrails, response rules): list and watch of one ConfigMap of its
// namespace, by name.
func configMaps(t *testing.T, ctx context.Context, client *kubewatch.Core, ns string) {
	t.Helper()
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "vigil-responses").String()}
	list, err := client.ConfigMaps(ns).List(ctx, opts)
	if err != nil {
		t.Errorf("list the ConfigMaps of %s as the agent: %v", ns, err)
		return
	}
	opts.ResourceVersion = list.ResourceVersion
	w, err := client.ConfigMaps(ns).Watch(ctx, opts)
	if err != nil {
		t.Errorf("watch the ConfigMaps of %s as the agent: %v", ns, err)
		return
	}
	w.Stop()
}

// refused checks that the API server refuses, as the agent, calls it
// never makes.
func refused(t *testing.T, ctx context.Context, client kubernetes.Interface, agent *rest.Config, pod *corev1.Pod) {
	t.Helper()
	podAPI := client.CoreV1().Pods(pod.Namespace)
	secret := []byte(`{"data":{"k":"dg=="}}`)
	spec := []byte(`{"spec":{"tracepoints":[]}}`)
	dyn := dynamic.NewForConfigOrDie(agent)
	for _, c := range []struct {
		what string
		call func() error
	}{
		{"delete the pod", func() error { return podAPI.Delete(ctx, pod.Name, metav1.DeleteOptions{}) }},
		{"update the pod", func() error {
			p := pod.DeepCopy()
			p.ResourceVersion, p.Labels = "", map[string]string{"app": "stolen"}
			_, err := podAPI.Update(ctx, p, metav1.UpdateOptions{})
			return err
		}},
		{"patch the pod's status", func() error {
			_, err := podAPI.Patch(ctx, pod.Name, types.MergePatchType, []byte(`{"status":{"phase":"Failed"}}`), metav1.PatchOptions{}, "status")
			return err
		}},
		{"create a pod", func() error {
			p := pod.DeepCopy()
			p.ResourceVersion, p.UID, p.Name = "", "", pod.Name+"-copy"
			_, err := podAPI.Create(ctx, p, metav1.CreateOptions{})
			return err
		}},
		{"patch a secret", func() error {
			_, err := client.CoreV1().Secrets(pod.Namespace).Patch(ctx, "any", types.MergePatchType, secret, metav1.PatchOptions{})
			return err
		}},
		{"list secrets", func() error {
			_, err := client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list ConfigMaps of another namespace", func() error {
			_, err := client.CoreV1().ConfigMaps(pod.Namespace).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"change a policy's spec", func() error {
			_, err := dyn.Resource(vigilPolicies).Patch(ctx, "rbac-test-tracingpolicies", types.MergePatchType, spec, metav1.PatchOptions{})
			return err
		}},
	} {
		if err := c.call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s as the agent: %v, want forbidden", c.what, err)
		}
	}
}

// accessReviews asks the API server, as the agent, about each verb on
// each resource the agent uses, and about some it must not have.
func accessReviews(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) {
	t.Helper()
	type access struct {
		verb, group, resource, sub, ns string
		allowed                        bool
	}
	var cases []access
	for _, verb := range []string{"list", "watch"} {
		cases = append(cases, access{verb, "", "pods", "", "", true}, access{verb, "", "configmaps", "", ns, true})
		for _, g := range []string{"vigil.dev", "cilium.io"} {
			cases = append(cases, access{verb, g, "tracingpolicies", "", "", true},
				access{verb, g, "tracingpoliciesnamespaced", "", "", true})
		}
	}
	cases = append(cases,
		access{"patch", "", "pods", "", "kube-system", true}, // any pod the agent's node runs
		access{"patch", "vigil.dev", "tracingpolicies", "status", "", true},
		access{"patch", "vigil.dev", "tracingpoliciesnamespaced", "status", "web", true},

		access{"update", "", "pods", "", "kube-system", false},
		access{"delete", "", "pods", "", "kube-system", false},
		access{"deletecollection", "", "pods", "", "", false},
		access{"create", "", "pods", "", "kube-system", false},
		access{"create", "", "pods", "exec", "kube-system", false},
		access{"create", "", "pods", "eviction", "kube-system", false},
		access{"patch", "", "pods", "status", "kube-system", false},
		access{"patch", "", "pods", "ephemeralcontainers", "kube-system", false},
		access{"get", "", "secrets", "", ns, false},
		access{"patch", "", "secrets", "", ns, false},
		access{"list", "", "configmaps", "", "", false},
		access{"patch", "", "configmaps", "", ns, false},
		access{"create", "", "serviceaccounts", "token", ns, false},
		access{"patch", "", "nodes", "", "", false},
		access{"create", "vigil.dev", "tracingpolicies", "", "", false},
		access{"patch", "vigil.dev", "tracingpolicies", "", "", false},
		access{"update", "vigil.dev", "tracingpolicies", "status", "", false},
		access{"patch", "cilium.io", "tracingpolicies", "status", "", false},
		access{"escalate", "rbac.authorization.k8s.io", "clusterroles", "", "", false},
	)
	for _, c := range cases {
		review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authzv1.SelfSubjectAccessReview{
			Spec: authzv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authzv1.ResourceAttributes{
				Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.sub, Namespace: c.ns}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("a SelfSubjectAccessReview as the agent: %v", err)
		}
		if review.Status.Allowed != c.allowed {
			t.Errorf("may the agent %s %+v? %v, want %v (%s)", c.verb, c, review.Status.Allowed, c.allowed, review.Status.Reason)
		}
	}
}
