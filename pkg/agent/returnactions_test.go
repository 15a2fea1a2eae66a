package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// TestReturnActionsKillAfterTheCall: matchReturnActions run at the
// return once matchReturnArgs hold, as in Tetragon: a cat whose open of a
// watched file succeeded is killed after it (its event carries the
// descriptor and the Sigkill); one whose open failed is neither killed nor
// reported. NoPost among them drops the event; a rateLimit among them
// collapses repeats; Signal sends argSig.
func TestReturnActionsKillAfterTheCall(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kill/secret", "quiet/f", "limited/f", "signal/f"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: return-actions}
spec:
  kprobes:
  - call: sys_openat
    return: true
    args: [{index: 1, type: string}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchReturnArgs: [{operator: GT, values: ["-1"]}]
      matchReturnActions: [{action: Sigkill}]
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchReturnActions: [{action: NoPost}]
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchReturnActions: [{action: Post, rateLimit: 1m, rateLimitScope: process}]
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchReturnActions: [{action: Signal, argSig: 10}]
`, dir+"/kill/", dir+"/quiet/", dir+"/limited/", dir+"/signal/"))
	usr1 := exec.Command("/bin/cat", filepath.Join(dir, "signal/f"))
	if sig := killedBy(usr1.Run()); sig != syscall.SIGUSR1 {
		t.Errorf("cat of the signal file: killed by %v, want SIGUSR1 (argSig 10)", sig)
	}
	cat := exec.Command("/bin/cat", filepath.Join(dir, "kill/secret"))
	out, err := cat.Output()
	if sig := killedBy(err); sig != syscall.SIGKILL {
		t.Fatalf("cat of the secret: %v, want SIGKILL after the open", err)
	}
	if len(out) != 0 {
		t.Errorf("the killed cat printed %q: it read the file after the open", out)
	}
	k := shared.sink.one(t, "the open that succeeded", kprobeOf(cat.Process.Pid, "return-actions")).ProcessKprobe
	if k.Action != event.ActionSigkill || k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg < 0 {
		t.Errorf("event action %s, return %+v: want the Sigkill and the descriptor", k.Action, k.Return)
	}
	missing := exec.Command("/bin/cat", filepath.Join(dir, "kill/missing"))
	if err := missing.Run(); killedBy(err) != 0 {
		t.Errorf("cat of a missing file: %v, want a plain failure (the open failed: matchReturnArgs do not hold)", err)
	}
	quiet := exec.Command("/bin/sh", "-c", `for i in 1 2 3; do : < "$0"; done; : < "$1"; : < "$1"; : < "$1"`,
		filepath.Join(dir, "quiet/f"), filepath.Join(dir, "limited/f"))
	mustRun(t, "opens of the quiet and the limited files", quiet, false)
	shared.sink.one(t, "exit of the missing file's cat", exitOf(missing.Process.Pid))
	shared.sink.one(t, "the first open of the limited file", kprobeOf(quiet.Process.Pid, "return-actions"))
	time.Sleep(300 * time.Millisecond)
	if evs := shared.sink.find(t, 0, 0, kprobeOf(missing.Process.Pid, "return-actions")); len(evs) != 0 {
		t.Errorf("%d events of the failed open, want none", len(evs))
	}
	evs := shared.sink.find(t, 0, 0, kprobeOf(quiet.Process.Pid, "return-actions"))
	if len(evs) != 1 || *evs[0].ProcessKprobe.Args[0].StringArg != filepath.Join(dir, "limited/f") {
		t.Errorf("%d events of three NoPost opens and three rate-limited ones, want one of the limited file", len(evs))
	}
}
