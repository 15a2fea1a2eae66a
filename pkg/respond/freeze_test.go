package respond

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// The shipped kill-crypto-miners rules on a real shell tree in its own
// cgroup: frozen, evidence with the tree, files, sockets and the digest,
// all killed, thawed; the second alert of the workload is over budget.
func TestFreezeAndKill(t *testing.T) {
	cg := cgrouptest.Make(t, cgrouptest.Root(t), fmt.Sprintf("vigil-respond-%d", os.Getpid()))
	ln := must(net.Listen("tcp", "127.0.0.1:0"))
	defer ln.Close()
	sock := must(ln.(*net.TCPListener).File())
	logPath := filepath.Join(t.TempDir(), "miner.log")
	logFile := must(os.Create(logPath))
	cmd := cgrouptest.Command(cg, "/bin/sh", "-c", "(while :; do sleep 1; done) & while :; do sleep 1; done")
	cmd.ExtraFiles = []*os.File{sock, logFile}
	tr := startTree(t, cmd, 3)
	sum := must(os.ReadFile(fmt.Sprintf("/proc/%d/exe", tr[0])))
	digest := sha256.Sum256(sum)

	var frozenSeen bool
	var states []byte
	dir := filepath.Join(t.TempDir(), "evidence")
	e, results := started(t, Options{EvidenceDir: dir, Budget: 1, AfterFreeze: func(d string) {
		frozenSeen = d == cg && frozen(d)
		for _, p := range tr {
			states = append(states, must(readStat(p)).state)
		}
	}}, example("kill-crypto-miners.rego"))
	pod := &event.Pod{Namespace: "mining", Name: "miner-abc", Workload: "miner", WorkloadKind: "Deployment",
		Container: &event.Container{ID: "containerd://abc", Name: "miner", Pid: 7}}
	export(t, e, kprobeAlert(t, tr[0], "kill-crypto-miners", pod))

	var res Result
	for range 2 { // the label is skipped (no client), then freeze_and_kill
		if r := result(t, results); r.Action == ActionFreezeAndKill {
			res = r
		} else if r.Skipped == "" {
			t.Errorf("label: %+v, want skipped", r)
		}
	}
	if !res.OK || res.Frozen != cg {
		t.Fatalf("freeze_and_kill: %+v", res)
	}
	if !frozenSeen || slices.Contains(states, 'R') {
		t.Errorf("at AfterFreeze the cgroup was not frozen (%v) or a process ran (states %q)", frozenSeen, states)
	}
	if frozen(cg) {
		t.Error("the cgroup is still frozen")
	}
	waitDead(t, tr)
	if res.Killed[len(res.Killed)-1] != tr[0] || len(res.Killed) < len(tr) {
		t.Errorf("killed %v, want the tree %v, the shell last", res.Killed, tr)
	}
	checkEvidence(t, readEvidence(t, res.Evidence), tr, hex.EncodeToString(digest[:]), logPath,
		ln.Addr().String())
	if fi := must(os.Stat(dir)); fi.Mode().Perm() != 0o700 {
		t.Errorf("evidence directory mode %v, want 0700", fi.Mode().Perm())
	}

	// the same workload again within the window: over budget, not killed
	other := startTree(t, cgrouptest.Command(cg, "/bin/sh", "-c", "while :; do sleep 1; done"), 1)
	export(t, e, kprobeAlert(t, other[0], "kill-crypto-miners", pod))
	for range 2 {
		if r := result(t, results); r.Action == ActionFreezeAndKill && !strings.Contains(r.Refused, "budget") {
			t.Errorf("second alert: %+v, want refused by the budget", r)
		}
	}
	mustAlive(t, other...)
	if s := e.Stats(); s.RefusedBudget != 1 || s.Responses[ActionFreezeAndKill] != 1 || s.Evaluations != 2 {
		t.Errorf("stats %+v", s)
	}
}

func checkEvidence(t *testing.T, ev *Evidence, tr []int, digest, logPath, addr string) {
	t.Helper()
	p := ev.Process
	if p == nil || p.Pid != tr[0] || p.SHA256 != digest || p.Exe == "" || len(p.Cmdline) < 2 {
		t.Fatalf("evidence process %+v, want pid %d with sha256 %s", p, tr[0], digest)
	}
	var pids []int
	for _, d := range ev.Descendants {
		pids = append(pids, d.Pid)
	}
	if !slices.Equal(pids, tr[1:]) {
		t.Errorf("evidence descendants %v, want %v", pids, tr[1:])
	}
	if len(ev.Ancestors) == 0 || ev.Ancestors[0].Pid != os.Getpid() {
		t.Errorf("evidence ancestors %+v, want the test first", ev.Ancestors)
	}
	if !slices.ContainsFunc(p.Files, func(f OpenFile) bool { return f.FD == 4 && f.Path == logPath }) {
		t.Errorf("open files %+v, want fd 4 %s", p.Files, logPath)
	}
	if !slices.ContainsFunc(p.Sockets, func(s Socket) bool { return s.Local == addr && s.State == "LISTEN" }) {
		t.Errorf("sockets %+v, want %s listening", p.Sockets, addr)
	}
	if ev.FrozenCgroup == "" || ev.Workload != "mining/miner" || len(ev.Alert) == 0 {
		t.Errorf("evidence %+v", ev)
	}
}

// A cgroup that cannot be frozen (here the root, which also holds the
// test) is left alone: the evidence and the kill still happen.
func TestFreezeRefusedStillKills(t *testing.T) {
	e, results := started(t, Options{EvidenceDir: t.TempDir()}, testModules)
	pid := sleeper(t)
	export(t, e, testAlert(t, pid, nil, Response{Action: ActionFreezeAndKill}))
	r := result(t, results)
	if r.OK || r.Frozen != "" || !strings.Contains(r.Error, "freeze: ") || r.Evidence == "" || len(r.Killed) != 1 {
		t.Fatalf("freeze_and_kill in the test's cgroup: %+v", r)
	}
	waitDead(t, []int{pid})
}
