package tracing

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/tracefs"
)

// Limits of the generic hook, as in bpf/include/generic.h. The enums
// below are checked against the object's BTF by enums_test.go.
const (
	MaxArgs         = 5
	MaxResolve      = 8
	MaxSelectors    = 16
	MaxConds        = 32
	HooksPerSyscall = 128
	MaxSyscalls     = 512
	MaxPolicies     = 1024
	MaxHooks        = 4096 // hook ids are 1..MaxHooks-1
	StrKeyLen       = 252
	// SubstrLen is the room of a SubString value, its NUL included;
	// MaxSubstrs the values of one condition (Tetragon's limit).
	SubstrLen  = 128
	MaxSubstrs = 100
	// ArgMask is the most bytes of a string or buffer an event holds.
	ArgMask = 4095
	// DataMax is the most bytes of a maxData char_buf (Tetragon's limit);
	// beyond ArgMask they come in Data records of DataChunkLen at most.
	DataMax      = 327360
	DataChunkLen = 4096
	// MaxStackDepth is the most frames a stack trace holds: the kernel's
	// PERF_MAX_STACK_DEPTH (perf_event_max_stack can lower it).
	MaxStackDepth = 127
	// MaxIovecs are the iovec entries a char_iovec reads.
	MaxIovecs = 8
)

// Stack traces an event carries, as in enum stack_flag (SelAction.Stacks,
// Generic.Stacks).
const (
	StackKernel = 1
	StackUser   = 2
)

// Why a char_buf holds fewer bytes than it should, as in enum data_err
// (Generic.DataErr).
const (
	DataOK          = 0
	DataRingbufFull = 1 // the ring buffer had no room for a Data record
	DataFault       = 2 // the buffer's memory could not be read
)

// DataDropped in Generic.DataErr is not the kernel's: a Data record the
// kernel sent was dropped in user space (see Assembler).
const DataDropped = 0x80

// Argument types, as in enum arg_type.
const (
	ArgNone = iota
	ArgInt
	ArgUint
	ArgS64
	ArgU64
	ArgString
	ArgFd
	ArgSockaddr
	ArgCharBuf
	ArgFile
	ArgPath
	ArgBprm
	ArgSock
	ArgCred
	ArgSkb
	ArgUserNs
	ArgBpfAttr
	ArgBpfProg
	ArgBpfMap
	ArgPerfEvent
	// ArgCharIovec: a struct iovec array in user memory, its count in the
	// slot ArgSize names: the buffers one after the other.
	ArgCharIovec
	ArgModule   // struct module *: a ModuleArg
	ArgLoadInfo // struct load_info *: a ModuleArg with its signature check
	ArgS8       // 8-bit signed: the low byte, sign-extended
	ArgU8
	ArgS16
	ArgU16
	// ArgSockaddrUn: a struct sockaddr_un *, its family in the value
	// (with SockaddrUnAbstract for an abstract name), its name in data.
	ArgSockaddrUn
)

// SockaddrUnAbstract marks an abstract name in an ArgSockaddrUn slot's
// value; its data are the bytes after the name's leading NUL.
const SockaddrUnAbstract = 0x10000

// What a slot's argument points to when it is not the object its type
// reads (HookConfig.ArgObj), as in enum arg_obj: the kernel goes from it to
// that object first.
const (
	ObjSelf      = iota
	ObjSocket    // struct socket *: its sk, read as ArgSock
	ObjKiocb     // struct kiocb *: its ki_filp, read as ArgFile
	ObjNetDevice // struct net_device *: its name, read as ArgString
	// ObjDentry is a struct dentry *, read as ArgPath: its path up to its
	// file system's root, not through mounts (as Tetragon's dentry).
	ObjDentry
	ObjCaps // a kernel_cap_t *: its 64 bits, read as ArgU64
	// ObjIovIter is a struct iov_iter *, read as ArgCharBuf of its own
	// size: a ubuf's, or an iovec array's first (as Tetragon's; none on
	// kernels before 5.14, whose iov_iter has no iter_type).
	ObjIovIter
)

// UserNsArg is a struct user_namespace argument as the kernel reports it.
type UserNsArg struct {
	Level    int32
	UID, GID uint32
	Inum     uint32
}

// BpfProgArg is a BPF program (union bpf_attr or struct bpf_prog) as the
// kernel reports it.
type BpfProgArg struct {
	ProgType, InsnCnt uint32
	Name              [16]byte
}

// PerfEventArg is a struct perf_event argument as the kernel reports it.
type PerfEventArg struct {
	KprobeFunc          [128]byte
	Type                uint32
	Pad                 uint32
	Config, ProbeOffset uint64
}

// ModuleArg is a kernel module argument as the kernel reports it.
type ModuleArg struct {
	Name   [56]byte
	Taints uint64
	SigOK  uint8
	Pad    [7]byte
}

// BpfMapArg is a struct bpf_map argument as the kernel reports it.
type BpfMapArg struct {
	MapType, KeySize, ValueSize, MaxEntries uint32
	Name                                    [16]byte
}

// SkbInfo is a struct sk_buff argument as the kernel reports it.
type SkbInfo struct {
	Hash, Len, Priority, Mark uint32
	Family, Protocol          uint16
	Sport, Dport              uint16
	Saddr, Daddr              [16]uint8
}

// CredInfo is a struct cred argument as the kernel reports it.
type CredInfo struct {
	UID, GID, EUID, EGID, SUID, SGID, FSUID, FSGID uint32
	CapPermitted, CapEffective, CapInheritable     uint64
}

// SockInfo is a struct sock argument as the kernel reports it.
type SockInfo struct {
	Family   uint16
	Type     uint16
	Protocol uint16
	Sport    uint16
	Dport    uint16
	State    uint8
	Pad      uint8
	Mark     uint32
	Priority uint32
	Saddr    [16]uint8
	Daddr    [16]uint8
}

