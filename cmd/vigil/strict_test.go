package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/tetragon/api/v1/tetragon"
	"google.golang.org/protobuf/encoding/protojson"
)

// withoutAdditions removes from an exported event the fields Vigil adds to
// Tetragon's (README, Events) that these events can have: each process's
// cgroup and pod uid, and a policy event's backend and mode. It says false
// for Vigil's own lost_events records, which Tetragon's events have no
// place for.
func withoutAdditions(t *testing.T, line []byte) ([]byte, bool) {
	var ev map[string]any
	if err := json.Unmarshal(line, &ev); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if ev["lost_events"] != nil {
		return nil, false
	}
	for kind, body := range ev {
		m, ok := body.(map[string]any)
		if !ok || !strings.HasPrefix(kind, "process_") {
			continue
		}
		delete(m, "backend")
		delete(m, "mode")
		procs := []any{m["process"], m["parent"]}
		if anc, ok := m["ancestors"].([]any); ok {
			procs = append(procs, anc...)
		}
		for _, p := range procs {
			if p, ok := p.(map[string]any); ok {
				delete(p, "cgroup")
				if pod, ok := p["pod"].(map[string]any); ok {
					delete(pod, "uid")
				}
			}
		}
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

// Exported events, their documented additions removed, parse as Tetragon's
// GetEventsResponse with its own Go types and a strict parser (unknown
// fields and enum values refused), with every optional part on; with
// --export-tetragon-strict they do as they are.
func TestExportParsesAsTetragonStrictly(t *testing.T) {
	bin := build(t)
	t.Run("additions removed", func(t *testing.T) { parsesAsTetragon(t, bin, false) })
	t.Run("export-tetragon-strict", func(t *testing.T) { parsesAsTetragon(t, bin, true) })
}

func parsesAsTetragon(t *testing.T, bin string, strict bool) {
	args := []string{"--metrics-address", "", "--tracing-policy-dir", "../../examples/policies",
		"--enable-process-cred", "--enable-process-ns", "--enable-ancestors"}
	if strict {
		args = append(args, "--export-tetragon-strict")
	}
	r := startAgent(t, bin, args...)
	var lines []string
	waitFor(t, "the kill of cat /etc/shadow and a connect to port 4444 in the export", func() bool {
		if killedBy(exec.Command("/bin/cat", "/etc/shadow").Run()) != syscall.SIGKILL {
			return false
		}
		// the example kills what connects there: a shell of its own
		_ = exec.Command("/bin/bash", "-c", "echo > /dev/tcp/127.0.0.1/4444").Run()
		b, _ := os.ReadFile(r.out)
		lines = strings.Split(string(b), "\n")
		return strings.Contains(string(b), `"process_lsm"`) && strings.Contains(string(b), `"process_kprobe"`)
	})
	kinds := map[string]int{}
	for _, line := range lines {
		if line == "" {
			continue
		}
		parsed, ok := []byte(line), true
		if !strict {
			parsed, ok = withoutAdditions(t, parsed)
		}
		if !ok {
			continue
		}
		var resp tetragon.GetEventsResponse
		if err := protojson.Unmarshal(parsed, &resp); err != nil {
			t.Errorf("not Tetragon's: %v\n%s", err, line)
			continue
		}
		kinds[strings.SplitN(strings.TrimPrefix(line, `{"`), `"`, 2)[0]]++
	}
	for _, k := range []string{"process_exec", "process_exit", "process_kprobe", "process_lsm"} {
		if kinds[k] == 0 {
			t.Errorf("no %s parsed (parsed: %v)", k, kinds)
		}
	}
}
