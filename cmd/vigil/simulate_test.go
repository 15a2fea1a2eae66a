package main

import (
	"strings"
	"testing"
)

// TestSimulateCommand: vigil simulate against a running agent with two
// library policies: both cases are seen, with their tags; a library
// policy the agent does not have is refused with how to load it, and an
// unknown name with the library's names.
func TestSimulateCommand(t *testing.T) {
	bin := build(t)
	r := startAgent(t, bin, "--metrics-address", freePort(t), "--tracing-policy", "../../policies/library/miner-exec.yaml",
		"--tracing-policy", "../../policies/library/read-shadow.yaml")
	out, err := vigilCmd(bin, "simulate", "--server", r.admin, "miner-exec", "read-shadow")
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	for _, want := range []string{"miner-exec", "read-shadow", "tags T1496,impact", "tags T1003.008,credential_access"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a case failed:\n%s", out)
	}
	out, err = vigilCmd(bin, "simulate", "--server", r.admin, "setuid-root")
	if err == nil || !strings.Contains(out, "policy setuid-root is not loaded in the agent: vigil policy add policies/library/setuid-root.yaml") {
		t.Errorf("a policy the agent lacks: %v\n%s", err, out)
	}
	out, err = vigilCmd(bin, "simulate", "--server", r.admin, "no-such-policy")
	if err == nil || !strings.Contains(out, `no library policy "no-such-policy"; the library has: reverse-shell-stdio,`) {
		t.Errorf("an unknown name: %v\n%s", err, out)
	}
}