// Capability sets of SubjCaps conditions, as in enum cap_set.
const (
	CapSetEffective = iota
	CapSetInheritable
	CapSetPermitted
)

// How a tracepoint hook reads a slot's field, as in enum tp_kind.
const (
	TPNone = iota
	TPU8
	TPU16
	TPU32
	TPU64
	TPArray   // an array inside the record: its address
	TPDataLoc // a __data_loc field: the address of the data it locates
)

// Condition subjects besides argument slots, as in enum subject.
const (
	SubjPid    = 0x80
	SubjBinary = 0x81
	SubjRet    = 0x82
	// SubjParentBinary is the parent's executable path.
	SubjParentBinary = 0x83
	// SubjNs is the inode of namespace Cond.V2 (msg.h's enum ns_index).
	SubjNs = 0x84
	// SubjCaps holds when capability set Cond.V2 (CapSet*) has any
	// capability of the mask Cond.V1.
	SubjCaps = 0x85
	// SubjNsChanged holds when a namespace of the mask Cond.V1 (bits by
	// enum ns_index) differs from the process's at exec.
	SubjNsChanged = 0x86
	// SubjCapsChanged holds when a capability of the mask Cond.V1 in set
	// Cond.V2 differs from the process's at exec.
	SubjCapsChanged = 0x87
	// SubjWorkload holds when the process is in scope id Cond.V1 (a
	// selector's matchWorkloads: see Sensor.SetHostScope and the pod
	// scopes).
	SubjWorkload = 0x88
)

// HookConfig.AtExit values, as in enum at_exit: the hook runs at return;
// with AtExitInt the function returns a 32-bit int, sign-extended in the
// kernel.
const (
	AtExitLong = 1
	AtExitInt  = 2
)

// BinFollowChildren (enum bin_flag) in a SubjBinary condition's V1 makes
// it hold for the process or any of its ancestors (up to 16 generations).
const BinFollowChildren = 1

// matchPIDs flags in Cond.V1, as in enum pid_flag.
const (
	PidFollowForks = 1
	PidNamespace   = 2
)

// Rate limit scopes, as in enum rate_scope.
const (
	ScopeThread = iota
	ScopeProcess
	ScopeGlobal
)

// Condition operators, as in enum cond_op.
const (
	CondEq = 1 + iota
	CondPrefix
	CondPostfix
	CondGT
	CondLT
	CondMask
	CondInRange
	CondSPort // network arguments: a sockaddr's port counts as both
	CondSAddr
	CondFamily
	CondDPort
	CondDAddr
	CondProtocol
	CondState
	CondSPortPriv // below 1024
	CondDPortPriv
	CondFileType // a file argument's S_IFMT bits in the set
	// CondCapsGained: slot V1's capability set has some that the subject's
	// lacks (CapabilitiesGained: the subject the old set, V1 the new).
	CondCapsGained
	// CondSubstr: a string argument holds one of V1 substrings, those of
	// SubstrKey{SetID, 0..V1-1} (bpf_strnstr: SubString); V2 1: letters
	// in either case (SubStringIgnCase; the values lowercased).
	CondSubstr
)

// Policy modes, as in enum policy_mode.
const (
	ModeEnforce = 0
	ModeMonitor = 1
)

// Cond is one condition of a selector.
type Cond struct {
	Selector uint8
	Subject  uint8
	Op       uint8
	Negate   uint8
	SetID    uint32
	V1       int64
	V2       int64
}

// SelAction is what a matching selector does.
type SelAction struct {
	Post        uint8
	Sig         uint8
	Scope       uint8
	Stacks      uint8 // Stack*: the stack traces the event carries
	RateLimitMs uint32
	Override    int32 // error an LSM hook returns instead, 0 for none
	// SockAct (SockTrack, SockUntrack) on the socket read in slot
	// SockSlot: TrackSock and UntrackSock.
	SockAct  uint8
	SockSlot uint8
	IMA      uint8 // imaHash: the event carries the IMA hash of the hook's file
	// SetArg is 1 + the USDT argument a Set writes SetValue to (0: none).
	SetArg   uint8
	SetValue uint32
}

// Socket tracking actions, as in enum sock_act: a tracked socket's events
// are the process's that tracked it.
const (
	SockTrack   = 1
	SockUntrack = 2
)

// HookConfig configures one hook of the generic program.
type HookConfig struct {
	HookID     uint32
	PolicyID   uint32
	NArgs      uint8
	NConds     uint8
	NSelectors uint8
	AtExit     uint8
	ArgType    [MaxArgs]uint8
	ArgIndex   [MaxArgs]uint8
	ArgSize    [MaxArgs]uint8
	KernelMem  uint8 // bit i: slot i points to kernel memory
	RetCopy    uint8 // bit i: slot i's buffer is read at return, as many bytes as returned
	Scoped     uint8 // 1: only processes in the policy's pod scope (see Scopes)
	// MaxDataArgs bit i: slot i is a maxData char_buf, read up to MaxData
	// bytes (at most DataMax), those after the first ArgMask in Data
	// records; other char_bufs are cut at ArgMask.
	MaxDataArgs uint8
	// ArgConst is what a slot of index RawConst reads: a value the hook
	// knows (file_permission's mask, where a syscall serves it).
	ArgConst uint8
	// OpenExit: a hook on the opened file served at the open syscalls'
	// exit (OpenExitFile) skips failed calls, which opened no file; with
	// OpenExitSkipOpath it skips O_PATH descriptors too (no open for the
	// LSM; fd_install sees them).
	OpenExit uint8
	// RetSockAct (SockTrack, SockUntrack) on the returned socket, once the
	// entry's selectors matched: returnArgAction.
	RetSockAct uint8
	// FromTask: bit i, slot i starts at the current task, not at an
	// argument (data of source current_task), and follows its Resolve.
	FromTask uint8
	Pad      [1]uint8
	MaxData  uint32
	Actions  [MaxSelectors]SelAction
	Conds    [MaxConds]Cond
	// NResolve and Resolve: each slot's resolve path, the members followed
	// from the argument (see ResolveStep).
	NResolve [MaxArgs]uint8
	ArgObj   [MaxArgs]uint8 // what each slot points to (Obj*)
	Pad2     [6]uint8
	Resolve  [MaxArgs][MaxResolve]ResolveStep
	// RetActs bit s: selector s has matchReturnActions, in RetActions,
	// which run at the return once its matchReturnArgs hold (they decide
	// whether the event is posted).
	RetActs    uint32
	RetActions [MaxSelectors]SelAction
	// bit s: selector s has a SubjCapsChanged (CapsChanges), a
	// SubjNsChanged (NsChanges) condition; set by the conditions.
	CapsChanges uint16
	NsChanges   uint16
	// USDT: where a USDT hook's raw argument i is at the probe.
	USDT [MaxUSDTArgs]USDTArg
	// Quick: a syscall hook's prefilter, set when it is installed (see
	// quickFilter).
	Quick Quick
}

