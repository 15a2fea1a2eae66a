package guard

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vigil-sec/vigil/pkg/agent"
)

const inputPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata:
  name: mixed
  namespace: shop
  labels: {team: sec}
spec:
  lists:
  - name: opens
    type: syscalls
    values: [sys_openat, sys_open]
  selectorsMacros:
    kill:
      matchActions:
      - action: Sigkill
  kprobes:
  - call: list:opens
    selectors:
    - macros: [kill]
  lsmhooks:
  - hook: file_open
    args:
    - {index: 0, type: file}
    selectors:
    - matchActions:
      - {action: Override, argError: -1}
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
`

func TestInput(t *testing.T) {
	b, err := Input(agent.Load{Policy: parsePolicy(t, inputPolicy), Source: "api", Role: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
	  "source": "api", "role": "operator", "enforces": true, "scoped": true, "host": false,
	  "namespaces": ["shop"], "actions": ["Override", "Sigkill"],
	  "hooks": [
	    {"type": "kprobe", "name": "sys_openat", "actions": ["Sigkill"]},
	    {"type": "kprobe", "name": "sys_open", "actions": ["Sigkill"]},
	    {"type": "tracepoint", "name": "sched/sched_process_exec", "actions": []},
	    {"type": "lsmhook", "name": "file_open", "actions": ["Override"]}
	  ]}`), &want); err != nil {
		t.Fatal(err)
	}
	pol := got["policy"].(map[string]any)
	delete(got, "policy")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("input:\n got %v\nwant %v", got, want)
	}
	spec := pol["spec"].(map[string]any)
	delete(pol, "spec")
	wantPol := map[string]any{"apiVersion": "cilium.io/v1alpha1", "kind": "TracingPolicyNamespaced", "name": "mixed",
		"namespace": "shop", "qualifiedName": "shop/mixed", "labels": map[string]any{"team": "sec"},
		"annotations": map[string]any{}}
	if !reflect.DeepEqual(pol, wantPol) {
		t.Errorf("policy:\n got %v\nwant %v", pol, wantPol)
	}
	if k := spec["kprobes"].([]any)[0].(map[string]any); k["call"] != "list:opens" || k["syscall"] != nil {
		t.Errorf("spec.kprobes[0] %v: want the call as written, no syscall", k)
	}
}
