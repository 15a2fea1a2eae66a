package respond

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

var testModules = map[string]string{"test.rego": testRules}

func TestKillTree(t *testing.T) {
	e, results := started(t, Options{}, testModules)
	tr := startTree(t, exec.Command("/bin/sh", "-c", "(while :; do sleep 1; done) & while :; do sleep 1; done"), 3)
	export(t, e, testAlert(t, tr[0], nil, Response{Action: ActionKill}))
	if r := result(t, results); !r.OK || len(r.Killed) < len(tr) || r.Killed[len(r.Killed)-1] != tr[0] {
		t.Fatalf("kill: %+v, want the tree %v killed, the shell last", r, tr)
	}
	waitDead(t, tr)
}

// Guards refuse whatever the rule says, and no process dies.
func TestNeverTouch(t *testing.T) {
	never := append([]string{`/sleep$`}, DefaultNeverTouch...)
	e, results := started(t, Options{NeverTouch: never}, testModules)
	sh := startTree(t, exec.Command("/bin/sh", "-c", "while :; do sleep 1; done"), 1)
	// the child is sh's fork until it has exec'd sleep (slow kernels)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", sh[1])); strings.HasSuffix(exe, "/sleep") {
			break
		}
	}
	busy := startTree(t, exec.Command("/bin/sh", "-c", "while :; do :; done"), 0)
	inPod := &event.Pod{Namespace: "ns", Name: "p", Container: &event.Container{Pid: 1}}
	for _, tc := range []struct {
		name string
		pid  int
		pod  *event.Pod
		r    Response
		want string
	}{
		{"pid 1", 1, nil, Response{Action: ActionKill, AllowPid1: true}, "PID 1"},
		{"agent", os.Getpid(), nil, Response{Action: ActionFreezeAndKill}, "never-touch"},
		{"binary", sh[1], nil, Response{Action: ActionKill}, "/sleep is on the never-touch list"},
		{"descendant", sh[0], nil, Response{Action: ActionKill}, "a descendant is binary"},
		{"container pid 1", busy[0], inPod, Response{Action: ActionKill}, "a container's PID 1"},
	} {
		export(t, e, testAlert(t, tc.pid, tc.pod, tc.r))
		if r := result(t, results); !strings.Contains(r.Refused, tc.want) {
			t.Errorf("%s: %+v, want refused: %s", tc.name, r, tc.want)
		}
	}
	mustAlive(t, append(sh, busy...)...)
	if s := e.Stats(); s.RefusedNeverTouch != 5 || len(s.Responses) != 0 {
		t.Errorf("stats %+v", s)
	}
	export(t, e, testAlert(t, busy[0], inPod, Response{Action: ActionKill, AllowPid1: true}))
	if r := result(t, results); !r.OK {
		t.Errorf("kill with allow_pid1: %+v", r)
	}
	waitDead(t, busy)
}

// A pid reused since the alert is left alone.
func TestReusedPid(t *testing.T) {
	e, results := started(t, Options{}, testModules)
	pid := sleeper(t)
	ev := testAlert(t, pid, nil, Response{Action: ActionKill})
	ev.ProcessKprobe.Process.StartTime = "2020-01-01T00:00:00Z"
	export(t, e, ev)
	if r := result(t, results); r.OK || !strings.Contains(r.Error, "another process") {
		t.Errorf("kill of a reused pid: %+v", r)
	}
	mustAlive(t, pid)
}