// MaxUSDTArgs are the arguments of a USDT a hook reads (raw[0] to raw[5]).
const MaxUSDTArgs = 6

// USDT argument kinds, as in enum usdt_kind.
const (
	USDTNone = iota
	USDTConst
	USDTReg
	USDTDeref
	USDTSIB
)

// USDTArg is where a USDT argument is at the probe: a constant (Val), a
// register (Reg, its offset in struct pt_regs), or memory at a register
// plus Val (and an Index register << Scale); Shift is 64 minus its size in
// bits, Sig 1 for a signed one.
type USDTArg struct {
	Val   int64
	Reg   uint16
	Index uint16
	Kind  uint8
	Scale uint8
	Shift uint8
	Sig   uint8
}

// ResolveStep is one member of a resolve path: the value so far plus Off,
// then Load bytes loaded from there (8: a pointer, or at the end an
// integer of 1, 2, 4 or 8 bytes), or with Load 0 that address itself (an
// embedded struct or array).
type ResolveStep struct {
	Off  uint32
	Load uint8
	Pad  [3]uint8
}

// HookStat counts a hook's selector matches (posted or not) and the
// enforcement actions it took (signals sent, operations overridden).
type HookStat struct {
	Hits    uint64
	Actions uint64
}

type syscallHooks struct {
	HookIDs [HooksPerSyscall]uint32
}

// StrKey is a key of the string sets (an LPM trie).
type StrKey struct {
	Prefixlen uint32
	SetID     uint32
	Data      [StrKeyLen]uint8
}

// SubstrKey is a key of the substrings: a SubString condition's set and
// the value's place in it.
type SubstrKey struct {
	SetID uint32
	Idx   uint32
}

// Substr is one SubString value in the substrings map.
type Substr struct {
	Key   SubstrKey
	Value [SubstrLen]byte
}

// IntKey is a key of the integer sets.
type IntKey struct {
	SetID uint32
	Pad   uint32
	Value int64
}

// rateKey is a key of the rate limit map.
type rateKey struct {
	HookID   uint32
	Selector uint32
	ScopeID  uint32
	Hash     uint32
}

// AddrKey is a key of the address sets (an LPM trie of CIDRs).
type AddrKey struct {
	Prefixlen uint32
	SetID     uint32
	Family    uint8
	Addr      [16]uint8
	Pad       [3]uint8
}

// Program is a policy compiled for the generic hook. Its set ids and hook
// ids are local (from 1); Install maps them to free global ones.
type Program struct {
	Hooks []SyscallHook
	Funcs []FuncHook
	Strs  []StrKey
	Subs  []Substr
	Ints  []IntKey
	Addrs []AddrKey
	Objs  []ObjName // paths whose objects' identities join the string sets
}

// SyscallHook is one hook on one syscall number.
type SyscallHook struct {
	Syscall uint32
	Config  HookConfig
	// Exit runs the hook at the syscall's exit only, where a slot of
	// index RawRet reads the return value (a hook on the object the
	// syscall returned, such as an opened file's descriptor).
	Exit bool
}

// Argument indexes beyond the raw arguments: RawRet reads a syscall's
// return value, in hooks that run at its exit (SyscallHook.Exit); RawConst
// reads HookConfig.ArgConst. RAW_RET and RAW_CONST in hook.h.
const (
	RawRet   = 6
	RawConst = 7
)

// HookConfig.OpenExit's flags: enum open_exit in generic.h.
const (
	OpenExitFile      = 1
	OpenExitSkipOpath = 2
)

// Attach types of hooks with a program of their own.
const (
	AttachKprobe = "kprobe"
	AttachFentry = "fentry"
	AttachLSM    = "lsm"
	AttachUprobe = "uprobe"
	AttachUSDT   = "usdt" // a uprobe at an SDT note's place
	// AttachUSDTSet: a USDT whose selectors may Set an argument.
	AttachUSDTSet    = "usdt_set"
	AttachTracepoint = "tracepoint"
	// Return hooks: the kprobe backend keeps the arguments at entry.
	AttachKretprobe = "kretprobe"
	AttachUretprobe = "uretprobe"
	AttachFexit     = "fexit"
	// Override of a kernel function's (or syscall's) return value.
	AttachFmodRet        = "fmod_ret"
	AttachKprobeOverride = "kprobe_override"
	// AttachRawTracepoint reads a tracepoint's TP_PROTO arguments.
	AttachRawTracepoint = "raw_tracepoint"
	// The sleepable programs that hash an LSM hook's file (its first
	// argument, or a linux_binprm's file) for imaHash: FuncHook.IMA.
	AttachLSMIMAFile = "lsm_ima_file"
	AttachLSMIMABprm = "lsm_ima_bprm"
)

