package compile

import (
	"testing"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

const macroPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: macros
spec:
  selectorsMacros:
    shells:
      matchBinaries:
      - {operator: In, values: [/bin/sh, /bin/bash]}
    kill:
      matchActions:
      - action: Sigkill
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - macros: [shells, kill]
      matchArgs:
      - {index: 1, operator: Prefix, values: [/etc/shadow]}
    - macros: [shells]
`

// A selector naming macros gets their match lists ANDed with its own and
// their actions; the macros themselves are left untouched.
func TestSelectorMacrosMerge(t *testing.T) {
	ps, err := policy.Parse([]byte(macroPolicy), "macros.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(ps[0], Target{Kernel: probe.Run(), SyscallBackend: BackendRawSyscall})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Program.Hooks[0].Config
	var perSelector [2][]uint8
	for _, cd := range cfg.Conds[:cfg.NConds] {
		perSelector[cd.Selector] = append(perSelector[cd.Selector], cd.Subject)
	}
	if len(perSelector[0]) != 2 || perSelector[0][0] != 0 || perSelector[0][1] != tracing.SubjBinary {
		t.Errorf("selector 0 conditions: got subjects %v, want [arg 0, binary]", perSelector[0])
	}
	if len(perSelector[1]) != 1 || perSelector[1][0] != tracing.SubjBinary {
		t.Errorf("selector 1 conditions: got subjects %v, want [binary]", perSelector[1])
	}
	if cfg.Actions[0].Sig != 9 || cfg.Actions[1].Sig != 0 {
		t.Errorf("actions: got signals %d and %d, want 9 (from the kill macro) and 0", cfg.Actions[0].Sig, cfg.Actions[1].Sig)
	}
	if n := len(ps[0].GetSpec().SelectorsMacros["shells"].MatchActions); n != 0 {
		t.Errorf("the shells macro was changed: %d actions", n)
	}
}
