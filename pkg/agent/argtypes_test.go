package agent

import (
	"fmt"
	"math/bits"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
)

// The tests of Tetragon's kernel object argument types: each hooks a
// kernel function with kprobes, has this process make the kernel call it,
// and checks the argument's decoded values (and, where Tetragon filters on
// the type, that a selector on it picks the right calls).

// argsOf waits for the events of policy from this process that match, and
// fails when there are fewer than n.
func argsOf(t *testing.T, n int, policy string, match func(*event.ProcessKprobe) bool) []*event.ProcessKprobe {
	t.Helper()
	self := kprobeOf(os.Getpid(), policy)
	evs := shared.sink.find(t, n, 10*time.Second, func(ev *event.Event) bool {
		return self(ev) && match(ev.ProcessKprobe)
	})
	if len(evs) < n {
		t.Fatalf("%s: want %d events, got %d", policy, n, len(evs))
	}
	out := make([]*event.ProcessKprobe, len(evs))
	for i, ev := range evs {
		out[i] = ev.ProcessKprobe
	}
	return out
}

// socket: security_socket_connect's struct socket, read as its sock, and
// the Protocol operator on it: a UDP connect matches, a TCP one does not.
func TestArgTypesSocket(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-socket
spec:
  kprobes:
  - call: security_socket_connect
    syscall: false
    args:
    - {index: 0, type: socket}
    - {index: 1, type: sockaddr}
    selectors:
    - matchArgs:
      - {index: 0, operator: Protocol, values: [IPPROTO_UDP]}
      - {index: 1, operator: SPort, values: ["9"]}
`)
	ln, err := net.Listen("tcp4", "127.0.0.1:9")
	if err == nil {
		defer ln.Close()
	}
	if c, err := net.DialTimeout("tcp4", "127.0.0.1:9", time.Second); err == nil {
		c.Close()
	}
	u, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	evs := argsOf(t, 1, "argtypes-socket", func(k *event.ProcessKprobe) bool { return true })
	time.Sleep(200 * time.Millisecond)
	evs = argsOf(t, 1, "argtypes-socket", func(k *event.ProcessKprobe) bool { return true })
	if len(evs) != 1 {
		t.Fatalf("want the UDP connect only, got %d events", len(evs))
	}
	s := evs[0].Args[0].SockArg
	if s == nil || s.Family != "AF_INET" || s.Type != "SOCK_DGRAM" || s.Protocol != "IPPROTO_UDP" {
		t.Errorf("sock_arg = %+v, want an AF_INET SOCK_DGRAM IPPROTO_UDP socket", s)
	}
	if a := evs[0].Args[1].SockaddrArg; a == nil || a.Addr != "127.0.0.1" || a.Port != 9 {
		t.Errorf("sockaddr_arg = %+v", a)
	}
}

// dentry: security_inode_follow_link's dentry, its path up to its file
// system's root (not through mounts, as Tetragon's), and Postfix on it.
func TestArgTypesDentry(t *testing.T) {
	requires(t, probe.Kprobe)
	dir := t.TempDir()
	link := filepath.Join(dir, "argtypes-link")
	if err := os.WriteFile(filepath.Join(dir, "target"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other-link")
	if err := os.Symlink("target", other); err != nil {
		t.Fatal(err)
	}
	// a link on a file system of its own: its path starts at that root
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(mnt, syscall.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(mnt, "target"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", filepath.Join(mnt, "mounted-link")); err != nil {
		t.Fatal(err)
	}
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-dentry
spec:
  kprobes:
  - call: security_inode_follow_link
    syscall: false
    args:
    - {index: 0, type: dentry}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: ["/`+filepath.Base(dir)+`/argtypes-link", "/mounted-link"]}
`)
	for _, p := range []string{link, other, filepath.Join(mnt, "mounted-link")} {
		if _, err := os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	argsOf(t, 2, "argtypes-dentry", func(k *event.ProcessKprobe) bool { return true })
	time.Sleep(200 * time.Millisecond)
	evs := argsOf(t, 2, "argtypes-dentry", func(k *event.ProcessKprobe) bool { return true })
	mounted := 0
	for _, k := range evs {
		p := k.Args[0].PathArg
		t.Logf("path_arg %+v", p)
		switch {
		case p == nil:
			t.Error("no path_arg")
		case p.Path == "/mounted-link":
			mounted++
		// the link's path from its file system's root: a suffix of the
		// path from the process's root
		case !strings.HasSuffix(link, p.Path) || !strings.HasSuffix(p.Path, "/"+filepath.Base(dir)+"/argtypes-link"):
			t.Errorf("path_arg = %+v, want a suffix of %s or /mounted-link", p, link)
		}
	}
	if mounted == 0 {
		t.Error("no event with the path of the link on the tmpfs from that file system's root, /mounted-link")
	}
}