// FuncHook is a hook with a program of its own: a kprobe or fentry on a
// kernel function (or a syscall's wrapper), or a BPF LSM hook.
type FuncHook struct {
	Attach string // AttachKprobe, AttachFentry or AttachLSM
	Symbol string // function, or LSM hook name (file_open)
	Path   string // uprobe: the executable or library
	// Offset: a uprobe's place in Path's file, without a Symbol (from
	// offsets, or addrs converted); RefCtrOffset: the file offset of its
	// reference counter (a USDT semaphore), which the kernel raises in
	// every process that maps Path while the probe is attached; 0: none.
	Offset, RefCtrOffset uint64
	Syscall              bool // a syscall wrapper: the arguments are in its pt_regs
	// Override: a return hook whose selectors may Override at the entry,
	// which then runs where the return value can be changed (fmod_ret
	// before fexit, a kprobe with bpf_override_return before kretprobe).
	Override bool
	// IMA: an LSM hook's sleepable program for imaHash
	// (AttachLSMIMAFile, AttachLSMIMABprm), attached before the hook's
	// own so that the kernel runs it right after; "" for none.
	IMA string
	// File: a uprobe's file as checked against binaryDigests, the only
	// one to attach to; zero: whatever Path names.
	File   FileID
	Fields TPFields
	Config HookConfig
}

// FileID names a file by its device and inode.
type FileID struct{ Dev, Ino uint64 }

