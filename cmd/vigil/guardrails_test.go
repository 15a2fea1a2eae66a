package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A guardrail refuses a Sigkill policy without scope from a file and from
// the API, with its message; the list shows why.
func TestGuardrailsRefuseUnscopedKills(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	doc := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(doc, []byte(fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: unscoped-kill}
spec:
  kprobes:
  - call: sys_openat
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, filepath.Join(dir, "secret"))), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startAgent(t, bin, "--metrics-address", "", "--guardrails", "../../examples/guardrails/require-scope.rego",
		"--tracing-policy", doc)
	const msg = `require-scope: TracingPolicy "unscoped-kill" uses Sigkill on every process`
	var out string
	waitFor(t, "the file policy listed as refused", func() bool {
		out, _ = vigilCmd(bin, "policy", "list", "--server", r.readOnly)
		return strings.Contains(out, "unscoped-kill") && strings.Contains(out, msg)
	})
	if !strings.Contains(out, "error") {
		t.Errorf("list: %s, want the policy in state error", out)
	}
	out, err := vigilCmd(bin, "policy", "add", doc, "--server", r.admin)
	if err == nil || !strings.Contains(out, msg) {
		t.Errorf("the admin adding it through the API: %v\n%s", err, out)
	}
}
