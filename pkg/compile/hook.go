package compile

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Hook is what user space keeps about one installed hook, to turn its
// kernel records into events.
type Hook struct {
	Policy   string
	Function string // as events name it, e.g. "__x64_sys_openat"
	Backend  string // the kernel mechanism that serves it
	Message  string
	Tags     []string
	Args     []HookArg
	Return   *HookArg // for hooks at syscall exit
	// RetObj: Return is an object (a sock, a file, ...) read into the
	// last argument slot at the return.
	RetObj  bool
	Actions []string // event action of each selector
	// Labels are each selector's label ("": none), or its first macro's:
	// its matches are counted under it in metrics.
	Labels []string
	// Requests are each selector's GetUrl and DnsLookup requests, made
	// when it posts an event; nil when no selector has one.
	Requests [][]beacon.Request
	RetCopy  uint8     // bit i: slot i is read at return (returnCopy)
	LSM      bool      // an lsmhooks hook: its events are process_lsm
	Uprobe   string    // a uprobe's binary: its events are process_uprobe
	USDT     *USDTHook // a USDT's: its events are process_usdt
	// UprobeOffset: a uprobe's place in the binary's file where it has no
	// symbol; UprobeRefCtr: its reference counter's (0: none).
	UprobeOffset, UprobeRefCtr uint64
	// Tracepoint is a tracepoint's subsystem (Function is its event): its
	// events are process_tracepoint.
	Tracepoint string
	// Loader: the hook of spec.loader; its records are process_loader
	// events (see LoaderPathArg).
	Loader bool
}

// MaxLabelLen bounds a selector's label, a metric's label value.
const MaxLabelLen = 256

// USDTHook names a USDT hook's probe.
type USDTHook struct{ Path, Provider, Name string }

// HookArg is one argument slot of a hook.
type HookArg struct {
	Type  int // tracing.Arg*
	Label string
	// As shows an integer as a "syscall64" (syscall_id) or a "capability".
	As string
}

// Backends, as events name them: these and tracing.Attach*.
const (
	BackendRawSyscall = "raw_syscall_tracepoint"
	// BackendSyscallTracepoint: the syscall's own tracepoints
	// (syscalls/sys_enter_NAME, sys_exit_NAME), where the kernel has them.
	BackendSyscallTracepoint = "syscall_tracepoint"
	BackendAuto              = "auto"
)

// Event renders a hook record, without its process, which the caller adds
// from the process cache.
func (h *Hook) Event(g *tracing.Generic) *event.ProcessKprobe {
	ev := &event.ProcessKprobe{
		FunctionName: h.Function,
		Action:       event.ActionPost,
		PolicyName:   h.Policy,
		Message:      h.Message,
		Tags:         h.Tags,
		Backend:      h.Backend,
	}
	if int(g.Selector) < len(h.Actions) {
		ev.Action = h.Actions[g.Selector]
	}
	if g.Monitor != 0 {
		ev.Mode = "monitor"
	}
	ev.ImaHash = imaHash(g.ImaAlgo, g.ImaHash[:])
	if h.Return != nil && g.HasRet != 0 {
		ev.Return = renderArg(h.Return.Type, g.Ret, nil)
		if h.RetObj {
			const slot = tracing.MaxArgs - 1
			ev.Return = renderArg(h.Return.Type, g.ArgVal[slot], g.Args[slot])
		}
		ev.Return.Label = h.Return.Label
	}
	for i, a := range h.Args {
		if i >= tracing.MaxArgs {
			break
		}
		if a.Type == tracing.ArgNone {
			continue // a nop placeholder
		}
		arg := renderArg(a.Type, g.ArgVal[i], g.Args[i])
		if a.Type == tracing.ArgCharBuf || a.Type == tracing.ArgCharIovec {
			arg = charBuf(uint64(g.ArgVal[i]), g.Args[i], g.DataErr[i])
		}
		switch a.As {
		case "syscall64":
			arg = &event.Argument{SyscallID: &event.SyscallID{ID: uint32(g.ArgVal[i]), ABI: "x64"}}
		case "capability":
			arg = &event.Argument{CapabilityArg: &event.Capability{Value: int32(g.ArgVal[i]), Name: event.CapabilityName(int(g.ArgVal[i]))}}
		case "kernel_cap_t", "cap_effective", "cap_permitted", "cap_inheritable":
			arg = capSet(a.As, uint64(g.ArgVal[i]))
		}
		arg.Label = a.Label
		ev.Args = append(ev.Args, arg)
	}
	return ev
}