// executable opens a uprobe's file: where the hook names the file it was
// checked against, that file and no other, attached through a descriptor
// so that nothing can take its place in between; done closes it.
func executable(fh FuncHook) (ex *link.Executable, done func(), err error) {
	if fh.File == (FileID{}) {
		ex, err = link.OpenExecutable(fh.Path)
		return ex, func() {}, err
	}
	f, err := os.Open(fh.Path)
	if err != nil {
		return nil, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, nil, err
	}
	if (FileID{Dev: st.Dev, Ino: st.Ino}) != fh.File {
		f.Close()
		return nil, nil, fmt.Errorf("%s is no longer the file whose digest was checked", fh.Path)
	}
	ex, err = link.OpenExecutable(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return ex, func() { f.Close() }, nil
}

// TPFields says where a tracepoint hook finds each slot's field in the
// record (Symbol is then "subsystem/event").
type TPFields struct {
	Offset [MaxArgs]uint16
	Kind   [MaxArgs]uint8 // TP*
}

// Installed is what Install put in the kernel for one policy.
type Installed struct {
	PolicyID uint32
	HookIDs  []uint32   // global ids: Program.Hooks, then Program.Funcs (prog has them too)
	prog     Program    // with global ids
	objs     []objEntry // prog.Objs as last found
	links    []link.Link
	progs    []*ebpf.Program
}

// Hooks manages the generic hook program: loaded and attached on first
// use, then configured only through its maps.
type Hooks struct {
	mu       sync.Mutex
	sensor   *Sensor
	objs     genericCore
	loaded   bool
	own      *ownPrograms            // nil without Config.SyscallTracepoints
	ownLinks map[hookPoint]link.Link // the syscalls' own tracepoints in use
	raw      [2]link.Link            // the raw syscall entry and exit, once needed
	nextHook uint32
	hookUsed map[uint32]bool
	nextSet  uint32
	policies map[uint32]*Installed
	cpus     int           // possible CPUs: the length of a per-CPU value
	stacks   *Stacks       // the stack map's reader, once loaded
	loads    atomic.Uint64 // programs loaded (Loads)
}

// genericCore is the generic object's maps and its syscall programs; the
// other programs are loaded per hook.
type genericCore struct {
	GenericSysEnter *ebpf.Program `ebpf:"generic_sys_enter"`
	GenericSysExit  *ebpf.Program `ebpf:"generic_sys_exit"`
	genericMaps
}

func (o *genericCore) Close() error {
	return errors.Join(o.GenericSysEnter.Close(), o.GenericSysExit.Close(), o.genericMaps.Close())
}

func newHooks(s *Sensor) *Hooks {
	return &Hooks{sensor: s, nextHook: 1, nextSet: 1, hookUsed: map[uint32]bool{}, policies: map[uint32]*Installed{},
		ownLinks: map[hookPoint]link.Link{}, cpus: ebpf.MustPossibleCPU()}
}

// genericSpec is the generic object, its ring buffer sized as the
// sensor's, which it shares, and its stack map as configured: every copy
// of a per-hook program must match the maps it shares.
func (h *Hooks) genericSpec() (*ebpf.CollectionSpec, error) {
	spec, err := loadGeneric()
	if err != nil {
		return nil, err
	}
	spec.Maps["events"].MaxEntries = h.sensor.objs.Events.MaxEntries()
	spec.Maps[genericMapStackTraces].MaxEntries = uint32(h.sensor.cfg.StackTraces)
	return spec, nil
}

// load loads the generic object, sharing the process sensor's ring buffer,
// counters and process map; its syscall programs attach once a hook list
// needs them (dispatch.go).
func (h *Hooks) load() error {
	if h.loaded {
		return nil
	}
	spec, err := h.genericSpec()
	if err != nil {
		return err
	}
	opts := &ebpf.CollectionOptions{MapReplacements: map[string]*ebpf.Map{
		"events": h.sensor.objs.Events, "counters": h.sensor.objs.Counters, "procs": h.sensor.objs.Procs,
		"cgroup_scopes": h.sensor.objs.CgroupScopes, "pod_scopes": h.sensor.objs.PodScopes,
		"host_scope": h.sensor.objs.HostScope,
	}}
	if err := spec.LoadAndAssign(&h.objs, opts); err != nil {
		return fmt.Errorf("loading the generic hook program: %w", describe(err))
	}
	h.loads.Add(1)
	if err := h.sensor.pins.mapOf(h.objs.HookStats, pinHookStats); err != nil {
		h.objs.Close()
		return fmt.Errorf("pinning: %w", err)
	}
	if err := h.loadOwn(spec); err != nil {
		h.objs.Close()
		return err
	}
	h.loaded = true
	h.stacks = newStacks(h.objs.StackTraces)
	return nil
}

// Loads counts the BPF programs loaded so far. A stack's frames in a
// program loaded since a symbol table was read are not in that table.
func (h *Hooks) Loads() uint64 { return h.loads.Load() }

// Stacks returns the reader of the stack traces hooks collect, or nil
// before the first policy loaded the generic program (no record can refer
// to a stack then). One goroutine, the ring buffer's reader, uses it.
func (h *Hooks) Stacks() *Stacks {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stacks
}

// Install puts a compiled policy in the kernel. When old is not nil, the
// new hooks join each syscall's list before the old ones leave it, so
// enforcement never lapses during a replacement.
func (h *Hooks) Install(policyID uint32, mode int, p Program, old *Installed) (*Installed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if policyID == 0 || policyID >= MaxPolicies {
		return nil, fmt.Errorf("policy id %d out of range 1..%d", policyID, MaxPolicies-1)
	}
	if err := h.load(); err != nil {
		return nil, err
	}
	in, err := h.globalize(policyID, p)
	if err != nil {
		return nil, err
	}
	if err := h.configure(in, mode); err != nil {
		h.detach(in)
		h.removeConfigs(in)
		return nil, err
	}
	if err := h.relink(in, old); err != nil {
		h.detach(in)
		h.removeConfigs(in)
		return nil, err
	}
	if old != nil {
		h.detach(old)
		h.removeConfigs(old)
	}
	h.policies[policyID] = in
	return in, nil
}

// configure writes an installed policy's sets, mode and hook configs and
// attaches its own programs; its hooks are not in any syscall list yet.
func (h *Hooks) configure(in *Installed, mode int) error {
	if err := h.writeSets(&in.prog); err != nil {
		return err
	}
	if _, _, err := h.writeIdentities(in); err != nil {
		return err
	}
	if err := h.objs.PolicyModes.Put(in.PolicyID, uint32(mode)); err != nil {
		return fmt.Errorf("setting policy mode: %w", err)
	}
	if err := h.resetStats(in); err != nil {
		return err
	}
	for _, hk := range in.prog.Hooks {
		if err := h.objs.HookConfigs.Put(hk.Config.HookID, &hk.Config); err != nil {
			return fmt.Errorf("writing hook config: %w", err)
		}
	}
	for _, fh := range in.prog.Funcs {
		if err := h.objs.HookConfigs.Put(fh.Config.HookID, &fh.Config); err != nil {
			return fmt.Errorf("writing hook config: %w", err)
		}
	}
	return h.attachFuncs(in)
}

// resetStats zeroes the counts of in's hook ids, which may have served
// other hooks before.
func (h *Hooks) resetStats(in *Installed) error {
	zero := make([]HookStat, h.cpus)
	for _, id := range in.HookIDs {
		if err := h.objs.HookStats.Put(id, zero); err != nil {
			return fmt.Errorf("resetting hook counts: %w", err)
		}
	}
	keys := make([]uint32, 0, len(in.HookIDs)*MaxSelectors)
	for _, id := range in.HookIDs {
		for sel := range uint32(MaxSelectors) {
			keys = append(keys, id*MaxSelectors+sel)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if _, err := h.objs.SelectorHits.BatchUpdate(keys, make([]uint64, len(keys)), nil); err != nil {
		return fmt.Errorf("resetting selector counts: %w", err)
	}
	return nil
}

// SelectorHits reads the matches of the first n selectors of hook id.
func (h *Hooks) SelectorHits(id uint32, n int) ([]uint64, error) {
	out := make([]uint64, min(n, MaxSelectors))
	for sel := range out {
		if err := h.objs.SelectorHits.Lookup(id*MaxSelectors+uint32(sel), &out[sel]); err != nil {
			return nil, fmt.Errorf("reading selector counts: %w", err)
		}
	}
	return out, nil
}

// Stats sums the counts of in's hooks over all CPUs.
func (h *Hooks) Stats(in *Installed) (HookStat, error) {
	var sum HookStat
	var perCPU []HookStat
	for _, id := range in.HookIDs {
		if err := h.objs.HookStats.Lookup(id, &perCPU); err != nil {
			return sum, fmt.Errorf("reading hook counts: %w", err)
		}
		for _, st := range perCPU {
			sum.Hits += st.Hits
			sum.Actions += st.Actions
		}
	}
	return sum, nil
}

// globalize copies p with global hook and set ids.
func (h *Hooks) globalize(policyID uint32, p Program) (*Installed, error) {
	base := h.nextSet - 1
	maxSet := uint32(0)
	in := &Installed{PolicyID: policyID}
	for _, hk := range p.Hooks {
		id, err := h.allocHook(in)
		if err != nil {
			return nil, err
		}
		hk.Config.HookID, hk.Config.PolicyID = id, policyID
		hk.Config.Quick = quickFilter(&hk.Config, p.Strs, p.Ints)
		globalizeConds(&hk.Config, base, &maxSet)
		in.prog.Hooks = append(in.prog.Hooks, hk)
	}
	for _, fh := range p.Funcs {
		id, err := h.allocHook(in)
		if err != nil {
			return nil, err
		}
		fh.Config.HookID, fh.Config.PolicyID = id, policyID
		globalizeConds(&fh.Config, base, &maxSet)
		in.prog.Funcs = append(in.prog.Funcs, fh)
	}
	for _, k := range p.Strs {
		k.SetID += base
		in.prog.Strs = append(in.prog.Strs, k)
	}
	for _, k := range p.Subs {
		k.Key.SetID += base
		in.prog.Subs = append(in.prog.Subs, k)
	}
	for _, k := range p.Ints {
		k.SetID += base
		in.prog.Ints = append(in.prog.Ints, k)
	}
	for _, k := range p.Addrs {
		k.SetID += base
		in.prog.Addrs = append(in.prog.Addrs, k)
	}
	for _, n := range p.Objs {
		n.SetID += base
		in.prog.Objs = append(in.prog.Objs, n)
	}
	h.nextSet += maxSet
	return in, nil
}

// allocHook gives in a free hook id. Ids go round the config array before
// one is reused, so a program still running a just-removed hook never
// reads a config rewritten for another; on failure in's ids are freed.
func (h *Hooks) allocHook(in *Installed) (uint32, error) {
	for range MaxHooks {
		id := h.nextHook
		h.nextHook = h.nextHook%(MaxHooks-1) + 1
		if !h.hookUsed[id] {
			h.hookUsed[id] = true
			in.HookIDs = append(in.HookIDs, id)
			return id, nil
		}
	}
	h.freeHooks(in)
	return 0, fmt.Errorf("all %d hooks are in use", MaxHooks-1)
}

func (h *Hooks) freeHooks(in *Installed) {
	for _, id := range in.HookIDs {
		delete(h.hookUsed, id)
	}
}

func globalizeConds(cfg *HookConfig, base uint32, maxSet *uint32) {
	for i := range cfg.Conds[:cfg.NConds] {
		c := &cfg.Conds[i]
		if c.SetID != 0 {
			*maxSet = max(*maxSet, c.SetID)
			c.SetID += base
		}
	}
}

func (h *Hooks) writeSets(p *Program) error {
	one := uint8(1)
	for i := range p.Strs {
		if err := h.objs.StrSets.Update(&p.Strs[i], one, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("string set entry: %w", err)
		}
	}
	for i := range p.Subs {
		if err := h.objs.Substrs.Update(&p.Subs[i].Key, &p.Subs[i].Value, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("substring entry: %w", err)
		}
	}
	for i := range p.Ints {
		if err := h.objs.IntSets.Update(&p.Ints[i], one, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("integer set entry: %w", err)
		}
	}
	for i := range p.Addrs {
		if err := h.objs.AddrSets.Update(&p.Addrs[i], one, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("address set entry: %w", err)
		}
	}
	return nil
}

func (h *Hooks) deleteSets(p *Program) {
	for i := range p.Strs {
		_ = h.objs.StrSets.Delete(&p.Strs[i])
	}
	for i := range p.Subs {
		_ = h.objs.Substrs.Delete(&p.Subs[i].Key)
	}
	for i := range p.Ints {
		_ = h.objs.IntSets.Delete(&p.Ints[i])
	}
	for i := range p.Addrs {
		_ = h.objs.AddrSets.Delete(&p.Addrs[i])
	}
}

// relink rewrites the hook list of every syscall that in or old touches:
// old's ids out, in's ids in, in one map update per syscall. Every list
// is computed and checked first; a failed write puts back those written,
// so an install or removal is all or nothing.
func (h *Hooks) relink(in, old *Installed) error {
	drop := map[uint32]bool{}
	points := map[hookPoint]bool{}
	if old != nil {
		for i, hk := range old.prog.Hooks {
			drop[old.HookIDs[i]] = true
			for _, p := range pointsOf(hk) {
				points[p] = true
			}
		}
	}
	add := map[hookPoint][]uint32{}
	if in != nil {
		for i, hk := range in.prog.Hooks {
			for _, p := range pointsOf(hk) {
				add[p] = append(add[p], in.HookIDs[i])
				points[p] = true
			}
		}
	}
	saved, next := map[hookPoint]*syscallHooks{}, map[hookPoint]*syscallHooks{}
	for p := range points {
		cur, nxt, err := h.nextList(p, add[p], drop)
		if err != nil {
			return err
		}
		saved[p], next[p] = cur, nxt
	}
	if err := h.serve(next); err != nil {
		h.unserve(saved)
		return err
	}
	if err := h.writeLists(next, saved); err != nil {
		h.unserve(saved)
		return err
	}
	h.unserve(next)
	return nil
}

// writeLists writes every list of next; on failure, those written go back
// to saved.
func (h *Hooks) writeLists(next, saved map[hookPoint]*syscallHooks) error {
	var done []hookPoint
	for p, l := range next {
		if err := h.listMap(p).Put(p.nr, l); err != nil {
			for _, q := range done {
				_ = h.listMap(q).Put(q.nr, saved[q])
			}
			return fmt.Errorf("syscall %d: writing its hook list: %w", p.nr, err)
		}
		done = append(done, p)
	}
	return nil
}

// hookPoint is a syscall's entry or exit.
type hookPoint struct {
	nr   uint32
	exit bool
}

// pointsOf are where a syscall hook runs: its entry, and for a return
// hook also its exit (its selectors run at entry, its return filters and
// event at exit).
func pointsOf(hk SyscallHook) []hookPoint {
	if hk.Exit {
		return []hookPoint{{hk.Syscall, true}}
	}
	if hk.Config.AtExit != 0 {
		return []hookPoint{{hk.Syscall, false}, {hk.Syscall, true}}
	}
	return []hookPoint{{hk.Syscall, false}}
}

func (h *Hooks) listMap(p hookPoint) *ebpf.Map {
	if p.exit {
		return h.objs.SyscallExitHooks
	}
	return h.objs.SyscallHooks
}

// nextList reads p's hook list and computes it with drop's ids out and
// add's in; it refuses a list longer than the kernel's.
func (h *Hooks) nextList(p hookPoint, add []uint32, drop map[uint32]bool) (cur, next *syscallHooks, err error) {
	cur, next = &syscallHooks{}, &syscallHooks{}
	if err := h.listMap(p).Lookup(p.nr, cur); err != nil {
		return nil, nil, fmt.Errorf("syscall %d: %w", p.nr, err)
	}
	var ids []uint32
	for _, id := range cur.HookIDs {
		if id != 0 && !drop[id] {
			ids = append(ids, id)
		}
	}
	ids = append(ids, add...)
	if len(ids) > HooksPerSyscall {
		return nil, nil, fmt.Errorf("syscall %d: more than %d hooks from all policies together", p.nr, HooksPerSyscall)
	}
	copy(next.HookIDs[:], ids)
	return cur, next, nil
}

// programNames are the generic object's per-hook programs.
var programNames = map[string]string{
	AttachKprobe: "generic_kprobe", AttachFentry: "generic_fentry", AttachLSM: "generic_lsm",
	AttachUprobe:         "generic_kprobe", // a uprobe program is a kprobe program
	AttachUSDT:           "generic_usdt",
	AttachUSDTSet:        "generic_usdt_set",
	AttachTracepoint:     "generic_tracepoint",
	AttachKretprobe:      "generic_kretprobe",
	AttachUretprobe:      "generic_kretprobe", // a uretprobe program is a kretprobe program
	AttachFexit:          "generic_fexit",
	AttachFmodRet:        "generic_fmod_ret",
	AttachKprobeOverride: "generic_kprobe_override",
	AttachKprobeMulti:    "generic_kprobe_multi",
	AttachRawTracepoint:  "generic_raw_tp",
	AttachLSMIMAFile:     "generic_lsm_ima_file",
	AttachLSMIMABprm:     "generic_lsm_ima_bprm",
}

// attachFuncs loads one copy of the per-hook program for each FuncHook,
// with its constants set and the generic maps shared, and attaches it;
// with Config.KprobeMulti, plain kprobes share programs and links
// (multiGroups).
func (h *Hooks) attachFuncs(in *Installed) error {
	funcs := in.prog.Funcs
	if h.sensor.cfg.KprobeMulti {
		var groups [][]FuncHook
		groups, funcs = multiGroups(funcs)
		for _, g := range groups {
			if err := h.attachMulti(in, g); err != nil {
				return err
			}
		}
	}
	for _, fh := range funcs {
		if fh.IMA != "" {
			ima := fh
			ima.Attach = fh.IMA
			if err := h.attachFunc(in, ima, false); err != nil {
				return err
			}
		}
		if entry, ok := entryOf(fh); ok {
			if err := h.attachFunc(in, entry, fh.Attach == AttachKretprobe || fh.Attach == AttachUretprobe); err != nil {
				return err
			}
		}
		if err := h.attachFunc(in, fh, false); err != nil {
			return err
		}
	}
	return nil
}

// entryOf is the entry program of a return hook, where its selectors and
// actions run (the kprobe also keeps the arguments for the kretprobe).
func entryOf(fh FuncHook) (FuncHook, bool) {
	entry := fh
	switch {
	case fh.Attach == AttachKretprobe && fh.Override:
		entry.Attach = AttachKprobeOverride
	case fh.Attach == AttachKretprobe:
		entry.Attach = AttachKprobe
	case fh.Attach == AttachUretprobe:
		entry.Attach = AttachUprobe
	case fh.Attach == AttachFexit && fh.Override:
		entry.Attach = AttachFmodRet
	case fh.Attach == AttachFexit:
		entry.Attach = AttachFentry
	default:
		return fh, false
	}
	return entry, true
}

func (h *Hooks) attachFunc(in *Installed, fh FuncHook, stash bool) error {
	prog, err := h.loadFunc(fh, stash)
	if err != nil {
		return fmt.Errorf("%s %s: %w", fh.Attach, fh.Symbol, err)
	}
	in.progs = append(in.progs, prog)
	l, err := attach(fh, prog)
	if err != nil {
		return fmt.Errorf("attaching %s %s: %w", fh.Attach, fh.Symbol, err)
	}
	in.links = append(in.links, l)
	return h.sensor.pins.link(l, fh.Attach+"/"+fh.Symbol)
}

// loadFunc loads a copy of fh's program with its constants set; stash
// makes a kprobe keep the arguments for a kretprobe instead.
func (h *Hooks) loadFunc(fh FuncHook, stash bool) (*ebpf.Program, error) {
	spec, err := h.genericSpec()
	if err != nil {
		return nil, err
	}
	nargs, err := funcArgs(fh)
	if err != nil {
		return nil, err
	}
	consts := map[string]uint32{"cfg_hook_id": fh.Config.HookID, "cfg_nargs": nargs, "cfg_syscall": 0, "cfg_stash": 0}
	if fh.Syscall {
		consts["cfg_syscall"] = 1
	}
	if stash {
		consts["cfg_stash"] = 1
	}
	for name, v := range consts {
		if err := spec.Variables[name].Set(v); err != nil {
			return nil, fmt.Errorf("setting %s: %w", name, err)
		}
	}
	if err := errors.Join(spec.Variables["cfg_tp_off"].Set(fh.Fields.Offset),
		spec.Variables["cfg_tp_kind"].Set(fh.Fields.Kind)); err != nil {
		return nil, fmt.Errorf("setting the tracepoint fields: %w", err)
	}
	name := programNames[fh.Attach]
	if trampoline(fh.Attach) {
		spec.Programs[name].AttachTo = fh.Symbol
	}
	var objs struct {
		Prog *ebpf.Program `ebpf:"prog"`
	}
	spec.Programs["prog"] = spec.Programs[name]
	if err := spec.LoadAndAssign(&objs, &ebpf.CollectionOptions{MapReplacements: h.sharedMaps()}); err != nil {
		return nil, describe(err)
	}
	h.loads.Add(1)
	return objs.Prog, nil
}

// trampoline says whether programs of this attach type are BPF trampolines,
// which name their function at load and see its BTF-typed arguments.
func trampoline(attach string) bool {
	return attach == AttachFentry || attach == AttachFexit || attach == AttachFmodRet || lsm(attach)
}

// lsm says whether programs of this attach type are BPF LSM programs.
func lsm(attach string) bool {
	return attach == AttachLSM || attach == AttachLSMIMAFile || attach == AttachLSMIMABprm
}

// funcArgs is the number of arguments of a trampoline's target, from the
// kernel's BTF (the program may only read that many).
func funcArgs(fh FuncHook) (uint32, error) {
	if !trampoline(fh.Attach) && fh.Attach != AttachRawTracepoint {
		return 0, nil
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return 0, fmt.Errorf("kernel BTF: %w", err)
	}
	if fh.Attach == AttachRawTracepoint {
		return RawTracepointArgs(spec, fh.Symbol)
	}
	name := fh.Symbol
	if lsm(fh.Attach) {
		name = "bpf_lsm_" + name
	}
	var fn *btf.Func
	if err := spec.TypeByName(name, &fn); err != nil {
		return 0, fmt.Errorf("function %s in kernel BTF: %w", name, err)
	}
	return uint32(len(fn.Type.(*btf.FuncProto).Params)), nil
}

// RawTracepointArgs is the number of TP_PROTO arguments of tracepoint
// event, from its btf_trace_ typedef in the kernel's BTF.
func RawTracepointArgs(spec *btf.Spec, event string) (uint32, error) {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_"+event, &td); err != nil {
		return 0, fmt.Errorf("raw tracepoint %s in kernel BTF: %w", event, err)
	}
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return 0, fmt.Errorf("raw tracepoint %s: btf_trace_%[1]s is not a function pointer", event)
	}
	proto, ok := ptr.Target.(*btf.FuncProto)
	if !ok || len(proto.Params) == 0 {
		return 0, fmt.Errorf("raw tracepoint %s: btf_trace_%[1]s is not a function pointer", event)
	}
	return uint32(len(proto.Params) - 1), nil // the first is the probe's data
}

// sharedMaps are the maps every copy of a per-hook program uses.
func (h *Hooks) sharedMaps() map[string]*ebpf.Map {
	out := map[string]*ebpf.Map{}
	v := reflect.ValueOf(h.objs.genericMaps)
	for i := range v.NumField() {
		out[v.Type().Field(i).Tag.Get("ebpf")] = v.Field(i).Interface().(*ebpf.Map)
	}
	return out
}

func attach(fh FuncHook, prog *ebpf.Program) (link.Link, error) {
	switch fh.Attach {
	case AttachKprobe, AttachKprobeOverride:
		return link.Kprobe(fh.Symbol, prog, nil)
	case AttachKretprobe:
		return link.Kretprobe(fh.Symbol, prog, nil)
	case AttachFentry, AttachFexit, AttachFmodRet:
		return link.AttachTracing(link.TracingOptions{Program: prog})
	case AttachLSM, AttachLSMIMAFile, AttachLSMIMABprm:
		return link.AttachLSM(link.LSMOptions{Program: prog})
	case AttachRawTracepoint:
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: fh.Symbol, Program: prog})
	case AttachTracepoint:
		if _, err := tracefs.Dir(); err != nil {
			return nil, err
		}
		group, name, _ := strings.Cut(fh.Symbol, "/")
		return link.Tracepoint(group, name, prog, nil)
	case AttachUprobe, AttachUSDT, AttachUSDTSet, AttachUretprobe:
		ex, done, err := executable(fh)
		if err != nil {
			return nil, err
		}
		defer done()
		opts := &link.UprobeOptions{Address: fh.Offset, RefCtrOffset: fh.RefCtrOffset}
		if fh.Attach == AttachUretprobe {
			return ex.Uretprobe(fh.Symbol, prog, opts)
		}
		return ex.Uprobe(fh.Symbol, prog, opts)
	}
	return nil, fmt.Errorf("unknown attach type %q", fh.Attach)
}

