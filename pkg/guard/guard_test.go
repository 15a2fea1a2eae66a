package guard

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/policy"
)

const examples = "../../examples/guardrails"

// policyYAML is a policy that acts with action when sys_openat opens
// /etc/shadow; scope is inserted at the top of its spec.
func policyYAML(kind, namespace, scope, action string) string {
	meta := "  name: p\n"
	if namespace != "" {
		meta += "  namespace: " + namespace + "\n"
	}
	act := "      - action: " + action + "\n"
	switch action {
	case "Signal":
		act += "        argSig: 10\n"
	case "Override":
		act += "        argError: -1\n"
	}
	return "apiVersion: vigil.dev/v1alpha1\nkind: " + kind + "\nmetadata:\n" + meta + "spec:\n" + scope + `  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["/etc/shadow"]}
      matchActions:
` + act
}

func parsePolicy(t testing.TB, doc string) policy.Policy {
	t.Helper()
	ps, err := policy.Parse([]byte(doc), "p.yaml")
	if err != nil {
		t.Fatalf("policy rejected: %v\n%s", err, doc)
	}
	return ps[0]
}

func cluster(scope, action string) string {
	return policyYAML(policy.KindTracingPolicy, "", scope, action)
}

func namespaced(ns, action string) string {
	return policyYAML(policy.KindTracingPolicyNamespaced, ns, "", action)
}

const (
	fromFile   = "/etc/vigil/policies/p.yaml"
	podsByApp  = "  podSelector:\n    matchLabels: {app: web}\n"
	podsByTier = "  podSelector:\n    matchLabels: {tier: kube-system}\n"
	podsByExpr = "  podSelector:\n    matchExpressions:\n    - {key: ns, operator: In, values: [default, kube-system]}\n"
	hostOnly   = "  hostSelector: {}\n"
)

type guardCase struct {
	name   string
	doc    string
	source string
	role   string
	want   []string // nil: allowed
}

func runCases(t *testing.T, g *Guard, cases []guardCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := g.Check(agent.Load{Policy: parsePolicy(t, c.doc), Source: c.source, Role: c.role})
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ge *agent.GuardError
			if !errors.As(err, &ge) {
				t.Fatalf("got %v, want a GuardError", err)
			}
			if !reflect.DeepEqual(ge.Reasons, c.want) {
				t.Fatalf("reasons:\n got %q\nwant %q", ge.Reasons, c.want)
			}
		})
	}
}

