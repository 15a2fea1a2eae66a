package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
)

// processPolicy kills whoever opens a file under prefix when the selector
// on the process (YAML lines at selector depth) holds.
func processPolicy(name, prefix, selector string) string {
	return fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
%s      matchActions:
      - action: Sigkill
`, name, prefix, selector)
}

// mustRun runs cmd and fails unless its fate is the wanted one: killed by
// SIGKILL, or not killed.
func mustRun(t *testing.T, what string, cmd *exec.Cmd, wantKilled bool) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if killed := killedBy(err) == syscall.SIGKILL; killed != wantKilled {
		t.Errorf("%s: killed %v, want %v (err %v, output %q)", what, killed, wantKilled, err, out)
	}
}

func TestMatchParentBinaries(t *testing.T) {
	dir := publicDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bash := copyBinary(t, "/bin/bash", "parentbash")
	load(t, processPolicy("parent-binary", file, fmt.Sprintf("      matchParentBinaries:\n      - {operator: In, values: [%q]}\n", bash)))
	// the echo makes bash fork for cat rather than exec it
	out, _ := exec.Command(bash, "-c", "cat "+file+"; echo status=$?").CombinedOutput()
	if !strings.Contains(string(out), "status=137") {
		t.Errorf("cat started by the listed bash: want it killed (status 137), got %q", out)
	}
	mustRun(t, "cat started by the test", exec.Command("/bin/cat", file), false)
	mustRun(t, "the listed bash opening the file itself", exec.Command(bash, "-c", "read l < "+file), false)
}

func TestMatchNamespaces(t *testing.T) {
	dir := publicDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := nsInode(t, "mnt")
	load(t, processPolicy("other-mnt-ns", file, fmt.Sprintf("      matchNamespaces:\n      - {namespace: Mnt, operator: NotIn, values: [\"%d\"]}\n", own)))
	inNewNs := exec.Command("/bin/cat", file)
	inNewNs.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	mustRun(t, "cat in a new mount namespace", inNewNs, true)
	mustRun(t, "cat in the test's mount namespace", exec.Command("/bin/cat", file), false)
}

func TestMatchCapabilities(t *testing.T) {
	dir := publicDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load(t, processPolicy("cap-sys-admin", file, "      matchCapabilities:\n      - {type: Effective, operator: In, values: [CAP_SYS_ADMIN]}\n"))
	mustRun(t, "cat as root (CAP_SYS_ADMIN)", exec.Command("/bin/cat", file), true)
	nobody := exec.Command("/bin/cat", file)
	nobody.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	mustRun(t, "cat as nobody (no capabilities)", nobody, false)
}

// TestNamespaceCapability: with isNamespaceCapability, a capability
// counts only in a process outside the host's user namespace, as in
// Tetragon: root on the host is let through, root of a user namespace
// is not; for changes too.
func TestNamespaceCapability(t *testing.T) {
	if err := inUserNs(exec.Command("/bin/true")).Run(); err != nil {
		// the kernel matrix's guests run the tests in a chroot, where the
		// kernel refuses new user namespaces
		t.Skipf("no user namespace can be made here (in a chroot?): %v", err)
	}
	file := publicFile(t)
	load(t, processPolicy("ns-cap", file, "      matchCapabilities:\n      - {type: Effective, operator: In, isNamespaceCapability: true, values: [CAP_SYS_ADMIN]}\n"))
	mustRun(t, "cat as root on the host", exec.Command("/bin/cat", file), false)
	mustRun(t, "cat as root of a user namespace", inUserNs(exec.Command("/bin/cat", file)), true)
	if err := shared.agent.pols.Remove("ns-cap"); err != nil {
		t.Fatal(err)
	}
	load(t, processPolicy("ns-cap-changed", file, "      matchCapabilityChanges:\n      - {type: Effective, operator: In, isNamespaceCapability: true, values: [CAP_SYS_ADMIN]}\n"))
	mustRun(t, "a helper on the host that dropped CAP_SYS_ADMIN", changeHelper("drop21", file), false)
	mustRun(t, "a helper in a user namespace that changed nothing", inUserNs(changeHelper("none", file)), false)
	mustRun(t, "a helper in a user namespace that dropped CAP_SYS_ADMIN", inUserNs(changeHelper("drop21", file)), true)
}

// TestCapabilityChangesOnceAndOthers: as in Tetragon, a capability change
// is reported once (the process's capabilities then count as its new
// ones), and NotIn matches a change of other capabilities only.
func TestCapabilityChangesOnceAndOthers(t *testing.T) {
	file := publicFile(t)
	load(t, fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata: {name: caps-changed-once}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchCapabilityChanges: [{type: Effective, operator: In, values: [CAP_SYS_ADMIN]}]
`, file))
	twice := changeHelper("drop21+twice", file)
	if out, err := twice.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v %s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	if evs := shared.sink.find(t, 0, 0, kprobeOf(twice.Process.Pid, "caps-changed-once")); len(evs) != 1 {
		t.Errorf("two opens after one change: %d events, want 1", len(evs))
	}
	load(t, processPolicy("caps-changed-others", file, "      matchCapabilityChanges:\n      - {type: Effective, operator: NotIn, values: [CAP_SYS_ADMIN]}\n"))
	mustRun(t, "a helper that dropped CAP_SYS_ADMIN", changeHelper("drop21", file), false)
	mustRun(t, "a helper that changed nothing", changeHelper("none", file), false)
	mustRun(t, "a helper that dropped CAP_NET_RAW", changeHelper("drop13", file), true)
}