// detach closes an installed policy's own programs and links.
func (h *Hooks) detach(in *Installed) {
	for _, l := range in.links {
		h.sensor.pins.unlink(l)
		_ = l.Close()
	}
	for _, p := range in.progs {
		_ = p.Close()
	}
	in.links, in.progs = nil, nil
}

func (h *Hooks) removeConfigs(in *Installed) {
	h.freeHooks(in)
	h.deleteSets(&in.prog)
	h.deleteIdentities(in)
}

// Remove takes an installed policy out of the kernel.
func (h *Hooks) Remove(in *Installed) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.relink(nil, in); err != nil {
		return err
	}
	h.detach(in)
	h.removeConfigs(in)
	delete(h.policies, in.PolicyID)
	return nil
}

// SetMode switches a policy between enforce and monitor without reloading.
func (h *Hooks) SetMode(policyID uint32, mode int) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.policies[policyID] == nil {
		return fmt.Errorf("policy id %d is not installed", policyID)
	}
	return h.objs.PolicyModes.Put(policyID, uint32(mode))
}

func (h *Hooks) close() error {
	h.mu.Lock() // after any Install or Remove in flight
	defer h.mu.Unlock()
	if !h.loaded {
		return nil
	}
	return errors.Join(h.closeDispatch(), h.objs.Close())
}
