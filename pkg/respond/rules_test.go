package respond

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadExamples(t *testing.T) {
	e, err := Load("../../examples/responses")
	if err != nil {
		t.Fatal(err)
	}
	rs := e.rules.Load()
	if rs.modules != 3 {
		t.Errorf("loaded %d modules, want 3", rs.modules)
	}
	for _, k := range []string{"kill-crypto-miners", "setuid-root", "kill-shadow-read", "connect-port"} {
		if !rs.wants["process_kprobe"][k] {
			t.Errorf("the prefilter does not want policy %s: %v", k, rs.wants)
		}
	}
}

func writeRule(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rule.rego")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadRejects(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"syntax": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": \"x\"}\n\nrespond contains {\"action\": \"kill\"} if {\n\tinput.process_kprobe.policy_name ==\n}\n",
			"rule.rego:7: rego_parse_error"},
		"undefined function": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": \"x\"}\n\nrespond contains {\"action\": \"kill\"} if {\n\tis_miner(input.process_kprobe.process.binary)\n}\n",
			"rule.rego:6: rego_type_error: undefined function is_miner"},
		"unsafe var": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": \"x\"}\n\nrespond contains {\"action\": \"kill\", \"reason\": why}\n",
			"rule.rego:5: rego_unsafe_var_error: var why is unsafe"},
		"undefined reference": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": \"x\"}\n\nrespond contains {\"action\": \"kill\"} if {\n\tminers.known[input.process_kprobe.process.binary]\n}\n",
			"rule.rego:6: rego_unsafe_var_error: var miners is unsafe"},
		"no network": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": \"x\"}\n\nrespond contains r if {\n\tr := http.send({\"method\": \"get\", \"url\": \"http://x\"}).body\n}\n",
			"rule.rego:6: rego_type_error: undefined function http.send"},
		"no match": {"package vigil.responses\n\nrespond contains {\"action\": \"kill\"}\n",
			"rule.rego:1: the module defines respond but no match"},
		"match reads input": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprobe\", \"policy\": input.x}\n\nrespond contains {\"action\": \"kill\"}\n",
			"rule.rego:3: match is evaluated once at load and may not read input"},
		"bad match entry": {"package vigil.responses\n\nmatch contains {\"type\": \"process_kprob\", \"policy\": \"x\"}\n\nrespond contains {\"action\": \"kill\"}\n",
			`entry map[policy:x type:process_kprob]`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeRule(t, tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestSetKeepsVersion(t *testing.T) {
	e, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]string{"a.rego": "package vigil.responses\n\nmatch contains {\"type\": \"process_exec\", \"policy\": \"*\"}\n"}
	if err := e.Set(mods); err != nil {
		t.Fatal(err)
	}
	first := e.rules.Load()
	if err := e.Set(mods); err != nil || e.rules.Load() != first {
		t.Errorf("Set with the same modules prepared them again (err %v)", err)
	}
	if err := e.Set(map[string]string{"a.rego": "package vigil.responses\n\nrespond contains 1\n"}); err == nil {
		t.Error("Set accepted a module with respond and no match")
	}
	if e.rules.Load() != first {
		t.Error("a failed Set replaced the rules in use")
	}
}
