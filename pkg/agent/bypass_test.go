package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// opener opens path (how: open, openat2, dirfd) with a syscall Go's os
// package does not use, or (unshare, chroot) where the file has another
// path, reads it to stdout, and exits 0; it is killed first when a policy
// catches the open.
func opener(arg string) {
	how, path, _ := strings.Cut(arg, ":")
	var fd int
	var err error
	switch how {
	case "unshare", "chroot":
		fd, err = openElsewhere(how, path)
	case "open":
		p := cString(path)
		r, _, errno := syscall.Syscall(syscall.SYS_OPEN, uintptr(unsafe.Pointer(p)), syscall.O_RDONLY, 0)
		fd, err = int(r), errnoErr(errno)
	case "openat2":
		fd, err = unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{Flags: unix.O_RDONLY})
	case "dirfd":
		var dir int
		if dir, err = unix.Open(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
			fd, err = unix.Openat(dir, filepath.Base(path), unix.O_RDONLY, 0)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	buf := make([]byte, 4096)
	n, _ := unix.Read(fd, buf)
	os.Stdout.Write(buf[:n])
	os.Exit(0)
}

// openElsewhere opens, for arg "DIR|OTHER|NAME", the file NAME of DIR:
// unshare: in a private mount namespace, through a bind mount of DIR on
// OTHER; chroot: as /NAME after a chroot into DIR.
func openElsewhere(how, arg string) (int, error) {
	parts := strings.SplitN(arg, "|", 3)
	dir, other, name := parts[0], parts[1], parts[2]
	runtime.LockOSThread() // namespaces and roots are per thread here
	if how == "chroot" {
		if err := unix.Chroot(dir); err != nil {
			return -1, err
		}
		return unix.Open("/"+name, unix.O_RDONLY, 0)
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return -1, err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return -1, err
	}
	if err := unix.Mount(dir, other, "", unix.MS_BIND, ""); err != nil {
		return -1, err
	}
	return unix.Open(filepath.Join(other, name), unix.O_RDONLY, 0)
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// cString is path as a NUL-terminated C string.
func cString(path string) *byte {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		panic(err)
	}
	return p
}

// spellings are ways to open secret (in dir) that a policy on the string
// handed to openat misses, each a command and what it should do.
func spellings(t *testing.T, dir, secret string) map[string]*exec.Cmd {
	other := filepath.Join(filepath.Dir(dir), "other") // same file system
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(other, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(other, "mycat")
	if out, err := exec.Command("cp", "/bin/cat", copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	base := filepath.Base(secret)
	helper := func(how, arg string) *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=opener:"+how+":"+arg)
		return cmd
	}
	return map[string]*exec.Cmd{
		"absolute":          exec.Command("/bin/cat", secret),
		"relative":          exec.Command("/bin/sh", "-c", `cd "$0" && exec /bin/cat "$1"`, dir, base),
		"double slash":      exec.Command("/bin/cat", "/"+secret),
		"dot":               exec.Command("/bin/cat", filepath.Join(dir, ".")+"/./"+base),
		"dot dot":           exec.Command("/bin/cat", dir+"/../"+filepath.Base(dir)+"/"+base),
		"symlink":           exec.Command("/bin/cat", link),
		"proc root":         exec.Command("/bin/cat", "/proc/self/root"+secret),
		"shell redirect":    exec.Command("/bin/sh", "-c", `exec /bin/cat < "$0"`, secret),
		"proc fd reopen":    exec.Command("/bin/sh", "-c", `exec 3<"$0"; exec /bin/cat /proc/self/fd/3`, secret),
		"copied cat":        exec.Command(copied, secret),
		"open(2)":           helper("open", secret),
		"openat2":           helper("openat2", secret),
		"dirfd relative":    helper("dirfd", secret),
		"python or sh read": exec.Command("/bin/sh", "-c", `read -r line < "$0" && echo "$line"`, secret),
		// another path to the same object
		"hardlink":   exec.Command("/bin/cat", hardlink(t, secret, filepath.Join(other, "hard"))),
		"bind mount": exec.Command("/bin/cat", filepath.Join(bindMount(t, dir), base)),
		"unshare -m": helper("unshare", dir+"|"+t.TempDir()+"|"+base),
		"chroot":     helper("chroot", dir+"|-|"+base),
	}
}

// tmpfsSecret makes a secret file in a directory of a fresh tmpfs: a
// plain file system, where a file's identity is its (device, inode) on
// every kernel, whatever holds the test's temporary folder (an overlay in
// the kernel matrix's guests, where identity is not used).
func tmpfsSecret(t *testing.T) (dir, secret string) {
	root := t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=16m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(root, unix.MNT_DETACH) })
	dir, secret = filepath.Join(root, "dir"), filepath.Join(root, "dir", "secret")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("s3cret-bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, secret
}

// hardlink links name to file and returns name.
func hardlink(t *testing.T, file, name string) string {
	if err := os.Link(file, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// bindMount mounts dir on a new directory, unmounted when t ends, and
// returns that directory.
func bindMount(t *testing.T, dir string) string {
	mnt := t.TempDir()
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mnt, unix.MNT_DETACH) })
	return mnt
}