// publicFile is a file anyone may read, in a folder of its own.
func publicFile(t *testing.T) string {
	file := filepath.Join(publicDir(t), "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// inUserNs makes cmd run in a new user namespace where it is root, with
// every capability there and none on the host.
func inUserNs(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}}}
	return cmd
}

// changeHelper runs the test binary as a helper that changes its mount
// namespace ("unshare"), its credentials ("setuid") or nothing ("none")
// after its exec, then reads file.
func changeHelper(how, file string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=change-open:"+how+":"+file)
	return cmd
}

// changeThenOpen is the helper's side: the change and the open happen on
// one OS thread, the task whose namespaces and credentials the hook sees.
func changeThenOpen(arg string) {
	how, file, _ := strings.Cut(arg, ":")
	how, twice := strings.CutSuffix(how, "+twice")
	runtime.LockOSThread()
	if n, ok := strings.CutPrefix(how, "drop"); ok {
		if err := dropCapability(n); err != nil {
			os.Exit(5)
		}
	}
	switch how {
	case "unshare":
		if err := syscall.Unshare(syscall.CLONE_NEWNS); err != nil {
			os.Exit(2)
		}
	case "unshare-uts":
		if err := syscall.Unshare(syscall.CLONE_NEWUTS); err != nil {
			os.Exit(2)
		}
	case "setuid":
		if _, _, errno := syscall.RawSyscall(syscall.SYS_SETUID, 65534, 0, 0); errno != 0 {
			os.Exit(3)
		}
	}
	for range 1 + b2i(twice) {
		f, err := os.Open(file)
		if err != nil {
			os.Exit(4)
		}
		f.Close()
	}
	os.Exit(0)
}

