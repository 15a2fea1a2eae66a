package agent

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"
)

// TestDataFromTheCurrentTask: data entries read members of the current
// task (source current_task), shown after the arguments as Tetragon shows
// them, and matchData filters on them by their position: cat under
// another name opens the file with an event carrying its comm and tgid,
// plain cat opens it without one.
func TestDataFromTheCurrentTask(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	renamed := copyBinary(t, resolvedPath("/bin/cat"), "vigil-datacat")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: data-task}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    data:
    - {index: 0, type: string, source: current_task, resolve: comm, label: comm}
    - {index: 0, type: int, source: current_task, resolve: tgid}
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchData: [{index: 0, operator: Equal, values: [vigil-datacat]}]
`, dir))
	plain := exec.Command("/bin/cat", secret)
	mustRun(t, "plain cat", plain, false)
	cmd := exec.Command(renamed, secret)
	mustRun(t, "renamed cat", cmd, false)
	ev := shared.sink.one(t, "the open of the renamed cat", kprobeOf(cmd.Process.Pid, "data-task")).ProcessKprobe
	if len(ev.Args) != 3 || ev.Args[0].StringArg == nil || *ev.Args[0].StringArg != secret ||
		ev.Args[1].StringArg == nil || *ev.Args[1].StringArg != "vigil-datacat" || ev.Args[1].Label != "comm" ||
		ev.Args[2].IntArg == nil || *ev.Args[2].IntArg != int32(cmd.Process.Pid) {
		out, _ := json.Marshal(ev.Args)
		t.Errorf("args %s, want the path, comm vigil-datacat and tgid %d", out, cmd.Process.Pid)
	}
	if evs := shared.sink.find(t, 1, 0, kprobeOf(plain.Process.Pid, "data-task")); len(evs) != 0 {
		t.Errorf("plain cat (comm cat): %d events, want none", len(evs))
	}
}