// TestResolvedOpenCatchesEverySpelling: an lsmhooks file_open policy on
// a file (Tetragon's resolved form) kills every way of opening it, on
// this kernel through BPF LSM or kprobes, or without them through the
// open syscalls' exits; the secret's bytes never reach stdout.
func TestResolvedOpenCatchesEverySpelling(t *testing.T) {
	dir, secret := tmpfsSecret(t)
	load(t, fileOpenPolicy("resolved-open", "Equal", resolved(t, secret)))
	for name, cmd := range spellings(t, dir, secret) {
		if !killedBeforeReading(cmd) {
			t.Errorf("%s: read the secret", name)
		}
	}
	cat := exec.Command("/bin/cat", secret)
	_ = cat.Run()
	// some kernels check one open twice (an LSM hook can run twice): every
	// event must be right
	evs := shared.sink.find(t, 1, 5*time.Second, func(ev *event.Event) bool {
		l := ev.ProcessLsm
		return l != nil && l.Process.Pid == uint32(cat.Process.Pid) && l.PolicyName == "resolved-open"
	})
	if len(evs) == 0 {
		t.Fatal("no event of the kill")
	}
	for _, e := range evs {
		ev := e.ProcessLsm
		if ev.FunctionName != "file_open" || len(ev.Args) != 1 || ev.Args[0].FileArg == nil ||
			ev.Args[0].FileArg.Path != resolved(t, secret) || ev.Action != event.ActionSigkill {
			t.Errorf("event %+v: want file_open with the secret's path, SIGKILL", ev)
		}
		t.Logf("served by %s", ev.Backend)
	}
}

// TestResolvedOverrideDeniesEverySpelling: where the kernel can deny (BPF
// LSM), the resolved policy with Override fails every way of opening the
// file, through every path to it, and kills nothing.
func TestResolvedOverrideDeniesEverySpelling(t *testing.T) {
	requires(t, probe.LSM)
	dir, secret := tmpfsSecret(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolved-deny}
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
      matchActions: [{action: Override, argError: -13}]
`, resolved(t, secret)))
	for name, cmd := range spellings(t, dir, secret) {
		var out strings.Builder
		cmd.Stdout = &out
		err := cmd.Run()
		if strings.Contains(out.String(), "s3cret") || err == nil || killedBy(err) != 0 {
			t.Errorf("%s: %v, read %q: want the open denied", name, err, out.String())
		}
	}
}

// TestResolvedOpenSeesExecs: the binary an exec opens is a file_open too,
// whichever path runs it; without kprobes or BPF LSM it is seen at
// sched_process_exec, the process killed before it runs.
func TestResolvedOpenSeesExecs(t *testing.T) {
	dir, _ := tmpfsSecret(t)
	tool := filepath.Join(dir, "tool")
	if out, err := exec.Command("cp", "/bin/true", tool).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	load(t, fileOpenPolicy("resolved-exec-open", "Equal", resolved(t, tool)))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(tool, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tool, link, hardlink(t, tool, filepath.Join(dir, "hard"))} {
		if err := exec.Command(p).Run(); killedBy(err) != syscall.SIGKILL {
			t.Errorf("exec %s: %v, want killed", p, err)
		}
	}
}

// TestIdentityFollowsTheObject: the file a policy names is matched by its
// identity wherever it goes (a rename), and once the agent looked again,
// so is the file that replaced it at the named path (a new inode), through
// any path.
func TestIdentityFollowsTheObject(t *testing.T) {
	dir, secret := tmpfsSecret(t)
	load(t, fileOpenPolicy("identity-follows", "Equal", resolved(t, secret)))
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(secret, moved); err != nil {
		t.Fatal(err)
	}
	if !killedBeforeReading(exec.Command("/bin/cat", moved)) {
		t.Error("the named file, renamed, was read")
	}
	// as passwd replaces /etc/shadow: written elsewhere, renamed in (an
	// open of the named path would kill this test)
	link := filepath.Join(filepath.Dir(dir), "new") // same file system
	if err := os.WriteFile(link, []byte("s3cret-new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(link, secret); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for !killedBeforeReading(exec.Command("/bin/cat", link)) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the file that replaced the named one was read through another path 20 s after")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the replacement matched by identity %v after it was made", time.Since(start).Round(time.Millisecond))
}

// TestIdentityOfADirectory: a Prefix naming a directory matches the files
// below it through any path to them (a bind mount of the directory); a
// hardlink made outside the directory to a file inside is what identity
// cannot catch, as the README says.
func TestIdentityOfADirectory(t *testing.T) {
	dir, secret := tmpfsSecret(t)
	load(t, fileOpenPolicy("identity-dir", "Prefix", resolved(t, dir)+"/"))
	if !killedBeforeReading(exec.Command("/bin/cat", filepath.Join(bindMount(t, dir), filepath.Base(secret)))) {
		t.Error("a file of the named directory was read through a bind mount")
	}
	outside := hardlink(t, secret, filepath.Join(filepath.Dir(dir), "outside"))
	if killedBeforeReading(exec.Command("/bin/cat", outside)) {
		t.Error("a hardlink outside the named directory was caught: the README says it is not")
	}
}

// fileOpenPolicy is an lsmhooks file_open policy killing the opens of
// files whose path matches value by operator, by processes that the
// selector lines (YAML at selector depth) let through.
func fileOpenPolicy(name, operator, value string, process ...string) string {
	return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: %s, values: [%q]}]
%s      matchActions: [{action: Sigkill}]
`, name, operator, value, strings.Join(process, ""))
}