// dropCapability takes capability number n out of the calling thread's
// effective set.
func dropCapability(n string) error {
	c, err := strconv.Atoi(n)
	if err != nil {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[c/32].Effective &^= 1 << (c % 32)
	return unix.Capset(&hdr, &data[0])
}

// Changes since exec: a process that unshares its mount namespace, or
// drops its capabilities with setuid, then opens the file.
func TestNamespaceAndCapabilityChanges(t *testing.T) {
	dir := publicDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load(t, processPolicy("mnt-changed", file, "      matchNamespaceChanges:\n      - {operator: In, values: [Mnt]}\n"))
	mustRun(t, "a helper that unshared its mount namespace after exec", changeHelper("unshare", file), true)
	mustRun(t, "a helper that changed nothing", changeHelper("none", file), false)
	newNs := exec.Command("/bin/cat", file)
	newNs.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // before its exec
	mustRun(t, "cat started in a new mount namespace", newNs, false)

	// NotIn, as in Tetragon: a namespace other than those listed changed
	if err := shared.agent.pols.Remove("mnt-changed"); err != nil {
		t.Fatal(err)
	}
	load(t, processPolicy("other-ns-changed", file, "      matchNamespaceChanges:\n      - {operator: NotIn, values: [Mnt]}\n"))
	mustRun(t, "NotIn Mnt: a helper that unshared its UTS namespace", changeHelper("unshare-uts", file), true)
	mustRun(t, "NotIn Mnt: a helper that unshared its mount namespace", changeHelper("unshare", file), false)
	load(t, processPolicy("caps-changed", file, "      matchCapabilityChanges:\n      - {type: Effective, operator: In, values: [CAP_SYS_ADMIN]}\n"))
	mustRun(t, "a helper that dropped its capabilities after exec", changeHelper("setuid", file), true)
	mustRun(t, "a helper that kept them", changeHelper("none", file), false)
}

// followChildren: the listed binary's children and grandchildren match,
// the same program started elsewhere does not.
func TestMatchBinariesFollowChildren(t *testing.T) {
	dir := publicDir(t)
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bash := copyBinary(t, "/bin/bash", "followbash")
	load(t, processPolicy("follow-children", file, fmt.Sprintf("      matchBinaries:\n      - {operator: In, values: [%q], followChildren: true}\n", bash)))
	for what, script := range map[string]string{
		"a child":      "cat " + file + "; echo status=$?",
		"a grandchild": "/bin/sh -c 'cat " + file + "; exit $?'; echo status=$?",
	} {
		out, _ := exec.Command(bash, "-c", script).CombinedOutput()
		if !strings.Contains(string(out), "status=137") {
			t.Errorf("%s of the listed bash: want it killed (status 137), got %q", what, out)
		}
	}
	mustRun(t, "cat started by the test", exec.Command("/bin/cat", file), false)
	out, _ := exec.Command("/bin/bash", "-c", "cat "+file+"; echo status=$?").CombinedOutput()
	if !strings.Contains(string(out), "status=0") {
		t.Errorf("cat started by another bash: want it untouched, got %q", out)
	}
}

// TestFileHooksShareTheResolvedPath: where file_open falls back to the
// open syscalls' exit, the hooks of one open resolve the file's path once
// and share it. A hook that resolves a binary's path in between (a
// matchBinaries not yet decided for the process) must not take it for the
// file's, and a hook after one that resolved the file must see the file.
func TestFileHooksShareTheResolvedPath(t *testing.T) {
	dir := publicDir(t)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	for _, f := range []string{a, b, c} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat := copyBinary(t, "/bin/cat", "sharecat")
	load(t, fileOpenPolicy("share-a", "Equal", resolvedPath(a), fmt.Sprintf("      matchBinaries: [{operator: In, values: [%q]}]\n", cat)))
	load(t, fileOpenPolicy("share-b", "Equal", resolvedPath(b), "      matchBinaries: [{operator: NotIn, values: [/bin/true]}]\n"))
	load(t, fileOpenPolicy("share-c", "Postfix", "/c"))
	// A process's first open (the loader's of /etc/ld.so.cache) is the one
	// whose matchBinaries verdicts are not known yet: share-b resolves the
	// file, then share-loader the binary, in the same buffer.
	loader := copyBinary(t, "/bin/cat", "loadercat")
	load(t, fileOpenPolicy("share-loader", "Equal", "/etc/ld.so.cache", fmt.Sprintf("      matchBinaries: [{operator: In, values: [%q]}]\n", loader)))
	run := exec.Command(loader, "/dev/null")
	mustRun(t, "the listed cat's loader opening its cache", run, true)
	evs := shared.sink.find(t, 1, 5*time.Second, func(ev *event.Event) bool {
		l := ev.ProcessLsm
		return l != nil && l.Process.Pid == uint32(run.Process.Pid) && l.PolicyName == "share-loader"
	})
	for _, e := range evs {
		if a := e.ProcessLsm.Args; len(a) != 1 || a[0].FileArg == nil || a[0].FileArg.Path != "/etc/ld.so.cache" {
			j, _ := json.Marshal(a)
			t.Errorf("the kill's event has args %s, want the file /etc/ld.so.cache", j)
		}
	}
	if len(evs) == 0 {
		t.Error("no event of the loader's kill")
	}
	mustRun(t, "the listed cat opening a", exec.Command(cat, a), true)
	mustRun(t, "the listed cat opening b", exec.Command(cat, b), true)
	mustRun(t, "another cat opening b", exec.Command("/bin/cat", b), true)
	mustRun(t, "another cat opening a", exec.Command("/bin/cat", a), false)
	// share-b resolves c; share-c, with no process condition, reuses it
	mustRun(t, "cat opening c", exec.Command("/bin/cat", c), true)
}

// TestFailedOpenIsNoFileOpen: an open that fails opened no file, so the
// file_open hook never ran for it (Tetragon posts nothing); where the hook
// is served at the open syscalls' exit, such a call is skipped, rather
// than seen as a file with an empty path.
func TestFailedOpenIsNoFileOpen(t *testing.T) {
	cat := copyBinary(t, "/bin/cat", "missingcat")
	load(t, fileOpenPolicy("failed-open", "NotPrefix", "/", fmt.Sprintf("      matchBinaries: [{operator: In, values: [%q]}]\n", cat)))
	mustRun(t, "cat of a missing file", exec.Command(cat, filepath.Join(publicDir(t), "missing")), false)
}

// TestFileTypeOperator: FileType and NotFileType match the type of the
// opened file's inode, as Tetragon's do on file and path arguments.
func TestFileTypeOperator(t *testing.T) {
	dir := publicDir(t)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: file-type}
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [%q]}
      - {index: 0, operator: FileType, values: [dir]}
      matchActions: [{action: Sigkill}]
    - matchArgs:
      - {index: 0, operator: Prefix, values: ["/dev/"]}
      - {index: 0, operator: NotFileType, values: [regular, dir]}
      matchBinaries: [{operator: In, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, resolvedPath(dir), resolvedPath("/bin/head")))
	mustRun(t, "ls of a directory", exec.Command("/bin/ls", filepath.Join(dir, "sub")), true)
	mustRun(t, "cat of a regular file", exec.Command("/bin/cat", file), false)
	mustRun(t, "head of /dev/zero, a character device", exec.Command("/bin/head", "-c1", "/dev/zero"), true)
	mustRun(t, "head of a regular file", exec.Command("/bin/head", "-c1", file), false)
}
