package main

// End-to-end tests of the vigil binary, as root.

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/vigil-sec/vigil/pkg/event"
)

// build compiles the binary into a directory every user can read.
func build(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vigil-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// vigilPrograms counts loaded BPF programs that belong to Vigil's sensor.
func vigilPrograms(t *testing.T) int {
	t.Helper()
	n := 0
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return n
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil && strings.HasPrefix(info.Name, "on_") {
			n++
		}
		p.Close()
	}
}

func TestAgentWritesRotatedFileAndStopsCleanly(t *testing.T) {
	bin := build(t)
	before := vigilPrograms(t)
	out := filepath.Join(t.TempDir(), "events.json")
	agent := exec.Command(bin, "agent", "--node-name", "e2e", "--export-filename", out, "--export-file-max-size-mb", "1",
		"--api-socket", "", "--metrics-address", "")
	var stderr strings.Builder
	agent.Stderr = &stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the snapshot in the export file", func() bool { return strings.Contains(read(out), `"procFS"`) })
	ls := exec.Command("/bin/ls", "/")
	if err := ls.Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ls's exit event", func() bool { return findExit(read(out), ls.Process.Pid) })
	// over 1 MB of events: the file rotates
	storm := exec.Command("/bin/sh", "-c", "for i in $(seq 3000); do /bin/true; done")
	if err := storm.Run(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the storm's exit event", func() bool { return findExit(read(out), storm.Process.Pid) })
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Fatalf("agent exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	files, _ := filepath.Glob(strings.TrimSuffix(out, ".json") + "*.json")
	if len(files) < 2 {
		t.Errorf("export files %v: want the file and at least one rotated backup", files)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, st.Mode().Perm(), err)
		}
	}
	// the kernel frees released programs asynchronously
	waitFor(t, "Vigil's BPF programs to be unloaded", func() bool { return vigilPrograms(t) == before })
}

func findExit(lines string, pid int) bool {
	sc := bufio.NewScanner(strings.NewReader(lines))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev event.Event
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.ProcessExit != nil &&
			ev.ProcessExit.Process.Pid == uint32(pid) && ev.ProcessExit.Process.Binary != "" && ev.NodeName == "e2e" {
			return true
		}
	}
	return false
}

func TestAgentRefusesToRunWithoutRoot(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin, "agent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "vigil: not running as root") {
		t.Errorf("want one error line naming root, got:\n%s", out)
	}
}

func read(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestHeapHeadroomFlags: the heap's headroom flags are checked, and the
// error names the flag and the reason.
func TestHeapHeadroomFlags(t *testing.T) {
	for _, c := range []struct {
		min, max int
		err      string
	}{
		{4, 32, ""},
		{0, 0, ""},
		{-1, 32, "--heap-headroom-mb -1: must not be negative"},
		{8, 4, "--heap-headroom-max-mb 4: must not be under --heap-headroom-mb (8)"},
	} {
		cfg, err := (&agentFlags{heapHeadroomMB: c.min, heapHeadroomMaxMB: c.max}).memtune()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%d/%d: %v", c.min, c.max, err)
		case c.err == "" && (cfg.Min != uint64(c.min)<<20 || cfg.Max != uint64(c.max)<<20):
			t.Errorf("%d/%d: headroom %d-%d bytes", c.min, c.max, cfg.Min, cfg.Max)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%d/%d: error %v, want %q", c.min, c.max, err, c.err)
		}
	}
}
