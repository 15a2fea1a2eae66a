package agent

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"
)

// writev writes three buffers to /dev/null with one writev, then exits 0.
func writev() {
	fd, err := syscall.Open("/dev/null", syscall.O_WRONLY, 0)
	if err != nil {
		os.Exit(2)
	}
	bufs := [][]byte{[]byte("vigil-"), []byte("iovec-"), []byte("test")}
	iov := make([]syscall.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base, iov[i].Len = &b[0], uint64(len(b))
	}
	if _, _, errno := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov))); errno != 0 {
		os.Exit(3)
	}
	os.Exit(0)
}

// TestCharIovecReadsEveryBuffer: a char_iovec argument holds the buffers
// of the iovec array one after the other, its count in the argument that
// sizeArgIndex names, as Tetragon reads writev's; Prefix filters on it.
func TestCharIovecReadsEveryBuffer(t *testing.T) {
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: iovec}
spec:
  kprobes:
  - call: sys_writev
    syscall: true
    args:
    - {index: 1, type: char_iovec, sizeArgIndex: 3}
    - {index: 2, type: int}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["vigil-iovec"]}
`)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=writev")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writev helper: %v %s", err, out)
	}
	ev := shared.sink.one(t, "the writev event", kprobeOf(cmd.Process.Pid, "iovec")).ProcessKprobe
	if len(ev.Args) != 2 || string(ev.Args[0].BytesArg) != "vigil-iovec-test" || ev.Args[1].IntArg == nil || *ev.Args[1].IntArg != 3 {
		t.Errorf("args %+v, want the three buffers joined and the count 3", ev.Args)
	}
}
