package policy

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// aliasBomb is the policy: four levels of aliases, each a list
// of copies of the level below (values, matchArgs entries, selectors,
// hooks), so that a few KB expand to copies^4 strings.
func aliasBomb(copies int) string {
	list := func(item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+", ", copies), ", ") + "]"
	}
	var b strings.Builder
	b.WriteString(header + "  options:\n")
	fmt.Fprintf(&b, "  - {name: v, value: x}\n  - {name: anchors, value: x, extra: &v %s}\n", list(`"/etc/shadow"`))
	fmt.Fprintf(&b, "  - {name: m, extra: &m %s}\n", list("{index: 1, operator: Prefix, values: *v}"))
	fmt.Fprintf(&b, "  - {name: s, extra: &s %s}\n", list("{matchArgs: *m}"))
	b.WriteString("  kprobes: " + list("{call: sys_openat, syscall: true, args: [{index: 1, type: string}], selectors: *s}") + "\n")
	return b.String()
}

func TestAliasBombIsRefused(t *testing.T) {
	doc := aliasBomb(200)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse([]byte(doc), "bomb.yaml")
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "YAML aliases expand to more than 50000 values") {
		t.Fatalf("Parse of an alias bomb: %v", err)
	}
	if !strings.Contains(err.Error(), "bomb.yaml:") || !strings.Contains(err.Error(), "spec.kprobes[") {
		t.Errorf("the error names no file and YAML path: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<20 {
		t.Errorf("parsing a %d-byte alias bomb allocated %d MiB", len(doc), grew>>20)
	}
}

// TestAliasesWithinTheBudgetLoad: a policy that reuses a value list
// through an alias is ordinary YAML and loads.
func TestAliasesWithinTheBudgetLoad(t *testing.T) {
	doc := header + `  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: &files ["/etc/shadow", "/etc/gshadow"]}
  - call: sys_openat2
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: *files}
`
	ps, err := Parse([]byte(doc), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0].GetSpec().KProbes[1].Selectors[0].MatchArgs[0].Values
	if len(got) != 2 || got[1] != "/etc/gshadow" {
		t.Fatalf("aliased values: %v", got)
	}
}
