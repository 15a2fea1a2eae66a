package agent

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/probe"
)

// capNetRaw is the capability the caps-gained helper drops and takes back.
const capNetRaw = 13

// capsGained drops CAP_NET_RAW from this thread's effective set and takes
// it back: two capset calls, of which only the second gains one.
func capsGained() {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		os.Exit(2)
	}
	data[0].Effective &^= 1 << capNetRaw
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		os.Exit(3)
	}
	data[0].Effective |= 1 << capNetRaw
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		os.Exit(4)
	}
	os.Exit(0)
}

// TestCapabilitiesGained: CapabilitiesGained over two capability sets of
// security_capset (the old credentials' effective set, the new one)
// matches the capset that takes a capability back, not the one that
// drops it, as Tetragon's own test of the operator does.
func TestCapabilitiesGained(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: caps-gained}
spec:
  kprobes:
  - call: security_capset
    syscall: false
    args:
    - {index: 1, type: cap_effective, resolve: cap_effective}
    - {index: 2, type: cap_effective}
    selectors:
    - matchArgs:
      - {args: [0, 1], operator: CapabilitiesGained}
`)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=caps-gained")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caps-gained helper: %v %s", err, out)
	}
	evs := shared.sink.find(t, 1, 5*time.Second, kprobeOf(cmd.Process.Pid, "caps-gained"))
	time.Sleep(300 * time.Millisecond)
	evs = shared.sink.find(t, 1, 0, kprobeOf(cmd.Process.Pid, "caps-gained"))
	if len(evs) != 1 {
		t.Fatalf("%d events of two capset calls, want 1 (the one that gains CAP_NET_RAW)", len(evs))
	}
	k := evs[0].ProcessKprobe
	if len(k.Args) != 2 || k.Args[1].CapEffectiveArg == nil || k.Args[0].CapEffectiveArg == nil {
		t.Fatalf("args %+v, want two capability sets", k.Args)
	}
	t.Logf("old %s, new %s", *k.Args[0].CapEffectiveArg, *k.Args[1].CapEffectiveArg)
}
