package agent

import (
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/probe"
)

// TestKprobeMultiServesAList: where the kernel has kprobe_multi links, the
// kprobes of a list share one program (one load, verified once) and one
// link, each function's hook found by its cookie: cat's open, read and
// stat each post from their own function.
func TestKprobeMultiServesAList(t *testing.T) {
	requires(t, probe.KprobeMulti)
	hooks := shared.agent.sensor.Hooks()
	before := hooks.Loads()
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: multi}
spec:
  lists:
  - {name: fns, values: [security_file_open, security_file_permission, security_inode_getattr]}
  kprobes:
  - call: list:fns
    selectors:
    - matchBinaries: [{operator: In, values: [%q]}]
`, resolvedPath("/bin/cat")))
	if n := hooks.Loads() - before; n != 1 {
		t.Errorf("%d programs loaded for three functions, want 1 (one kprobe_multi program)", n)
	}
	_, secret, _ := secretFiles(t)
	cat := exec.Command("/bin/cat", secret)
	mustRun(t, "cat", cat, false)
	seen := map[string]bool{}
	for deadline := time.Now().Add(5 * time.Second); len(seen) < 3 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, ev := range shared.sink.find(t, 0, 0, kprobeOf(cat.Process.Pid, "multi")) {
			seen[ev.ProcessKprobe.FunctionName] = true
		}
	}
	for _, fn := range []string{"security_file_open", "security_file_permission", "security_inode_getattr"} {
		if !seen[fn] {
			t.Errorf("no event of %s from cat (seen %v)", fn, seen)
		}
	}
}
