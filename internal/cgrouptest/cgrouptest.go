// Package cgrouptest makes cgroups for tests, named as a container runtime
// and the kubelet name them, and runs processes inside them.
package cgrouptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Root finds where cgroup v2 is mounted; the test skips without it.
func Root(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Skip("cgroup v2 is not mounted")
	return ""
}

// Make creates the cgroup parent/name and removes it when the test ends.
func Make(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating a cgroup: %v", err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	return dir
}

// PodSlice creates the cgroup the kubelet's systemd driver makes for a
// best-effort pod with uid, under the v2 root.
func PodSlice(t *testing.T, uid string) string {
	return Make(t, Root(t), "kubepods-besteffort-pod"+strings.ReplaceAll(uid, "-", "_")+".slice")
}

// Command is argv, started inside cgroup dir by a shell that moves itself
// there and then execs argv.
func Command(dir string, argv ...string) *exec.Cmd {
	return exec.Command("/bin/sh", append([]string{"-c", `echo $$ > "$0/cgroup.procs" && shift && exec "$@"`, dir, "--"}, argv...)...)
}
