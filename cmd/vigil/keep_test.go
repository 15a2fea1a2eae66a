package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// keptAgent runs `vigil agent --keep-enforcement` with its pins under
// pinDir and its state under state; the caller stops it.
func keptAgent(t *testing.T, bin, dir, pinDir, state string) (*exec.Cmd, *strings.Builder) {
	admin := filepath.Join(dir, "admin.sock")
	_ = os.Remove(admin)
	agent := exec.Command(bin, "agent", "--node-name", "keep", "--export-filename", filepath.Join(dir, "events.json"),
		"--api-socket", admin, "--api-readonly-socket", filepath.Join(dir, "ro.sock"),
		"--keep-enforcement", "--bpf-pin-dir", pinDir, "--state-dir", state)
	stderr := &strings.Builder{}
	agent.Stderr = stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	// a restart releases the old generation first: on a loaded machine
	// that takes longer than waitFor's 15 s
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(admin); err == nil {
			return agent, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the API socket; the agent wrote:\n%s", stderr)
		}
	}
}

// catKilled says whether cat of file was killed.
func catKilled(file string) bool {
	return killedBy(exec.Command("/bin/cat", file).Run()) == syscall.SIGKILL
}

// TestEnforcementOutlivesTheAgent: a kill policy added through the API
// goes on killing while the agent is down (kill -9), comes back with its
// counts when it restarts, and `vigil unpin` leaves nothing behind.
func TestEnforcementOutlivesTheAgent(t *testing.T) {
	bin := build(t)
	pinDir := filepath.Join("/sys/fs/bpf", "vigil-test-"+strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { _, _ = tracing.Unpin(pinDir); os.Remove(pinDir) })
	dir, state := t.TempDir(), t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, _ := filepath.EvalSymlinks("/bin/cat")
	doc := filepath.Join(dir, "kill.yaml")
	if err := os.WriteFile(doc, []byte(killSecret("kept-kill", secret, cat)), 0o600); err != nil {
		t.Fatal(err)
	}
	before := vigilPrograms(t)
	admin := "unix://" + filepath.Join(dir, "admin.sock")

	first, _ := keptAgent(t, bin, dir, pinDir, state)
	if out, err := vigilCmd(bin, "policy", "add", doc, "--server", admin); err != nil {
		t.Fatalf("policy add: %v\n%s", err, out)
	}
	if !catKilled(secret) {
		t.Fatal("cat of the secret was not killed with the agent up")
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	for i := range 2 {
		if !catKilled(secret) {
			t.Fatalf("cat %d of the secret read it with the agent killed (-9)", i)
		}
	}

	second, stderr := keptAgent(t, bin, dir, pinDir, state)
	out, err := vigilCmd(bin, "policy", "list", "-o", "json", "--server", admin)
	if err != nil || !strings.Contains(out, `"kept-kill"`) || !strings.Contains(out, `"loaded"`) {
		t.Fatalf("policy list after the restart: %v\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, `"actions": 3`) {
		t.Errorf("after the restart, want the 3 kills (1 before, 2 while down) counted:\n%s", out)
	}
	if !catKilled(secret) {
		t.Error("cat of the secret was not killed after the restart")
	}
	waitFor(t, "the agent_down lost_events record", func() bool {
		return strings.Contains(read(filepath.Join(dir, "events.json")), `"reason":"agent_down"`)
	})
	gens, _ := filepath.Glob(filepath.Join(pinDir, "gen-*"))
	if len(gens) != 1 {
		t.Errorf("pinned generations after the restart: %v, want the new one only", gens)
	}

	// an upgrade: stop, start again; a loop counts the reads that get through
	loop := exec.Command("/bin/sh", "-c", `n=0; while [ ! -e "$1" ]; do /bin/cat "$0" >/dev/null 2>&1 && n=$((n+1)); done; echo $n`,
		secret, filepath.Join(dir, "stop"))
	var through strings.Builder
	loop.Stdout = &through
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	_ = second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr)
	}
	third, stderr := keptAgent(t, bin, dir, pinDir, state)
	waitFor(t, "the third agent to release the second's programs", func() bool {
		now, _ := filepath.Glob(filepath.Join(pinDir, "gen-*"))
		return len(now) == 1 && now[0] != gens[0]
	})
	_ = os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600)
	if err := loop.Wait(); err != nil || strings.TrimSpace(through.String()) != "0" {
		t.Errorf("reads of the secret that got through across a restart: %q (%v)", through.String(), err)
	}
	_ = third.Process.Signal(syscall.SIGTERM)
	if err := third.Wait(); err != nil {
		t.Fatalf("agent: %v\n%s", err, stderr)
	}
	if !catKilled(secret) {
		t.Error("cat of the secret read it after the agent stopped (SIGTERM) with --keep-enforcement")
	}
	if out, err := vigilCmd(bin, "unpin", "--bpf-pin-dir", pinDir, "--state-dir", state, "--policies"); err != nil {
		t.Fatalf("unpin: %v\n%s", err, out)
	}
	if catKilled(secret) {
		t.Error("cat of the secret still killed after vigil unpin")
	}
	if left, _ := os.ReadDir(pinDir); len(left) != 0 {
		t.Errorf("left pinned after unpin: %v", left)
	}
	// the kernel frees a released program after a grace period
	waitFor(t, "Vigil's programs to leave the kernel after unpin", func() bool { return vigilPrograms(t) == before })
}