// net_device: dev_hard_start_xmit's device, its name as a string_arg
// (Tetragon's), and Equal on it.
func TestArgTypesNetDevice(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-netdev
spec:
  kprobes:
  - call: dev_hard_start_xmit
    syscall: false
    args:
    - {index: 1, type: net_device}
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [lo]}
`)
	u, err := net.Dial("udp4", "127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = u.Write([]byte("x"))
	u.Close()
	evs := argsOf(t, 1, "argtypes-netdev", func(k *event.ProcessKprobe) bool { return true })
	if s := evs[0].Args[0].StringArg; s == nil || *s != "lo" {
		t.Errorf("string_arg = %v, want lo", s)
	}
}

// kiocb and iov_iter: the file of a write's struct kiocb, at
// generic_write_checks (which every kernel from 5.10 has, where tty_write
// takes a kiocb only from 5.11), as a file_arg, and the bytes of its
// iov_iter with maxData: all 10,000 of them, where the kernel's iov_iter
// has an iter_type (5.14 on); before, none, as Tetragon reads it.
func TestArgTypesKiocb(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-kiocb
spec:
  kprobes:
  - call: generic_write_checks
    syscall: false
    args:
    - {index: 0, type: kiocb}
    - {index: 1, type: iov_iter, maxData: true}
`)
	f := filepath.Join(t.TempDir(), "written")
	data := []byte(strings.Repeat("0123456789", 1000))
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	k := argsOf(t, 1, "argtypes-kiocb", func(k *event.ProcessKprobe) bool {
		return k.Args[0].FileArg != nil && k.Args[0].FileArg.Path == resolvedPath(f)
	})[0]
	got := k.Args[1].BytesArg
	if k.Args[1].TruncatedBytesArg != nil {
		t.Fatalf("iov_iter: truncated_bytes_arg %d bytes of %d (%s)", len(k.Args[1].TruncatedBytesArg.BytesArg),
			k.Args[1].TruncatedBytesArg.OrigSize, k.Args[1].TruncatedBytesArg.Incomplete)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatal(err)
	}
	var it *btf.Struct
	if err := spec.TypeByName("iov_iter", &it); err != nil {
		t.Fatal(err)
	}
	hasType := slices.ContainsFunc(it.Members, func(m btf.Member) bool { return m.Name == "iter_type" })
	t.Logf("iov_iter: %d bytes (iter_type in this kernel: %v)", len(got), hasType)
	switch {
	case hasType && string(got) != string(data):
		t.Errorf("iov_iter: %d bytes, want the %d written", len(got), len(data))
	case !hasType && len(got) != 0:
		t.Errorf("iov_iter: %d bytes on a kernel without iter_type, want none as Tetragon", len(got))
	}
}