// killedBeforeReading runs cmd and says whether it was killed with the
// secret's bytes unread.
func killedBeforeReading(cmd *exec.Cmd) bool {
	var out strings.Builder
	cmd.Stdout = &out
	err := cmd.Run()
	return !strings.Contains(out.String(), "s3cret") && killedBy(err) == syscall.SIGKILL
}

// TestStringPolicyMissesSpellings shows the weaker form: a policy on the
// string handed to openat kills the absolute spelling only; the test
// logs which spellings read the secret.
func TestStringPolicyMissesSpellings(t *testing.T) {
	dir, secret := tmpfsSecret(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: string-open}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, secret))
	var through []string
	for name, cmd := range spellings(t, dir, secret) {
		if !killedBeforeReading(cmd) {
			through = append(through, name)
		}
	}
	t.Logf("spellings that read the secret past the string policy: %v", through)
	if !killedBeforeReading(exec.Command("/bin/cat", secret)) || len(through) == 0 {
		t.Errorf("the string policy: want the absolute spelling killed and others through, got through %v", through)
	}
}

// TestResolvedReadCatchesDescriptorsOpenedElsewhere: an lsmhooks
// file_permission policy on reads of a file kills a process reading it
// through a descriptor another process opened (`cat < file`), on this
// kernel through BPF LSM or kprobes, or without them at the read
// syscalls' entry.
func TestResolvedReadCatchesDescriptorsOpenedElsewhere(t *testing.T) {
	_, secret, _ := secretFiles(t)
	if err := os.WriteFile(secret, []byte("s3cret-bytes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolved-read}
spec:
  lsmhooks:
  - hook: file_permission
    args: [{index: 0, type: file}, {index: 1, type: int}]
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [%q]}
      - {index: 1, operator: Mask, values: ["4"]}
      matchActions: [{action: Sigkill}]
`, resolved(t, secret)))
	for name, cmd := range map[string]*exec.Cmd{
		"shell redirect": exec.Command("/bin/sh", "-c", `exec /bin/cat < "$0"`, secret),
		"absolute":       exec.Command("/bin/cat", secret),
		"dd":             exec.Command("/bin/dd", "if="+secret, "status=none"),
	} {
		if !killedBeforeReading(cmd) {
			t.Errorf("%s: read the secret", name)
		}
	}
	// writing it is another access: not this policy's
	if err := os.WriteFile(secret, []byte("s3cret-bytes\n"), 0o644); err != nil {
		t.Errorf("writing the file under a read policy: %v", err)
	}
}

// TestResolvedConnectKills: Tetragon's security_socket_connect policy on
// an address kills the connecting process, through kprobes where the
// kernel has them, or without them at connect's entry.
func TestResolvedConnectKills(t *testing.T) {
	port := 40000 + os.Getpid()%10000
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolved-connect}
spec:
  kprobes:
  - call: security_socket_connect
    syscall: false
    args: [{index: 1, type: sockaddr}, {index: 2, type: int}]
    selectors:
    - matchArgs:
      - {index: 1, operator: SPort, values: ["%d"]}
      - {index: 1, operator: SAddr, values: ["127.0.0.1"]}
      matchActions: [{action: Sigkill}]
`, port))
	nc := exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", fmt.Sprint(port))
	if err := nc.Run(); killedBy(err) != syscall.SIGKILL {
		t.Fatalf("connect to the watched port: %v, want killed", err)
	}
	other := exec.Command("/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/$0", fmt.Sprint(port+1))
	if err := other.Run(); killedBy(err) == syscall.SIGKILL {
		t.Fatal("a connect to another port was killed")
	}
	ev := shared.sink.one(t, "the kill's event", kprobeOf(nc.Process.Pid, "resolved-connect")).ProcessKprobe
	if sa := ev.Args[0].SockaddrArg; sa == nil || sa.Port != uint32(port) || ev.Action != event.ActionSigkill {
		t.Errorf("event %+v: want the sockaddr and SIGKILL", ev)
	}
	t.Logf("served by %s", ev.Backend)
}

