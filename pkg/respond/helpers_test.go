package respond

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// testRules answer alerts of policy "test" with the response objects the
// alert's message holds, as JSON.
const testRules = `package vigil.responses

match contains {"type": "process_kprobe", "policy": "test"}

respond contains r if {
	input.process_kprobe.policy_name == "test"
	some r in json.unmarshal(input.process_kprobe.message)
}
`

// started runs an Engine with modules and opts until the test ends; its
// results arrive on the channel.
func started(t testing.TB, opts Options, modules map[string]string) (*Engine, chan Result) {
	t.Helper()
	e, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set(modules); err != nil {
		t.Fatal(err)
	}
	results := make(chan Result, 64)
	opts.OnResult = func(r Result) { results <- r }
	if err := e.Start(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, results
}

// kprobeAlert is an alert of policy for the running process pid, with
// the start time /proc gives.
func kprobeAlert(t testing.TB, pid int, policy string, pod *event.Pod) *event.Event {
	t.Helper()
	p := &event.Process{Pid: uint32(pid), Tid: uint32(pid), Binary: exePath(pid), Pod: pod}
	if st, err := readStat(pid); err == nil {
		p.StartTime = event.FormatTime(startTime(st))
	}
	return &event.Event{ProcessKprobe: &event.ProcessKprobe{Process: p, FunctionName: "__x64_sys_connect",
		Action: event.ActionPost, PolicyName: policy}, NodeName: "node-1", Time: event.FormatTime(time.Now())}
}

// testAlert is an alert of the test rules asking for resps.
func testAlert(t testing.TB, pid int, pod *event.Pod, resps ...Response) *event.Event {
	ev := kprobeAlert(t, pid, "test", pod)
	b, err := json.Marshal(resps)
	if err != nil {
		t.Fatal(err)
	}
	ev.ProcessKprobe.Message = string(b)
	return ev
}

func export(t testing.TB, e *Engine, ev *event.Event) {
	t.Helper()
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(ev, line); err != nil {
		t.Fatal(err)
	}
}

func result(t testing.TB, results chan Result) Result {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no response result within 10s")
	}
	return Result{}
}

// startTree starts cmd and waits until pid has at least n descendants.
func startTree(t *testing.T, cmd *exec.Cmd, n int) []int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if tr := tree(cmd.Process.Pid, parents()); len(tr) > n {
			return tr
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d did not get %d descendants", cmd.Process.Pid, n)
	return nil
}

// sleeper starts a process that sleeps until the test ends.
func sleeper(t *testing.T) int {
	t.Helper()
	return startTree(t, exec.Command("/bin/sleep", "600"), 0)[0]
}

// alive says whether pid runs (a zombie is dead).
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// waitDead fails the test unless every pid dies within 5s.
func waitDead(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !slices.ContainsFunc(pids, alive) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, p := range pids {
		if alive(p) {
			t.Errorf("process %d is alive", p)
		}
	}
}

func mustAlive(t *testing.T, pids ...int) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	for _, p := range pids {
		if !alive(p) {
			t.Errorf("process %d died", p)
		}
	}
}

func readEvidence(t *testing.T, path string) *Evidence {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("evidence file mode %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ev Evidence
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// must is for set-up steps that do not fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// example is one of the shipped rule files.
func example(name string) map[string]string {
	return must(readModules([]string{"../../examples/responses/" + name}))
}