// cap_effective, cap_inheritable and cap_permitted: security_capset's
// new sets, in hexadecimal, and Mask on the permitted set (names joined by
// commas): a capset keeping CAP_SYS_ADMIN in it matches, one dropping both
// named capabilities does not.
func TestArgTypesCapabilitySets(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-caps
spec:
  kprobes:
  - call: security_capset
    syscall: false
    args:
    - {index: 2, type: cap_effective}
    - {index: 3, type: cap_inheritable}
    - {index: 4, type: cap_permitted}
    selectors:
    - matchArgs:
      - {index: 4, operator: Mask, values: ["CAP_SYS_ADMIN,CAP_NET_RAW"]}
`)
	const admin, raw = 1 << unix.CAP_SYS_ADMIN, 1 << unix.CAP_NET_RAW
	var perm uint64
	capset := func(eff, inh, prm func(uint64) uint64) error {
		errc := make(chan error, 1)
		go func() {
			// capabilities are per thread: this one ends with the goroutine
			runtime.LockOSThread()
			hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
			var data [2]unix.CapUserData
			if err := unix.Capget(&hdr, &data[0]); err != nil {
				errc <- err
				return
			}
			get := func(lo, hi uint32) uint64 { return uint64(hi)<<32 | uint64(lo) }
			p := get(data[0].Permitted, data[1].Permitted)
			perm = p
			e, i, n := eff(p), inh(p), prm(p)
			data[0].Effective, data[1].Effective = uint32(e), uint32(e>>32)
			data[0].Inheritable, data[1].Inheritable = uint32(i), uint32(i>>32)
			data[0].Permitted, data[1].Permitted = uint32(n), uint32(n>>32)
			errc <- unix.Capset(&hdr, &data[0])
		}()
		return <-errc
	}
	keep := func(p uint64) uint64 { return p }
	none := func(uint64) uint64 { return 0 }
	if err := capset(func(p uint64) uint64 { return p &^ raw }, none, keep); err != nil {
		t.Fatal(err)
	}
	if perm&admin == 0 {
		t.Skip("this process lacks CAP_SYS_ADMIN")
	}
	if err := capset(none, none, func(p uint64) uint64 { return p &^ (admin | raw) }); err != nil {
		t.Fatal(err)
	}
	hex := func(v uint64) string { return fmt.Sprintf("%016x", v) }
	argsOf(t, 1, "argtypes-caps", func(k *event.ProcessKprobe) bool { return true })
	time.Sleep(200 * time.Millisecond)
	evs := argsOf(t, 1, "argtypes-caps", func(k *event.ProcessKprobe) bool { return true })
	if len(evs) != 1 {
		t.Fatalf("want the capset that keeps CAP_SYS_ADMIN only, got %d events", len(evs))
	}
	a := evs[0].Args
	t.Logf("effective %v inheritable %v permitted %v", *a[0].CapEffectiveArg, *a[1].CapInheritableArg, *a[2].CapPermittedArg)
	if len(a) != 3 || a[0].CapEffectiveArg == nil || *a[0].CapEffectiveArg != hex(perm&^raw) ||
		a[1].CapInheritableArg == nil || *a[1].CapInheritableArg != hex(0) ||
		a[2].CapPermittedArg == nil || *a[2].CapPermittedArg != hex(perm) {
		t.Errorf("args = %+v, want effective %s, inheritable 0, permitted %s", a, hex(perm&^raw), hex(perm))
	}
}

// user_namespace: cap_capable's target namespace, for a raw socket's
// CAP_NET_RAW check: the initial user namespace, level 0, owned by root.
func TestArgTypesUserNamespace(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-userns
spec:
  kprobes:
  - call: cap_capable
    syscall: false
    args:
    - {index: 1, type: user_namespace}
    - {index: 2, type: capability}
    selectors:
    - matchArgs:
      - {index: 2, operator: Equal, values: ["13"]}
`)
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/user", &st); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_ICMP)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	evs := argsOf(t, 1, "argtypes-userns", func(k *event.ProcessKprobe) bool { return true })
	u := evs[0].Args[0].UserNsArg
	if u == nil || u.Level != 0 || u.UID != 0 || u.GID != 0 || u.Ns.Inum != uint32(st.Ino) || !u.Ns.IsHost {
		t.Errorf("user_ns_arg = %+v, want the initial user namespace (inode %d)", u, st.Ino)
	}
}