// TestResolvedExecKills: an lsmhooks bprm_check_security policy on a
// binary kills it before it runs, by whatever path it is executed,
// through BPF LSM or kprobes, or without them at sched_process_exec.
func TestResolvedExecKills(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if out, err := exec.Command("cp", "/bin/echo", tool).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolved-exec}
spec:
  lsmhooks:
  - hook: bprm_check_security
    args: [{index: 0, type: linux_binprm}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, resolved(t, tool)))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(tool, link); err != nil {
		t.Fatal(err)
	}
	for name, cmd := range map[string]*exec.Cmd{
		"absolute": exec.Command(tool, "ran"),
		"symlink":  exec.Command(link, "ran"),
		"relative": exec.Command("/bin/sh", "-c", `cd "$0" && exec ./tool ran`, dir),
	} {
		var out strings.Builder
		cmd.Stdout = &out
		if err := cmd.Run(); killedBy(err) != syscall.SIGKILL || strings.Contains(out.String(), "ran") {
			t.Errorf("%s: %v, output %q: want killed before it runs", name, err, out.String())
		}
	}
	if out, err := exec.Command("/bin/echo", "ran").Output(); err != nil || !strings.Contains(string(out), "ran") {
		t.Errorf("another binary: %v %q", err, out)
	}
}

// TestResolvedFdInstallKills: Tetragon's fd_install policy form (the
// descriptor and the file) kills an open of the watched file, through
// kprobes where the kernel has them, or without them at the open
// syscalls' exit.
func TestResolvedFdInstallKills(t *testing.T) {
	dir, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: resolved-fd-install}
spec:
  kprobes:
  - call: fd_install
    syscall: false
    args: [{index: 0, type: int}, {index: 1, type: file}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, resolved(t, dir)))
	if !killedBeforeReading(exec.Command("/bin/sh", "-c", `cd "$0" && exec /bin/cat ./secret`, dir)) {
		t.Error("a relative open of the watched file read it")
	}
	cat := exec.Command("/bin/cat", secret)
	_ = cat.Run()
	ev := shared.sink.one(t, "the kill's event", kprobeOf(cat.Process.Pid, "resolved-fd-install")).ProcessKprobe
	if len(ev.Args) != 2 || ev.Args[0].IntArg == nil || *ev.Args[0].IntArg < 0 || ev.Args[1].FileArg == nil ||
		ev.Args[1].FileArg.Path != resolved(t, secret) {
		t.Errorf("event args %+v: want the descriptor and the file", ev.Args)
	}
}

// TestIdentityOfEachFileArgument: a hook with two file arguments matches
// each by its own object: cp copies from another path to the named file
// (a hardlink, so only its identity names it) into a second file, and
// the condition on the first argument sees the first file.
func TestIdentityOfEachFileArgument(t *testing.T) {
	dir, secret := tmpfsSecret(t)
	link := hardlink(t, secret, filepath.Join(filepath.Dir(dir), "other-name"))
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: two-files}
spec:
  kprobes:
  - call: sys_copy_file_range
    syscall: true
    args: [{index: 0, type: fd}, {index: 2, type: fd}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`, resolved(t, secret)))
	cmd := exec.Command("/bin/cp", link, filepath.Join(filepath.Dir(dir), "copy"))
	if err := cmd.Run(); killedBy(err) != syscall.SIGKILL {
		t.Fatalf("cp from another path to the named file: %v, want killed at copy_file_range", err)
	}
}
