package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// hostileDir is a policy directory holding a kill policy for secret among
// files that are not policies: a FIFO, a symlink to /dev/zero and a 50 MB
// file, all named *.yaml.
func hostileDir(t *testing.T, secret string) string {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.yaml")); err != nil {
		t.Fatal(err)
	}
	big := "# " + strings.Repeat("x", 50<<20) + "\n" + killReadPolicy("big", "/nothing", "enforce")
	for name, doc := range map[string]string{"big.yaml": big, "kill.yaml": killReadPolicy("hostile-kill", secret, "enforce")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPolicyDirSurvivesHostileFiles: files in the policy directory that
// would block or exhaust the agent are refused, each with its reason, and
// the real policy next to them loads and kills; the watcher goes on
// applying changes.
func TestPolicyDirSurvivesHostileFiles(t *testing.T) {
	_, secret, _ := secretFiles(t)
	dir := hostileDir(t, secret)
	started := make(chan *running, 1)
	go func() { started <- start(t, Config{PolicyDir: dir, PolicyReload: 100 * time.Millisecond}) }()
	var r *running
	select {
	case r = <-started:
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not start in 60 s with a FIFO in its policy directory")
	}
	defer r.stop()
	if err := exec.Command("/bin/cat", secret).Run(); killedBy(err) != syscall.SIGKILL {
		t.Fatalf("cat of the watched file: %v, want killed", err)
	}
	names := map[string]bool{}
	for _, p := range r.agent.ListPolicies() {
		names[p.Name] = true
	}
	if !names["hostile-kill"] || names["big"] {
		t.Fatalf("policies loaded: %v, want hostile-kill and not big", names)
	}
	// the watcher is not stuck on the FIFO: a new file loads
	if err := os.WriteFile(filepath.Join(dir, "later.yaml"), []byte(killReadPolicy("later", "/nothing", "enforce")), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !loaded(r.agent, "later") {
		if time.Now().After(deadline) {
			t.Fatal("a policy file written after start was not loaded in 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loaded(a *Agent, name string) bool {
	p, ok := a.Policy(name)
	return ok && p.State == StateLoaded
}

// TestHalfWrittenPolicyIsNotLoaded: a kill policy written in two steps,
// its first part valid YAML without the kill, is loaded only whole: no
// attempt on the secret is let through with a post.
func TestHalfWrittenPolicyIsNotLoaded(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	pdir := t.TempDir()
	r := start(t, Config{PolicyDir: pdir, PolicyReload: 20 * time.Millisecond, PolicySettle: 2 * time.Second})
	defer r.stop()
	loop := exec.Command("/bin/sh", "-c", `while [ ! -e "$1" ]; do /bin/cat "$0" >/dev/null 2>&1; done`, secret, dir+"/stop")
	if err := loop.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = os.WriteFile(dir+"/stop", nil, 0o600)
		_ = loop.Wait()
	}()
	whole := killReadPolicy("half", secret, "enforce")
	half := whole[:strings.Index(whole, "      matchActions:")]
	file := filepath.Join(pdir, "half.yaml")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(half); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // many polls see the half; it has not settled
	if _, err := f.WriteString(whole[len(half):]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// the bound is generous: under software emulation the loop of cats
	// competes with the load for the CPU (22 s seen on a 6.12 guest)
	evs := r.sink.find(t, 5, 90*time.Second, func(ev *event.Event) bool {
		return ev.ProcessKprobe != nil && ev.ProcessKprobe.PolicyName == "half"
	})
	if len(evs) < 5 {
		t.Fatalf("%d events of the whole policy, want 5", len(evs))
	}
	for _, ev := range r.sink.find(t, 0, 0, func(ev *event.Event) bool {
		return ev.ProcessKprobe != nil && ev.ProcessKprobe.PolicyName == "half"
	}) {
		if a := ev.ProcessKprobe.Action; a != event.ActionSigkill {
			t.Fatalf("an event of the half-written policy: action %s", a)
		}
	}
}