// bpf_attr, bpf_prog and bpf_map: a program and a map this process loads,
// at bpf_check (the attributes of BPF_PROG_LOAD), security_bpf_prog (the
// loaded program) and security_bpf_map_alloc or, from 6.9,
// security_bpf_map_create (the map).
func TestArgTypesBPFObjects(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-bpf
spec:
  kprobes:
  - call: bpf_check
    syscall: false
    args:
    - {index: 1, type: bpf_attr}
  - call: security_bpf_prog
    syscall: false
    args:
    - {index: 0, type: bpf_prog}
  - call: security_bpf_map_alloc
    syscall: false
    args:
    - {index: 0, type: bpf_map}
    ignore: {callNotFound: true}
  - call: security_bpf_map_create
    syscall: false
    args:
    - {index: 0, type: bpf_map}
    ignore: {callNotFound: true}
`)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "vigil_argtest", Type: ebpf.SocketFilter, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	prog.Close()
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "vigil_argmap", Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	attr := argsOf(t, 1, "argtypes-bpf", func(k *event.ProcessKprobe) bool {
		return k.FunctionName == "bpf_check" && k.Args[0].BpfAttrArg != nil && k.Args[0].BpfAttrArg.ProgName == "vigil_argtest"
	})[0].Args[0].BpfAttrArg
	if *attr != (event.BpfProgArg{ProgType: "BPF_PROG_TYPE_SOCKET_FILTER", InsnCnt: 2, ProgName: "vigil_argtest"}) {
		t.Errorf("bpf_attr_arg = %+v", attr)
	}
	loaded := argsOf(t, 1, "argtypes-bpf", func(k *event.ProcessKprobe) bool {
		return k.FunctionName == "security_bpf_prog" && k.Args[0].BpfProgArg != nil && k.Args[0].BpfProgArg.ProgName == "vigil_argtest"
	})[0].Args[0].BpfProgArg
	if loaded.ProgType != "BPF_PROG_TYPE_SOCKET_FILTER" || loaded.InsnCnt == 0 {
		t.Errorf("bpf_prog_arg = %+v", loaded)
	}
	bm := argsOf(t, 1, "argtypes-bpf", func(k *event.ProcessKprobe) bool {
		return k.Args[0].BpfMapArg != nil && k.Args[0].BpfMapArg.MapName == "vigil_argmap"
	})[0].Args[0].BpfMapArg
	if *bm != (event.BpfMapArg{MapType: "BPF_MAP_TYPE_HASH", KeySize: 4, ValueSize: 8, MaxEntries: 16, MapName: "vigil_argmap"}) {
		t.Errorf("bpf_map_arg = %+v", bm)
	}
}

// perf_event: security_perf_event_alloc's event, for a software event and
// for a kprobe this process creates through the kprobe PMU (the function
// name it passes in config1).
func TestArgTypesPerfEvent(t *testing.T) {
	requires(t, probe.Kprobe)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: argtypes-perf
spec:
  kprobes:
  - call: security_perf_event_alloc
    syscall: false
    args:
    - {index: 0, type: perf_event}
`)
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_DUMMY,
		Size: uint32(unsafe.Sizeof(unix.PerfEventAttr{}))}
	fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{Name: "vigil_argkp", Type: ebpf.Kprobe, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}})
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	kp, err := link.Kprobe("vfs_getattr", prog, nil)
	if err != nil {
		t.Fatal(err)
	}
	kp.Close()
	sw := argsOf(t, 1, "argtypes-perf", func(k *event.ProcessKprobe) bool {
		p := k.Args[0].PerfEventArg
		return p != nil && p.Type == "PERF_TYPE_SOFTWARE" && p.Config == unix.PERF_COUNT_SW_DUMMY
	})[0].Args[0].PerfEventArg
	if sw.KprobeFunc != "" || sw.ProbeOffset != 0 {
		t.Errorf("software event: perf_event_arg = %+v", sw)
	}
	k := argsOf(t, 1, "argtypes-perf", func(k *event.ProcessKprobe) bool {
		p := k.Args[0].PerfEventArg
		return p != nil && p.KprobeFunc == "vfs_getattr"
	})[0].Args[0].PerfEventArg
	t.Logf("kprobe: perf_event_arg %+v", k)
	if k.Type == "" || k.Type == "PERF_TYPE_SOFTWARE" {
		t.Errorf("kprobe: perf_event_arg = %+v, want the kprobe PMU's type", k)
	}
}