func renderArg(typ int, val int64, data []byte) *event.Argument {
	switch typ {
	case tracing.ArgInt, tracing.ArgS8, tracing.ArgS16:
		v := int32(val)
		return &event.Argument{IntArg: &v}
	case tracing.ArgUint, tracing.ArgU8, tracing.ArgU16:
		v := uint32(val)
		return &event.Argument{UintArg: &v}
	case tracing.ArgS64:
		return &event.Argument{LongArg: &val}
	case tracing.ArgU64:
		v := uint64(val)
		return &event.Argument{SizeArg: &v}
	case tracing.ArgString:
		s := string(data)
		return &event.Argument{StringArg: &s}
	case tracing.ArgFd, tracing.ArgFile:
		return &event.Argument{FileArg: &event.FileArg{Path: string(data)}}
	case tracing.ArgPath:
		return &event.Argument{PathArg: &event.FileArg{Path: string(data)}}
	case tracing.ArgBprm:
		return &event.Argument{LinuxBinprmArg: &event.FileArg{Path: string(data)}}
	case tracing.ArgSockaddr:
		return &event.Argument{SockaddrArg: sockaddr(data)}
	case tracing.ArgSockaddrUn:
		return &event.Argument{SockaddrUnArg: sockaddrUn(val, data)}
	case tracing.ArgSock:
		return &event.Argument{SockArg: sock(data)}
	case tracing.ArgCred:
		return &event.Argument{ProcessCredentialsArg: cred(data)}
	case tracing.ArgSkb:
		return &event.Argument{SkbArg: skb(data)}
	case tracing.ArgUserNs:
		return &event.Argument{UserNsArg: userNs(data)}
	case tracing.ArgBpfAttr:
		return &event.Argument{BpfAttrArg: bpfProg(data)}
	case tracing.ArgBpfProg:
		return &event.Argument{BpfProgArg: bpfProg(data)}
	case tracing.ArgBpfMap:
		return &event.Argument{BpfMapArg: bpfMap(data)}
	case tracing.ArgPerfEvent:
		return &event.Argument{PerfEventArg: perfEvent(data)}
	case tracing.ArgModule, tracing.ArgLoadInfo:
		return &event.Argument{ModuleArg: module(data, typ == tracing.ArgLoadInfo)}
	}
	return &event.Argument{BytesArg: data}
}

// incomplete names, for events, why a char_buf lacks bytes (DataErr).
var incomplete = map[uint8]string{
	tracing.DataRingbufFull: event.IncompleteRingBuffer,
	tracing.DataFault:       event.IncompleteFault,
	tracing.DataDropped:     event.IncompleteDropped,
}

// charBuf shows a buffer of size bytes of which data was read, as
// Tetragon does: bytes_arg when it is whole, else truncated_bytes_arg
// with its size, and why bytes are missing when the limit is not the
// reason (dataErr).
func charBuf(size uint64, data []byte, dataErr uint8) *event.Argument {
	if uint64(len(data)) >= size && dataErr == tracing.DataOK {
		return &event.Argument{BytesArg: data}
	}
	return &event.Argument{TruncatedBytesArg: &event.TruncatedBytes{BytesArg: data, OrigSize: size,
		Incomplete: incomplete[dataErr]}}
}

// sockaddr decodes the first bytes of a struct sockaddr.
func sockaddr(b []byte) *event.SockaddrArg {
	if len(b) < 2 {
		return &event.SockaddrArg{Family: "AF_UNSPEC"}
	}
	switch fam := binary.NativeEndian.Uint16(b); {
	case fam == syscall.AF_INET && len(b) >= 8:
		return &event.SockaddrArg{Family: "AF_INET", Port: uint32(binary.BigEndian.Uint16(b[2:])),
			Addr: netip.AddrFrom4([4]byte(b[4:8])).String()}
	case fam == syscall.AF_INET6 && len(b) >= 24:
		return &event.SockaddrArg{Family: "AF_INET6", Port: uint32(binary.BigEndian.Uint16(b[2:])),
			Addr: netip.AddrFrom16([16]byte(b[8:24])).String()}
	case fam == syscall.AF_UNIX:
		return &event.SockaddrArg{Family: "AF_UNIX"}
	default:
		return &event.SockaddrArg{Family: "AF_" + strconv.Itoa(int(fam))}
	}
}

// sock decodes a struct sock_info.
func sock(b []byte) *event.SockArg {
	var si tracing.SockInfo
	if _, err := binary.Decode(b, binary.NativeEndian, &si); err != nil {
		return &event.SockArg{Family: "AF_UNSPEC"}
	}
	out := &event.SockArg{Family: nameOf(shownNames["Family"], int(si.Family), "AF_"),
		Type: nameOf(sockTypes, int(si.Type), "SOCK_"), Protocol: nameOf(shownNames["Protocol"], int(si.Protocol), "IPPROTO_"),
		Mark: si.Mark, Priority: si.Priority, Sport: uint32(si.Sport), Dport: uint32(si.Dport)}
	if si.State != 0 {
		out.State = nameOf(shownNames["State"], int(si.State), "TCP_")
	}
	out.Saddr, out.Daddr = ipString(si.Family, si.Saddr), ipString(si.Family, si.Daddr)
	return out
}

