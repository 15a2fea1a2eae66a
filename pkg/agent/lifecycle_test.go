package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/process"
)

func TestExecThroughSymlinkWithRelativePath(t *testing.T) {
	me := self(t)
	dir := publicDir(t)
	if err := os.Symlink("/bin/true", filepath.Join(dir, "mytrue")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("./mytrue", "a b", `say "hi"`, "", `back\slash`, "plain")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ev := shared.sink.one(t, "exec of ./mytrue", execOf(cmd.Process.Pid))
	p := ev.ProcessExec.Process
	want, _ := filepath.EvalSymlinks("/bin/true")
	if p.Binary != want {
		t.Errorf("binary = %q, want the resolved path %q", p.Binary, want)
	}
	if wantArgs := `"a b" "say \"hi\"" "" "back\\slash" plain`; p.Arguments != wantArgs {
		t.Errorf("arguments = %s, want %s", p.Arguments, wantArgs)
	}
	if realDir, _ := filepath.EvalSymlinks(dir); p.Cwd != realDir {
		t.Errorf("cwd = %q, want %q", p.Cwd, realDir)
	}
	if p.UID != 65534 || p.Credentials.EUID != 65534 || p.Credentials.GID != 65534 {
		t.Errorf("uid = %d, creds = %+v, want 65534", p.UID, p.Credentials)
	}
	if p.ParentExecID != me.ExecID || ev.ProcessExec.Parent == nil || ev.ProcessExec.Parent.ExecID != me.ExecID {
		t.Errorf("parent exec_id = %q, want the test process's %q", p.ParentExecID, me.ExecID)
	}
	if p.Flags != "execve clone" {
		t.Errorf("flags = %q, want %q", p.Flags, "execve clone")
	}
	if p.Cap == nil || len(p.Cap.Effective) != 0 {
		t.Errorf("an unprivileged exec should have no effective capabilities, got %+v", p.Cap)
	}
	if p.Ns == nil || p.Ns.Mnt == nil || p.Ns.Mnt.Inum != nsInode(t, "mnt") || p.Ns.Net.Inum != nsInode(t, "net") {
		t.Errorf("namespaces mnt %+v net %+v, want this process's mnt %d and net %d", p.Ns.Mnt, p.Ns.Net, nsInode(t, "mnt"), nsInode(t, "net"))
	}
}

// publicDir is a temporary directory that unprivileged users can enter.
func publicDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "vigil-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func nsInode(t *testing.T, name string) uint32 {
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/"+name, &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

func TestExecCapturesCgroup(t *testing.T) {
	dir := cgrouptest.Make(t, cgrouptest.Root(t), "vigil-test-"+strconv.Itoa(os.Getpid()))
	cmd := cgrouptest.Command(dir, "/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	evs := shared.sink.find(t, 2, 10*time.Second, execOf(cmd.Process.Pid))
	if len(evs) != 2 {
		t.Fatalf("want exec events for sh and true, got %d", len(evs))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	cg := evs[1].ProcessExec.Process.Cgroup
	if cg.Name != filepath.Base(dir) || cg.ID != st.Ino {
		t.Errorf("cgroup = %+v, want name %q id %d", cg, filepath.Base(dir), st.Ino)
	}
}

func TestExitStatusAndSignal(t *testing.T) {
	waitTracing(t)
	code3 := exec.Command("/bin/sh", "-c", "exit 3")
	_ = code3.Run()
	ev := shared.sink.one(t, "exit of sh -c 'exit 3'", exitOf(code3.Process.Pid))
	if x := ev.ProcessExit; x.Status != 3 || x.Signal != "" {
		t.Errorf("exit 3: status %d signal %q", x.Status, x.Signal)
	}
	if x := ev.ProcessExit; x.Process.Binary == "" || x.Parent == nil || x.Parent.Pid != uint32(os.Getpid()) {
		t.Errorf("exit event lacks its process or parent: %+v", x)
	}

	sleeper := exec.Command("/bin/sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	shared.sink.one(t, "exec of sleep", execOf(sleeper.Process.Pid))
	_ = sleeper.Process.Kill()
	_ = sleeper.Wait()
	ev = shared.sink.one(t, "exit of killed sleep", exitOf(sleeper.Process.Pid))
	if x := ev.ProcessExit; x.Signal != "SIGKILL" || x.Status != 0 {
		t.Errorf("killed: status %d signal %q, want SIGKILL", x.Status, x.Signal)
	}
}

func TestForkWithoutExecAndGrandchild(t *testing.T) {
	dir := t.TempDir()
	// bash forks a subshell that never execs; the subshell forks and execs
	// /bin/true (not its last command, so it cannot exec in place).
	cmd := exec.Command("/bin/bash", "-c", `( echo $BASHPID > "$0/sub"; /bin/true; : ); :`, dir)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/sub")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	bash := shared.sink.one(t, "exec of bash", execOf(cmd.Process.Pid)).ProcessExec.Process
	trueEv := shared.sink.one(t, "exec of the grandchild", func(ev *event.Event) bool {
		return ev.ProcessExec != nil && ev.ProcessExec.Parent != nil && ev.ProcessExec.Parent.Pid == uint32(sub)
	})
	parent := trueEv.ProcessExec.Parent
	if parent.Binary != bash.Binary || !strings.Contains(parent.Flags, "clone") {
		t.Errorf("grandchild's parent = %+v, want the forked %s with flag clone", parent, bash.Binary)
	}
	if parent.ParentExecID != bash.ExecID {
		t.Errorf("forked subshell's parent_exec_id = %q, want bash's %q", parent.ParentExecID, bash.ExecID)
	}
	if anc := trueEv.ProcessExec.Ancestors; len(anc) == 0 || anc[0].ExecID != bash.ExecID {
		t.Errorf("ancestors should start with bash, got %d entries", len(anc))
	}
	shared.sink.one(t, "exit of the subshell", exitOf(sub))
	if evs := shared.sink.find(t, 1, 0, execOf(sub)); len(evs) != 0 {
		t.Errorf("the subshell never execs, yet %d exec events name it", len(evs))
	}
}

func TestThreadsMakeOneExecAndOneExit(t *testing.T) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=threads")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	shared.sink.one(t, "exit of the threaded process", exitOf(cmd.Process.Pid))
	if evs := shared.sink.find(t, 1, 0, execOf(cmd.Process.Pid)); len(evs) != 1 {
		t.Errorf("want 1 exec event for a process with 8 threads, got %d", len(evs))
	}
}

func TestSnapshotProcessAndItsExit(t *testing.T) {
	ev := shared.sink.one(t, "snapshot of the process started before the agent", execOf(early.Process.Pid))
	p := ev.ProcessExec.Process
	if p.Flags != "procFS" || p.Binary == "" || !strings.Contains(p.Arguments, earlyGate) {
		t.Errorf("snapshot record = %+v, want flags procFS, binary and arguments", p)
	}
	if ev.ProcessExec.Parent == nil || ev.ProcessExec.Parent.Pid != uint32(os.Getpid()) {
		t.Errorf("snapshot record's parent should be the test process")
	}
	if err := os.WriteFile(earlyGate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = early.Wait()
	exit := shared.sink.one(t, "exit of the snapshot process", exitOf(early.Process.Pid)).ProcessExit
	if exit.Status != 7 || exit.Process.ExecID != p.ExecID {
		t.Errorf("exit status %d exec_id %q, want 7 and %q", exit.Status, exit.Process.ExecID, p.ExecID)
	}
}

func TestArgvLongerThanTheKernelBuffer(t *testing.T) {
	argv := []string{"/bin/true"}
	for i := 0; i < 2000; i++ {
		argv = append(argv, "arg"+strconv.Itoa(i))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	p := shared.sink.one(t, "exec with long argv", execOf(cmd.Process.Pid)).ProcessExec.Process
	if !strings.Contains(p.Flags, "truncArgs") {
		t.Errorf("flags = %q, want truncArgs", p.Flags)
	}
	// exactly the first 4095 bytes of the argv area, argv[0] left out
	area := strings.Join(argv, "\x00")[:4095]
	want := strings.Join(strings.Split(area, "\x00")[1:], " ")
	if p.Arguments != want {
		t.Errorf("truncated arguments differ from the argv prefix:\n got %q\nwant %q", tail(p.Arguments), tail(want))
	}
}

func tail(s string) string {
	if len(s) > 40 {
		return "..." + s[len(s)-40:]
	}
	return s
}

// TestAncestorsByEventType: with Tetragon's --enable-ancestors=base, exec
// events carry the ancestors and hook events do not; with kprobe too,
// both do.
func TestAncestorsByEventType(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	for _, kinds := range []string{"base", "base,kprobe"} {
		anc, err := process.ParseAncestors(kinds)
		if err != nil {
			t.Fatal(err)
		}
		r := start(t, Config{Process: process.Options{Ancestors: anc}})
		docs, err := policy.Parse([]byte(killReadPolicy("ancestors", dir+"/secret", "monitor")), t.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.agent.pols.Apply(t.Name(), docs[0]); err != nil {
			t.Fatal(err)
		}
		// the test, then bash, then cat: cat has ancestors
		cmd := exec.Command("/bin/bash", "-c", "/bin/cat \"$0\"; true", secret)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		execs := r.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
			return ev.ProcessExec != nil && ev.ProcessExec.Parent != nil && ev.ProcessExec.Parent.Pid == uint32(cmd.Process.Pid)
		})
		kp := r.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
			return ev.ProcessKprobe != nil && ev.ProcessKprobe.Parent != nil && ev.ProcessKprobe.Parent.Pid == uint32(cmd.Process.Pid)
		})
		r.stop()
		if len(execs) == 0 || len(kp) == 0 {
			t.Fatalf("%s: %d exec and %d kprobe events of cat", kinds, len(execs), len(kp))
		}
		if len(execs[0].ProcessExec.Ancestors) == 0 || (len(kp[0].ProcessKprobe.Ancestors) > 0) != anc.Kprobe {
			t.Errorf("%s: exec ancestors %d, kprobe ancestors %d", kinds, len(execs[0].ProcessExec.Ancestors), len(kp[0].ProcessKprobe.Ancestors))
		}
	}
}