// TestBTFTypeCastsAnArgument: Tetragon's documented btfType policy reads
// security_socket_connect's struct sockaddr * as a struct sockaddr_in
// (its port and address, in network order as the kernel holds them, and
// at their sizes); a uint8 register argument is its low byte.
func TestBTFTypeCastsAnArgument(t *testing.T) {
	requiresFunctionHooks(t)
	load(t, `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: btftype-connect}
spec:
  kprobes:
  - call: security_socket_connect
    syscall: false
    args:
    - {index: 1, type: uint16, label: sockaddr_in.sin_port, btfType: sockaddr_in, resolve: sin_port}
    - {index: 1, type: uint32, label: sockaddr_in.sin_addr.s_addr, btfType: sockaddr_in, resolve: sin_addr.s_addr}
    - {index: 2, type: uint8, label: addrlen}
`)
	u, err := net.Dial("udp4", "127.0.0.2:40125")
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	port := uint32(bits.ReverseBytes16(40125)) // network order, read as the host's
	evs := argsOf(t, 1, "btftype-connect", func(k *event.ProcessKprobe) bool {
		return len(k.Args) == 3 && k.Args[0].UintArg != nil && *k.Args[0].UintArg == port
	})
	a := evs[0].Args
	if a[1].UintArg == nil || *a[1].UintArg != 0x0200007f || a[1].Label != "sockaddr_in.sin_addr.s_addr" {
		t.Errorf("address %+v, want 127.0.0.2 as the kernel holds it (0x0200007f)", a[1])
	}
	if a[2].UintArg == nil || *a[2].UintArg != 16 {
		t.Errorf("addrlen %+v, want 16 (sizeof struct sockaddr_in)", a[2])
	}
}

// TestSockaddrUn: a connect's struct sockaddr_un, read as Tetragon reads
// it: its family and path name, or "@" and an abstract name; Prefix
// filters on the name and Family on the family, in the kernel.
func TestSockaddrUn(t *testing.T) {
	dir := t.TempDir()
	policy := func(name, filters string) string {
		return fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: %s}
spec:
  kprobes:
  - call: sys_connect
    syscall: true
    args: [{index: 1, type: sockaddr_un}]
    selectors:
    - matchArgs:
%s`, name, filters)
	}
	load(t, policy("sockun-path", fmt.Sprintf("      - {index: 1, operator: Prefix, values: [%q]}\n", dir+"/vigil-")))
	load(t, policy("sockun-abstract", fmt.Sprintf("      - {index: 1, operator: Family, values: [AF_UNIX]}\n"+
		"      - {index: 1, operator: NotPrefix, values: [%q]}\n", dir)))
	for _, name := range []string{dir + "/other", dir + "/vigil-sock", "@vigil-abstract-" + t.Name()} {
		if c, err := net.Dial("unix", name); err == nil {
			c.Close()
		}
	}
	un := func(name string) func(*event.ProcessKprobe) bool {
		return func(k *event.ProcessKprobe) bool {
			return len(k.Args) == 1 && k.Args[0].SockaddrUnArg != nil && k.Args[0].SockaddrUnArg.Path == name
		}
	}
	for policy, name := range map[string]string{"sockun-path": dir + "/vigil-sock", "sockun-abstract": "@vigil-abstract-" + t.Name()} {
		if a := argsOf(t, 1, policy, un(name))[0].Args[0].SockaddrUnArg; a.Family != "AF_UNIX" {
			t.Errorf("%s: family %q, want AF_UNIX", policy, a.Family)
		}
	}
	time.Sleep(200 * time.Millisecond)
	for _, policy := range []string{"sockun-path", "sockun-abstract"} {
		if evs := argsOf(t, 1, policy, func(*event.ProcessKprobe) bool { return true }); len(evs) != 1 {
			t.Errorf("%s: %d events, want 1 (the other connects do not match)", policy, len(evs))
		}
	}
}
