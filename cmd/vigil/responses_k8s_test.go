package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vigil-sec/vigil/pkg/event"
)

// responseRule wants the alerts of policy and never responds.
func responseRule(policy string) map[string]string {
	return map[string]string{"rule.rego": fmt.Sprintf(`package vigil.responses

match contains {"type": "process_kprobe", "policy": %q}

respond contains {"action": "evidence", "reason": "never"} if input.never_set
`, policy)}
}

// Response rules from a ConfigMap apply as soon as the agent starts, follow
// the ConfigMap as it changes, and stay as they are when an edit does not
// compile.
func TestResponseRulesFromAConfigMap(t *testing.T) {
	k := apiServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cms := k.Client.CoreV1().ConfigMaps("default")
	cm, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "responses"}, Data: responseRule("first")},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), "responses", metav1.DeleteOptions{}) })
	f := &responseFlags{configMap: "default/responses", evidenceDir: t.TempDir(), budget: 3, window: time.Minute}
	e, err := f.start(ctx, k.Core, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// wanted says whether the rules let an alert of policy through to OPA
	wanted := func(policy string) bool {
		before := e.Stats().Queued
		ev := &event.Event{ProcessKprobe: &event.ProcessKprobe{Process: &event.Process{Pid: 1}, PolicyName: policy}}
		if err := e.Export(ev, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		return e.Stats().Queued > before
	}
	if !wanted("first") || wanted("second") {
		t.Fatal("the ConfigMap's rules are not in place after start")
	}
	for _, edit := range []struct {
		data        map[string]string
		want, leave string
	}{
		{responseRule("second"), "second", "first"},
		{map[string]string{"broken.rego": "package vigil.responses\n\nmatch contains {"}, "second", "first"},
	} {
		cm.Data = edit.data
		if cm, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // the broken edit can only be seen not to apply
		for deadline := time.Now().Add(15 * time.Second); !wanted(edit.want) || wanted(edit.leave); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after the edit %v: alerts of %q should reach the rules, of %q not", edit.data, edit.want, edit.leave)
			}
		}
	}
}
