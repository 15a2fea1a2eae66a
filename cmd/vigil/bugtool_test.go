package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readBundle reads a bugtool tarball's files by name.
func readBundle(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(h.Name, "vigil-bugtool/")] = string(b)
	}
}

// vigil bugtool collects, from a running agent, what a support case needs,
// and no event: an argument the agent saw in an exec is nowhere in it.
func TestBugtool(t *testing.T) {
	bin := build(t)
	metrics := freePort(t)
	dir := t.TempDir()
	pol := filepath.Join(dir, "watch.yaml")
	if err := os.WriteFile(pol, []byte(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bugtool-watch}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["/nonexistent-bugtool/"]}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startAgent(t, bin, "--metrics-address", metrics, "--tracing-policy", pol)
	lines := streamLines(t, bin, "-o", "json", "--server", r.admin)
	marker := run(t, "/bin/echo", "bugtool-secret-marker")
	pokeUntilLine(t, lines, "the marker's exec", marker, "bugtool-secret-marker")

	out := filepath.Join(dir, "bundle.tar.gz")
	if msg, err := vigilCmd(bin, "bugtool", "--server", r.admin, "--metrics-address", metrics, "-o", out); err != nil {
		t.Fatalf("bugtool: %v\n%s", err, msg)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the tarball: %v %v, want mode 0600", st, err)
	}
	files := readBundle(t, out)
	for name, want := range map[string]string{
		"errors.txt": "", "version.txt": "vigil ", "status.json": `"e2e-api"`, "policies.json": "bugtool-watch",
		"agent.log": "vigil agent running", "http_metrics.txt": "vigil_events_total", "http_readyz.txt": "200 OK",
		"http_healthz.txt": "200 OK", "bpf_programs.txt": "generic_", "bpf_maps.txt": "hook_configs",
		"host_proc_version.txt": "Linux version",
	} {
		got, ok := files[name]
		if !ok || !strings.Contains(got, want) || (want == "" && strings.TrimSpace(got) != "") {
			t.Errorf("%s: %q, want it with %q", name, got[:min(len(got), 300)], want)
		}
	}
	var probe map[string]any
	if err := json.Unmarshal([]byte(files["probe.json"]), &probe); err != nil {
		t.Errorf("probe.json: %v", err)
	}
	for name, data := range files {
		if strings.Contains(data, "bugtool-secret-marker") {
			t.Errorf("%s holds an event's argument", name)
		}
	}

	// the logs are the admin's: on the read-only socket the rest is kept
	ro := filepath.Join(dir, "ro.tar.gz")
	if msg, err := vigilCmd(bin, "bugtool", "--server", r.readOnly, "--metrics-address", "", "-o", ro); err != nil {
		t.Fatalf("bugtool on the read-only socket: %v\n%s", err, msg)
	}
	files = readBundle(t, ro)
	if !strings.Contains(files["errors.txt"], "agent.log: reading the agent's logs needs the admin role") ||
		!strings.Contains(files["policies.json"], "bugtool-watch") {
		t.Errorf("read-only bundle: errors %q", files["errors.txt"])
	}
}
