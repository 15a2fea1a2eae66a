package agent

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigil-sec/vigil/pkg/event"
)

// listenOn is the helper that listens on an inherited socket (fd 3) with
// a backlog: listen-fd3:BACKLOG.
func listenOn(backlog string) {
	n, _ := strconv.Atoi(backlog)
	if err := syscall.Listen(3, n); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

// Socket tracking, with Tetragon's tcp-listen shape: sk_alloc's return
// tracks the sockets this test process makes (returnArgAction TrackSock,
// behind a NoPost selector), inet_listen untracks those listened on with
// a backlog of 7 (UntrackSock on a socket argument), and
// inet_csk_listen_start reports each listen. A child listens on sockets
// this process made: the tracked one's event names this process, the
// owner, and the untracked one's the child. A second hook shows the
// returned sock itself (returnArg type sock).
func TestSockTrackingNamesTheOwner(t *testing.T) {
	requiresFunctionHooks(t)
	self := claimTestBinary(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: sock-owner}
spec:
  kprobes:
  - call: sk_alloc
    syscall: false
    return: true
    args:
    - {index: 1, type: int, label: family}
    returnArg: {index: 0, type: sock}
    returnArgAction: TrackSock
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: ["2"]}
      matchBinaries:
      - {operator: In, values: [%[1]q]}
      matchActions:
      - action: NoPost
  - call: sk_alloc
    syscall: false
    return: true
    args:
    - {index: 1, type: int, label: family}
    returnArg: {index: 0, type: sock}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: ["10"]}
      matchBinaries:
      - {operator: In, values: [%[1]q]}
  - call: inet_listen
    syscall: false
    args:
    - {index: 0, type: socket}
    - {index: 1, type: int}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: ["7"]}
      matchActions:
      - action: UntrackSock
        argSock: 0
      - action: NoPost
  - call: inet_csk_listen_start
    syscall: false
    args:
    - {index: 0, type: sock}
    selectors:
    - matchArgs:
      - {index: 0, operator: SPort, values: ["41337", "41338"]}
`, self))

	v6, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(v6)
	trackedChild := listenInChild(t, 41337, "8")
	untrackedChild := listenInChild(t, 41338, "7")

	listens := func(port uint32) func(*event.Event) bool {
		return func(ev *event.Event) bool {
			k := ev.ProcessKprobe
			return k != nil && k.PolicyName == "sock-owner" && k.FunctionName == "inet_csk_listen_start" &&
				len(k.Args) == 1 && k.Args[0].SockArg != nil && k.Args[0].SockArg.Sport == port
		}
	}
	ev := shared.sink.one(t, "the listen on the tracked socket", listens(41337)).ProcessKprobe
	if ev.Process.Pid != uint32(os.Getpid()) {
		t.Errorf("listen on the tracked socket (made by pid %d, listened on by pid %d): event of pid %d, want the owner's",
			os.Getpid(), trackedChild, ev.Process.Pid)
	}
	ev = shared.sink.one(t, "the listen on the untracked socket", listens(41338)).ProcessKprobe
	if ev.Process.Pid != uint32(untrackedChild) {
		t.Errorf("listen on the untracked socket (made by pid %d): event of pid %d, want the child's %d",
			os.Getpid(), ev.Process.Pid, untrackedChild)
	}

	ret := shared.sink.one(t, "sk_alloc of the AF_INET6 socket", func(ev *event.Event) bool {
		k := ev.ProcessKprobe
		return k != nil && k.PolicyName == "sock-owner" && k.FunctionName == "sk_alloc" && k.Process.Pid == uint32(os.Getpid())
	}).ProcessKprobe
	if ret.Return == nil || ret.Return.SockArg == nil || ret.Return.SockArg.Family != "AF_INET6" {
		t.Errorf("sk_alloc's return %+v, want an AF_INET6 sock_arg", ret.Return)
	}
	if n := len(shared.sink.find(t, 0, 0, func(ev *event.Event) bool {
		k := ev.ProcessKprobe
		return k != nil && k.PolicyName == "sock-owner" && k.FunctionName == "sk_alloc" &&
			k.Return != nil && k.Return.SockArg != nil && k.Return.SockArg.Family == "AF_INET"
	})); n != 0 {
		t.Errorf("%d sk_alloc events of AF_INET sockets, whose selector says NoPost", n)
	}
}

// listenInChild makes a TCP socket bound to port on loopback in this
// process, has a child listen on it with backlog, and returns the child's
// pid.
func listenInChild(t *testing.T, port int, backlog string) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	}
	if err != nil {
		t.Fatalf("socket on port %d: %v", port, err)
	}
	f := os.NewFile(uintptr(fd), "sock")
	defer f.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=listen-fd3:"+backlog)
	cmd.ExtraFiles = []*os.File{f}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("listen in a child: %v %s", err, strings.TrimSpace(string(out)))
	}
	return cmd.Process.Pid
}
