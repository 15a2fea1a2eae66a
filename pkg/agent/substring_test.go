package agent

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// TestSubStringKillsOnAPartOfThePath: SubString matches a value anywhere in
// a string argument, in the kernel (bpf_strnstr), as Tetragon's does: cat
// is killed opening a path that holds one of the values, and not one that
// holds a near miss or the value in other case; SubStringIgnCase matches
// its values in any case.
func TestSubStringKillsOnAPartOfThePath(t *testing.T) {
	requires(t, probe.StrNStr)
	cat := resolvedPath("/bin/cat")
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: substring}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchBinaries:
      - {operator: In, values: [%q]}
      matchArgs:
      - {index: 1, operator: SubString, values: ["vigil-needle", "second-needle"]}
      matchActions:
      - action: Sigkill
    - matchBinaries:
      - {operator: In, values: [%q]}
      matchArgs:
      - {index: 1, operator: SubStringIgnCase, values: ["Case-Blind-Needle"]}
      matchActions:
      - action: Sigkill
`, cat, cat))
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		killed bool
	}{
		{"a-vigil-needle-b", true},
		{"x/second-needle", true},
		{"a-vigil-needl-b", false},
		{"vigil-needle", true},
		{"a-VIGIL-needle-b", false},
		{"a-CASE-blind-NEEDLE-b", true},
		{"case-blind-needle", true},
		{"x-Case-Blind-Needl", false},
	} {
		path := filepath.Join(dir, tc.name)
		cmd := exec.Command(cat, path)
		err := cmd.Run()
		if killed := killedBy(err) == syscall.SIGKILL; killed != tc.killed {
			t.Errorf("cat %s: %v, want killed %v", tc.name, err, tc.killed)
			continue
		}
		if !tc.killed {
			continue
		}
		ev := shared.sink.one(t, "the event of "+tc.name, kprobeOf(cmd.Process.Pid, "substring")).ProcessKprobe
		if ev.Action != event.ActionSigkill || len(ev.Args) != 1 || ev.Args[0].StringArg == nil || *ev.Args[0].StringArg != path {
			t.Errorf("event %+v", ev)
		}
	}
}