func loadExample(t testing.TB, name string) *Guard {
	t.Helper()
	g, err := Load(filepath.Join(examples, name))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRequireScope(t *testing.T) {
	msg := func(kind, name, acts string) []string {
		return []string{"require-scope: " + kind + ` "` + name + `" uses ` + acts +
			" on every process; confine it to a namespace (TracingPolicyNamespaced) or to pods (spec.podSelector)"}
	}
	runCases(t, loadExample(t, "require-scope.rego"), []guardCase{
		{"unscoped Sigkill", cluster("", "Sigkill"), fromFile, "", msg("TracingPolicy", "p", "Sigkill")},
		{"unscoped Override", cluster("", "Override"), "api", "admin", msg("TracingPolicy", "p", "Override")},
		{"host only Signal", cluster(hostOnly, "Signal"), "api", "admin", msg("TracingPolicy", "p", "Signal")},
		{"unscoped Post", cluster("", "Post"), fromFile, "", nil},
		{"podSelector Sigkill", cluster(podsByApp, "Sigkill"), fromFile, "", nil},
		{"namespaced Sigkill", namespaced("default", "Sigkill"), fromFile, "", nil},
	})
}

func TestProtectKubeSystem(t *testing.T) {
	msg := func(kind, name, acts, where string) []string {
		return []string{"protect-kube-system: " + kind + ` "` + name + `" uses ` + acts + " " + where +
			"; nothing may kill, signal or deny in kube-system"}
	}
	bySelector := `on pods its spec.podSelector selects by "kube-system"`
	runCases(t, loadExample(t, "protect-kube-system.rego"), []guardCase{
		{"namespaced Sigkill", namespaced("kube-system", "Sigkill"), fromFile, "",
			msg("TracingPolicyNamespaced", "kube-system/p", "Sigkill", "in namespace kube-system")},
		{"matchLabels Signal", cluster(podsByTier, "Signal"), "api", "admin",
			msg("TracingPolicy", "p", "Signal", bySelector)},
		{"matchExpressions Override", cluster(podsByExpr, "Override"), "api", "admin",
			msg("TracingPolicy", "p", "Override", bySelector)},
		{"every pod", cluster("", "Sigkill"), fromFile, "",
			msg("TracingPolicy", "p", "Sigkill", "on every pod, kube-system's included")},
		{"namespaced Post", namespaced("kube-system", "Post"), fromFile, "", nil},
		{"other namespace", namespaced("default", "Sigkill"), fromFile, "", nil},
		{"other pods", cluster(podsByApp, "Sigkill"), fromFile, "", nil},
		{"host only", cluster(hostOnly, "Sigkill"), fromFile, "", nil},
	})
}

func TestAdminAPIOnly(t *testing.T) {
	msg := func(acts, source, role string) []string {
		return []string{`admin-api-only: TracingPolicyNamespaced "default/p" uses ` + acts + ` but comes from "` +
			source + `" with role "` + role + `"; Signal and Override load only through the API by an admin`}
	}
	runCases(t, loadExample(t, "admin-api-only.rego"), []guardCase{
		{"file Signal", namespaced("default", "Signal"), fromFile, "", msg("Signal", fromFile, "")},
		{"operator Override", namespaced("default", "Override"), "api", "operator", msg("Override", "api", "operator")},
		{"crd Override", namespaced("default", "Override"), "crd:vigil.dev/p", "", msg("Override", "crd:vigil.dev/p", "")},
		{"admin Override", namespaced("default", "Override"), "api", "admin", nil},
		{"admin Signal", namespaced("default", "Signal"), "api", "admin", nil},
		{"file Sigkill", namespaced("default", "Sigkill"), fromFile, "", nil},
	})
}

func TestAllExamples(t *testing.T) {
	g := loadExample(t, "")
	if got := len(g.Modules()); got != 3 {
		t.Fatalf("%d modules: %v", got, g.Modules())
	}
	runCases(t, g, []guardCase{
		{"kube-system Override from file", namespaced("kube-system", "Override"), fromFile, "", []string{
			`admin-api-only: TracingPolicyNamespaced "kube-system/p" uses Override but comes from "` + fromFile +
				`" with role ""; Signal and Override load only through the API by an admin`,
			`protect-kube-system: TracingPolicyNamespaced "kube-system/p" uses Override in namespace kube-system; nothing may kill, signal or deny in kube-system`,
		}},
		{"scoped Sigkill from file", namespaced("default", "Sigkill"), fromFile, "", nil},
	})
}

// TestReadmeExample checks the messages that examples/guardrails/README.md shows.
func TestReadmeExample(t *testing.T) {
	ps, err := policy.ParseFile("../../examples/policies/kill-shadow-read.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = loadExample(t, "").Check(agent.Load{Policy: ps[0], Source: "examples/policies/kill-shadow-read.yaml"})
	want := []string{
		`protect-kube-system: TracingPolicy "kill-shadow-read" uses Sigkill on every pod, kube-system's included; nothing may kill, signal or deny in kube-system`,
		`require-scope: TracingPolicy "kill-shadow-read" uses Sigkill on every process; confine it to a namespace (TracingPolicyNamespaced) or to pods (spec.podSelector)`,
	}
	var ge *agent.GuardError
	if !errors.As(err, &ge) || !reflect.DeepEqual(ge.Reasons, want) {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestNoModulesAllowsAll(t *testing.T) {
	g := &Guard{}
	if err := g.Check(agent.Load{Policy: parsePolicy(t, cluster("", "Sigkill"))}); err != nil {
		t.Fatal(err)
	}
	if err := g.Set(map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if g.Check(agent.Load{Policy: parsePolicy(t, cluster("", "Sigkill"))}) != nil || g.Stats().Evaluations != 0 {
		t.Fatal("a guard without modules evaluated or refused")
	}
}

func TestErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"syntax", "package vigil.guardrails\n\ndeny contains msg if {\n\tmsg := \n}\n",
			"guardrails/x.rego:5: rego_parse_error: "},
		{"undefined function", "package vigil.guardrails\n\ndeny contains msg if {\n\tmsg := nosuch(input.role)\n}\n",
			"guardrails/x.rego:4: rego_type_error: undefined function nosuch"},
		{"network", "package vigil.guardrails\n\ndeny contains msg if {\n\tmsg := http.send({\"method\": \"get\", \"url\": \"http://x\"}).body\n}\n",
			"guardrails/x.rego:4: rego_type_error: undefined function http.send"},
		{"unsafe var", "package vigil.guardrails\n\ndeny contains msg if {\n\tinput.enforces\n\tmsg := reason\n}\n",
			"guardrails/x.rego:5: rego_unsafe_var_error: var reason is unsafe"},
		{"v0 syntax", "package vigil.guardrails\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n",
			"guardrails/x.rego:3: rego_parse_error: "},
		{"no deny", "package vigil.other\n\ndeny contains \"x\"\n", "no rule defines data.vigil.guardrails.deny"},
		{"empty", "", "guardrails/x.rego:0: rego_parse_error: empty module"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := (&Guard{}).Set(map[string]string{"guardrails/x.rego": c.src})
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want %q...", err, c.want)
			}
		})
	}
}

func TestLoadErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.rego")
	if err := os.WriteFile(bad, []byte("package vigil.guardrails\n\ndeny contains msg if {\n\tmsg := undefined_ref\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir)
	if want := bad + ":4: rego_unsafe_var_error: var undefined_ref is unsafe"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.HasSuffix(err.Error(), "no .rego files") {
		t.Fatalf("empty directory: got %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.rego")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: got %v", err)
	}
}

const denyAll = "package vigil.guardrails\n\ndeny contains \"no\"\n"

func TestSetSwaps(t *testing.T) {
	g := &Guard{}
	p := agent.Load{Policy: parsePolicy(t, cluster("", "Post"))}
	if err := g.Set(map[string]string{"a.rego": denyAll}); err != nil {
		t.Fatal(err)
	}
	var ge *agent.GuardError
	if err := g.Check(p); !errors.As(err, &ge) || ge.Reasons[0] != "no" {
		t.Fatalf("deny-all: %v", err)
	}
	if err := g.Set(map[string]string{"b.rego": "package vigil.guardrails\n\ndeny contains \"x\" if false\n"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Check(p); err != nil {
		t.Fatalf("after swap: %v", err)
	}
	if err := g.Set(map[string]string{"c.rego": "package"}); err == nil {
		t.Fatal("bad module accepted")
	}
	if err := g.Check(p); err != nil || !reflect.DeepEqual(g.Modules(), []string{"b.rego"}) {
		t.Fatalf("a failed Set replaced the guardrails: %v %v", err, g.Modules())
	}
	if err := g.Set(nil); err != nil || g.Check(p) != nil || g.Modules() != nil {
		t.Fatalf("no modules: %v", err)
	}
}

func TestNonStringDenyAndEvalErrors(t *testing.T) {
	g := &Guard{}
	if err := g.Set(map[string]string{"a.rego": "package vigil.guardrails\n\ndeny contains {\"why\": input.role}\n"}); err != nil {
		t.Fatal(err)
	}
	var ge *agent.GuardError
	if err := g.Check(agent.Load{Policy: parsePolicy(t, cluster("", "Post")), Role: "x"}); !errors.As(err, &ge) || ge.Reasons[0] != `{"why":"x"}` {
		t.Fatalf("got %v", err)
	}
	if err := g.Set(map[string]string{"a.rego": "package vigil.guardrails\n\ndeny := input.role\n"}); err != nil {
		t.Fatal(err)
	}
	err := g.Check(agent.Load{Policy: parsePolicy(t, cluster("", "Post")), Role: "x"})
	if err == nil || errors.As(err, &ge) {
		t.Fatalf("deny as a string: got %v, want an evaluation error", err)
	}
	if s := g.Stats(); s.Evaluations != 2 || s.Denied != 1 || s.Errors != 1 || s.Last <= 0 || s.Total < s.Last {
		t.Fatalf("stats %+v", s)
	}
}

func TestConcurrentCheckAndSet(t *testing.T) {
	g := loadExample(t, "")
	modules, err := ReadFiles(examples)
	if err != nil {
		t.Fatal(err)
	}
	p := parsePolicy(t, cluster("", "Sigkill"))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				var ge *agent.GuardError
				if err := g.Check(agent.Load{Policy: p, Source: fromFile}); !errors.As(err, &ge) {
					t.Errorf("got %v", err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := g.Set(modules); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if n := g.Stats().Evaluations; n != 200 {
		t.Fatalf("%d evaluations, want 200", n)
	}
}

func BenchmarkCheck(b *testing.B) {
	g := loadExample(b, "")
	for _, c := range []struct {
		name string
		load agent.Load
	}{
		{"allowed", agent.Load{Policy: parsePolicy(b, namespaced("default", "Sigkill")), Source: fromFile}},
		{"denied", agent.Load{Policy: parsePolicy(b, namespaced("kube-system", "Override")), Source: fromFile}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				_ = g.Check(c.load)
			}
		})
	}
}