// skb decodes a struct skb_info.
func skb(b []byte) *event.SkbArg {
	var si tracing.SkbInfo
	if _, err := binary.Decode(b, binary.NativeEndian, &si); err != nil {
		return &event.SkbArg{}
	}
	return &event.SkbArg{Hash: si.Hash, Len: si.Len, Priority: si.Priority, Mark: si.Mark,
		Saddr: ipString(si.Family, si.Saddr), Daddr: ipString(si.Family, si.Daddr),
		Sport: uint32(si.Sport), Dport: uint32(si.Dport), Proto: uint32(si.Protocol)}
}

// ipString shows an address of family AF_INET or AF_INET6, else "".
func ipString(family uint16, a [16]byte) string {
	switch family {
	case syscall.AF_INET:
		return netip.AddrFrom4([4]byte(a[:4])).String()
	case syscall.AF_INET6:
		return netip.AddrFrom16(a).String()
	}
	return ""
}

var sockTypes = map[string]int{"SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_RDM": 4, "SOCK_SEQPACKET": 5}

// shownNames are the names events show for network numbers (policies may
// use more: policy.NetValues).
var shownNames = map[string]map[string]int{
	"Family": {"AF_UNIX": 1, "AF_INET": 2, "AF_INET6": 10},
	"Protocol": {"IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_ICMPV6": 58,
		"IPPROTO_SCTP": 132, "IPPROTO_RAW": 255},
	"State": {"TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4,
		"TCP_FIN_WAIT2": 5, "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9,
		"TCP_LISTEN": 10, "TCP_CLOSING": 11, "TCP_NEW_SYN_RECV": 12},
}

// nameOf is the name of n in names, or prefix and the number.
func nameOf(names map[string]int, n int, prefix string) string {
	for name, v := range names {
		if v == n {
			return name
		}
	}
	return prefix + strconv.Itoa(n)
}

// cred decodes a struct cred_info.
func cred(b []byte) *event.CredentialsArg {
	var ci tracing.CredInfo
	if _, err := binary.Decode(b, binary.NativeEndian, &ci); err != nil {
		return &event.CredentialsArg{}
	}
	return &event.CredentialsArg{
		Credentials: event.Credentials{UID: ci.UID, GID: ci.GID, EUID: ci.EUID, EGID: ci.EGID, SUID: ci.SUID,
			SGID: ci.SGID, FSUID: ci.FSUID, FSGID: ci.FSGID},
		Caps: &event.Capabilities{Permitted: event.CapabilityList(ci.CapPermitted), Effective: event.CapabilityList(ci.CapEffective),
			Inheritable: event.CapabilityList(ci.CapInheritable)},
	}
}

// capSet shows a capability set of type typ as Tetragon does: 16
// hexadecimal digits.
func capSet(typ string, set uint64) *event.Argument {
	v := fmt.Sprintf("%016x", set)
	switch typ {
	case "cap_effective":
		return &event.Argument{CapEffectiveArg: &v}
	case "cap_permitted":
		return &event.Argument{CapPermittedArg: &v}
	case "cap_inheritable":
		return &event.Argument{CapInheritableArg: &v}
	}
	return &event.Argument{KernelCapTArg: &v}
}

// userNs decodes a struct user_ns_arg; level 0 is the host's.
func userNs(b []byte) *event.UserNamespace {
	var u tracing.UserNsArg
	if _, err := binary.Decode(b, binary.NativeEndian, &u); err != nil {
		return &event.UserNamespace{}
	}
	return &event.UserNamespace{Level: u.Level, UID: u.UID, GID: u.GID, Ns: event.Namespace{Inum: u.Inum, IsHost: u.Level == 0}}
}

// bpfProg decodes a struct bpf_prog_arg.
func bpfProg(b []byte) *event.BpfProgArg {
	var p tracing.BpfProgArg
	if _, err := binary.Decode(b, binary.NativeEndian, &p); err != nil {
		return &event.BpfProgArg{}
	}
	return &event.BpfProgArg{ProgType: bpfName(bpfProgTypes, "BPF_PROG_TYPE_", p.ProgType), InsnCnt: p.InsnCnt,
		ProgName: cString(p.Name[:])}
}

// bpfMap decodes a struct bpf_map_arg.
func bpfMap(b []byte) *event.BpfMapArg {
	var m tracing.BpfMapArg
	if _, err := binary.Decode(b, binary.NativeEndian, &m); err != nil {
		return &event.BpfMapArg{}
	}
	return &event.BpfMapArg{MapType: bpfName(bpfMapTypes, "BPF_MAP_TYPE_", m.MapType), KeySize: m.KeySize,
		ValueSize: m.ValueSize, MaxEntries: m.MaxEntries, MapName: cString(m.Name[:])}
}

