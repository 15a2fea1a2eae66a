package agent

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
)

// memfdExec copies /bin/true into a memfd and executes it: a binary that is
// only in memory.
func memfdExec() {
	fd, err := unix.MemfdCreate("vigil-memfd", 0)
	if err != nil {
		os.Exit(2)
	}
	src, err := os.Open("/bin/true")
	if err != nil {
		os.Exit(3)
	}
	if _, err := io.Copy(os.NewFile(uintptr(fd), "memfd"), src); err != nil {
		os.Exit(4)
	}
	_ = syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"true"}, nil)
	os.Exit(5)
}

// TestBinaryProperties: as Tetragon's process_exec says, a set-user-ID
// root binary run by nobody raised privileges (setuid 0,
// PRIVILEGES_RAISED_EXEC_FILE_SETUID), and a binary only in memory (a
// memfd) shows its inode with no links.
func TestBinaryProperties(t *testing.T) {
	dir := publicDir(t)
	id := filepath.Join(dir, "suid-id")
	if out, err := exec.Command("cp", "/usr/bin/id", id).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.Chmod(id, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(id)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody: %v %s", id, err, out)
	}
	t.Logf("%s", out)
	ev := shared.sink.one(t, "exec of the set-user-ID binary", execOf(cmd.Process.Pid)).ProcessExec.Process
	bp := ev.BinaryProperties
	if bp == nil || bp.Setuid == nil || *bp.Setuid != 0 || !slices.Contains(bp.PrivilegesChanged, event.PrivilegesSetuid) {
		t.Errorf("binary_properties %+v, want setuid 0 and %s", bp, event.PrivilegesSetuid)
	}
	plain := exec.Command("/usr/bin/id")
	if err := plain.Run(); err != nil {
		t.Fatal(err)
	}
	if p := shared.sink.one(t, "exec of id", execOf(plain.Process.Pid)).ProcessExec.Process; p.BinaryProperties != nil {
		t.Errorf("a plain exec: binary_properties %+v, want none", p.BinaryProperties)
	}

	mem := exec.Command(os.Args[0])
	mem.Env = append(os.Environ(), helperEnv+"=memfd-exec")
	if out, err := mem.CombinedOutput(); err != nil {
		t.Fatalf("memfd exec: %v %s", err, out)
	}
	evs := shared.sink.find(t, 2, 10*time.Second, execOf(mem.Process.Pid))
	if len(evs) < 2 {
		t.Fatalf("%d exec events of the memfd helper, want the test binary's and the memfd's", len(evs))
	}
	f := evs[len(evs)-1].ProcessExec.Process.BinaryProperties
	if f == nil || f.File == nil || f.File.Inode == nil || f.File.Inode.Number == 0 || f.File.Inode.Links == nil || *f.File.Inode.Links != 0 {
		t.Errorf("exec of a memfd: binary_properties %+v, want its inode with 0 links", f)
	}
}
