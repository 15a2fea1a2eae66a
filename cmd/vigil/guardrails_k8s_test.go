package main

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// apiServer starts a real kube-apiserver for the test, on the host only.
func apiServer(t *testing.T) *kubetest.Server {
	if k := os.Getenv("VIGIL_TEST_KERNEL"); k != "" {
		t.Skipf("kernel matrix (%s): Kubernetes tests need no kernel feature; they run on the host", k)
	}
	k, err := kubetest.Start()
	if err != nil {
		t.Fatalf("a Kubernetes API server: %v", err)
	}
	t.Cleanup(k.Stop)
	return k
}

// Guardrails from a ConfigMap apply as soon as the agent starts, and follow
// the ConfigMap as it changes.
func TestGuardrailsFromAConfigMap(t *testing.T) {
	k := apiServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rego, err := os.ReadFile("../../examples/guardrails/require-scope.rego")
	if err != nil {
		t.Fatal(err)
	}
	cms := k.Client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "guardrails"},
		Data: map[string]string{"require-scope.rego": string(rego)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), "guardrails", metav1.DeleteOptions{}) })
	g, err := guardrails(ctx, nil, "default/guardrails", k.Core)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := policy.Parse([]byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: unscoped-kill}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["/etc/shadow"]}]
      matchActions: [{action: Sigkill}]
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	load := agent.Load{Policy: docs[0], Source: "p.yaml"}
	var ge *agent.GuardError
	if err := g.Check(load); !errors.As(err, &ge) {
		t.Fatalf("an unscoped kill under the ConfigMap's guardrails: %v, want refused", err)
	}
	cm.Data = map[string]string{"allow.rego": "package vigil.guardrails\n\ndeny contains msg if {\n\tfalse\n\tmsg := \"never\"\n}\n"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); g.Check(load) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the edited ConfigMap never replaced the guardrails")
		}
	}
}