// imaHashes are the digests IMA may give, as the kernel's enum hash_algo
// numbers them, with Tetragon's names and their length in bytes.
var imaHashes = map[int8]struct {
	name string
	size int
}{1: {"md5", 16}, 2: {"sha1", 20}, 4: {"sha256", 32}, 6: {"sha512", 64}, 13: {"wp512", 64}, 17: {"sm3", 32}}

// imaHash shows an IMA hash as Tetragon does ("sha256:" and its digest in
// hexadecimal); "" for none, or for an algorithm Tetragon does not show
// (or the helper's error).
func imaHash(algo int8, digest []byte) string {
	a, ok := imaHashes[algo]
	if !ok || len(digest) < a.size {
		return ""
	}
	return a.name + ":" + hex.EncodeToString(digest[:a.size])
}

// module decodes a struct module_arg; a load_info's says whether its
// signature checked out, as Tetragon's does.
func module(b []byte, loadInfo bool) *event.KernelModule {
	var m tracing.ModuleArg
	if _, err := binary.Decode(b, binary.NativeEndian, &m); err != nil {
		return &event.KernelModule{}
	}
	out := &event.KernelModule{Name: cString(m.Name[:]), Tainted: event.TaintNames(m.Taints)}
	if loadInfo {
		ok := m.SigOK != 0
		out.SignatureOk = &ok
	}
	return out
}

// perfEvent decodes a struct perf_event_arg.
func perfEvent(b []byte) *event.PerfEventArg {
	var p tracing.PerfEventArg
	if _, err := binary.Decode(b, binary.NativeEndian, &p); err != nil {
		return &event.PerfEventArg{}
	}
	return &event.PerfEventArg{KprobeFunc: cString(p.KprobeFunc[:]), Type: bpfName(perfTypes, "PERF_TYPE_", p.Type),
		Config: p.Config, ProbeOffset: p.ProbeOffset}
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// bpfName names BPF program, map or perf event type n from the kernel's
// enum (uapi linux/bpf.h, linux/perf_event.h) as Tetragon does: the types its table knows by name, the
// later ones by number.
func bpfName(names []string, prefix string, n uint32) string {
	if int(n) < len(names) {
		return prefix + names[n]
	}
	return strconv.FormatUint(uint64(n), 10)
}

// The kernel's enum bpf_prog_type, enum bpf_map_type and enum
// perf_type_id, without their prefixes, as far as Tetragon names them.
var (
	perfTypes    = strings.Fields(`HARDWARE SOFTWARE TRACEPOINT HW_CACHE RAW BREAKPOINT MAX`)
	bpfProgTypes = strings.Fields(`UNSPEC SOCKET_FILTER KPROBE SCHED_CLS SCHED_ACT TRACEPOINT XDP PERF_EVENT
		CGROUP_SKB CGROUP_SOCK LWT_IN LWT_OUT LWT_XMIT SOCK_OPS SK_SKB CGROUP_DEVICE SK_MSG RAW_TRACEPOINT
		CGROUP_SOCK_ADDR LWT_SEG6LOCAL LIRC_MODE2 SK_REUSEPORT FLOW_DISSECTOR CGROUP_SYSCTL
		RAW_TRACEPOINT_WRITABLE CGROUP_SOCKOPT TRACING STRUCT_OPS EXT LSM SK_LOOKUP SYSCALL`)
	bpfMapTypes = strings.Fields(`UNSPEC HASH ARRAY PROG_ARRAY PERF_EVENT_ARRAY PERCPU_HASH PERCPU_ARRAY
		STACK_TRACE CGROUP_ARRAY LRU_HASH LRU_PERCPU_HASH LPM_TRIE ARRAY_OF_MAPS HASH_OF_MAPS DEVMAP SOCKMAP
		CPUMAP XSKMAP SOCKHASH CGROUP_STORAGE REUSEPORT_SOCKARRAY PERCPU_CGROUP_STORAGE QUEUE STACK
		SK_STORAGE DEVMAP_HASH STRUCT_OPS RINGBUF INODE_STORAGE TASK_STORAGE BLOOM_FILTER`)
)

// sockaddrUn is a sockaddr_un slot as Tetragon shows it: an abstract
// name without its NULs, after an '@'.
func sockaddrUn(val int64, data []byte) *event.SockaddrUn {
	out := &event.SockaddrUn{Family: nameOf(shownNames["Family"], int(val&0xffff), "AF_"), Path: string(data)}
	if val&tracing.SockaddrUnAbstract == 0 {
		return out
	}
	out.Path = ""
	if name := bytes.ReplaceAll(data, []byte{0}, nil); len(name) > 0 {
		out.Path = "@" + string(name)
	}
	return out
}
