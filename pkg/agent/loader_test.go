package agent

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/buildid"
	"github.com/vigil-sec/vigil/pkg/event"
)

// mapFiles maps the file exec executable twice and the file data
// read-only, then exits 0.
func mapFiles(exec, data string) {
	for _, m := range []struct {
		file string
		prot int
	}{{exec, syscall.PROT_READ | syscall.PROT_EXEC}, {exec, syscall.PROT_READ | syscall.PROT_EXEC}, {data, syscall.PROT_READ}} {
		f, err := os.Open(m.file)
		if err != nil {
			os.Exit(2)
		}
		if _, err := syscall.Mmap(int(f.Fd()), 0, 4096, m.prot, syscall.MAP_PRIVATE); err != nil {
			os.Exit(3)
		}
		f.Close()
	}
	os.Exit(0)
}

// TestLoaderReportsMappedLibraries: with spec.loader, a file mapped
// executable into a process is reported once per process as
// process_loader, with its GNU build ID; a file mapped read-only is not.
// /bin/true's own program, its interpreter (both mapped by execve) and
// the C library the interpreter maps are reported, links resolved.
func TestLoaderReportsMappedLibraries(t *testing.T) {
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: loader}
spec:
  loader: true
`)
	execFile, _ := filepath.EvalSymlinks("/bin/true")
	dataFile, _ := filepath.EvalSymlinks("/bin/sh")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), helperEnv+"=map-files:"+execFile+":"+dataFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v %s", err, out)
	}
	pid := uint32(cmd.Process.Pid)
	of := func(pid uint32, path func(string) bool) func(*event.Event) bool {
		return func(ev *event.Event) bool {
			return ev.ProcessLoader != nil && ev.ProcessLoader.Process.Pid == pid && path(ev.ProcessLoader.Path)
		}
	}
	l := shared.sink.one(t, "process_loader of the file mapped executable twice", of(pid, func(p string) bool { return p == execFile })).ProcessLoader
	if want := fileBuildID(t, execFile); !bytes.Equal(l.Buildid, want) {
		t.Errorf("build ID %x, want %x", l.Buildid, want)
	}
	if evs := shared.sink.find(t, 1, time.Second, of(pid, func(p string) bool { return p == dataFile })); len(evs) != 0 {
		t.Errorf("a file mapped read-only was reported: %+v", evs[0].ProcessLoader)
	}
	run := exec.Command(execFile)
	if err := run.Run(); err != nil {
		t.Fatal(err)
	}
	// The program and its interpreter, which execve maps, come with the
	// first file the process maps itself.
	interp := fileInterp(t, execFile)
	defer func() {
		if t.Failed() {
			for _, ev := range shared.sink.find(t, 100, 0, of(uint32(run.Process.Pid), func(string) bool { return true })) {
				t.Logf("seen: %s %x", ev.ProcessLoader.Path, ev.ProcessLoader.Buildid)
			}
		}
	}()
	for _, want := range []string{execFile, interp, "libc.so.6"} {
		l := shared.sink.one(t, "process_loader of "+want+" in "+execFile, of(uint32(run.Process.Pid), func(p string) bool {
			return p == want || !strings.HasPrefix(want, "/") && strings.HasSuffix(p, "/"+want)
		})).ProcessLoader
		if id := fileBuildID(t, l.Path); len(l.Buildid) == 0 || !bytes.Equal(l.Buildid, id) {
			t.Errorf("%s: build ID %x, want %x", l.Path, l.Buildid, id)
		}
	}
}

// fileInterp is the interpreter program names, symbolic links resolved.
func fileInterp(t *testing.T, program string) string {
	t.Helper()
	f, err := os.Open(program)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	interp, err := buildid.Interpreter(f)
	if err != nil || interp == "" {
		t.Fatalf("%s: interpreter %q, %v", program, interp, err)
	}
	if interp, err = filepath.EvalSymlinks(interp); err != nil {
		t.Fatal(err)
	}
	return interp
}

func fileBuildID(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := buildid.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return id
}
