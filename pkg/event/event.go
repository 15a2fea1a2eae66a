// Package event defines Vigil's JSON events. Field names and JSON types
// follow Tetragon's exported events, so that its users' parsers keep working;
// Vigil's own additions use names Tetragon does not have.
package event

import "time"

// Event is one JSON line: exactly one of the event fields is set.
type Event struct {
	ProcessExec *ProcessExec `json:"process_exec,omitempty"`
	ProcessExit *ProcessExit `json:"process_exit,omitempty"`
	// ProcessKprobe reports a policy hook on a syscall or kernel function,
	// whichever backend served it (Tetragon's name for all of them).
	ProcessKprobe *ProcessKprobe `json:"process_kprobe,omitempty"`
	// ProcessLsm reports a policy's lsmhooks hook; its fields are those of
	// ProcessKprobe.
	ProcessLsm *ProcessKprobe `json:"process_lsm,omitempty"`
	// ProcessUprobe reports a policy's uprobes hook.
	ProcessUprobe *ProcessUprobe `json:"process_uprobe,omitempty"`
	// ProcessUsdt reports a policy's usdts hook.
	ProcessUsdt *ProcessUsdt `json:"process_usdt,omitempty"`
	// ProcessTracepoint reports a policy's tracepoints hook.
	ProcessTracepoint *ProcessTracepoint `json:"process_tracepoint,omitempty"`
	// ProcessLoader reports a file mapped executable into a process
	// (spec.loader).
	ProcessLoader *ProcessLoader `json:"process_loader,omitempty"`
	LostEvents    *LostEvents    `json:"lost_events,omitempty"`
	RateLimitInfo *RateLimitInfo `json:"rate_limit_info,omitempty"`
	NodeName      string         `json:"node_name"`
	Time          string         `json:"time"`
}

// ProcessExec reports a program being executed, or a process found running
// when the agent started (flag "procFS").
type ProcessExec struct {
	Process   *Process   `json:"process"`
	Parent    *Process   `json:"parent,omitempty"`
	Ancestors []*Process `json:"ancestors,omitempty"`
}

// ProcessExit reports the end of a process: its exit status, or the signal
// that killed it.
type ProcessExit struct {
	Process   *Process   `json:"process"`
	Parent    *Process   `json:"parent,omitempty"`
	Ancestors []*Process `json:"ancestors,omitempty"`
	Signal    string     `json:"signal,omitempty"`
	Status    uint32     `json:"status"`
	Time      string     `json:"time"`
}

// ProcessKprobe reports that a policy's hook fired and its selectors
// matched: the function, its arguments, and the action taken.
type ProcessKprobe struct {
	Process      *Process    `json:"process"`
	Parent       *Process    `json:"parent,omitempty"`
	Ancestors    []*Process  `json:"ancestors,omitempty"`
	FunctionName string      `json:"function_name"`
	Args         []*Argument `json:"args,omitempty"`
	Return       *Argument   `json:"return,omitempty"`
	Action       string      `json:"action"`
	PolicyName   string      `json:"policy_name,omitempty"`
	Message      string      `json:"message,omitempty"`
	Tags         []string    `json:"tags,omitempty"`
	// ImaHash is the IMA hash of an LSM hook's file (imaHash), as Tetragon
	// shows it: the algorithm, a colon, the hexadecimal digest.
	ImaHash string `json:"ima_hash,omitempty"`
	// Backend is Vigil's addition: which kernel mechanism served the hook.
	Backend string `json:"backend,omitempty"`
	// Mode is Vigil's addition: "monitor" when the policy only reports, in
	// which case Action is what enforcement would have done.
	Mode string `json:"mode,omitempty"`
	StackTraces
}

// StackTraces are the stack traces to a hook that the selector's Post
// action asked for (kernelStackTrace, userStackTrace). Tetragon's events
// carry them in process_kprobe; Vigil's in every hook event.
type StackTraces struct {
	// KernelStackTrace is the kernel's stack, innermost first, from the
	// traced code (the hook's own BPF program left out).
	KernelStackTrace []*StackTraceEntry `json:"kernel_stack_trace,omitempty"`
	// UserStackTrace is the process's stack, innermost first.
	UserStackTrace []*StackTraceEntry `json:"user_stack_trace,omitempty"`
	// KernelStackTraceError and UserStackTraceError are Vigil's
	// additions: why a stack asked for is missing (the kernel's stack map
	// was full, ...) or its frames unnamed (the process exited before its
	// memory map was read, ...).
	KernelStackTraceError string `json:"kernel_stack_trace_error,omitempty"`
	UserStackTraceError   string `json:"user_stack_trace_error,omitempty"`
}

// StackTraceEntry is one frame of a stack trace.
type StackTraceEntry struct {
	// Address is the frame's address. Events carry it only when the
	// agent runs with --expose-stack-addresses: it defeats (K)ASLR.
	Address uint64 `json:"address,omitempty,string"`
	// Offset is, in a kernel frame, the offset into the function; in a
	// user frame, the offset into the mapped file (Module).
	Offset uint64 `json:"offset,omitempty,string"`
	// Symbol is the function, where the kernel or the file names it;
	// "unknown" for a kernel address kallsyms does not name.
	Symbol string `json:"symbol,omitempty"`
	// Module is, in a user frame, the path of the mapped file as the
	// process sees it ("[vdso]", "[anon]" for memory that maps no file,
	// "unknown" when the process's memory map could not be read); in a
	// kernel frame, Vigil's addition: the module, such as "[ext4]".
	Module string `json:"module,omitempty"`
}

// ProcessTracepoint reports that a tracepoint hook fired and its selectors
// matched: the tracepoint, the fields read, action and policy.
type ProcessTracepoint struct {
	Process    *Process    `json:"process"`
	Parent     *Process    `json:"parent,omitempty"`
	Ancestors  []*Process  `json:"ancestors,omitempty"`
	Subsys     string      `json:"subsys"`
	Event      string      `json:"event"`
	Args       []*Argument `json:"args,omitempty"`
	Action     string      `json:"action"`
	PolicyName string      `json:"policy_name,omitempty"`
	Message    string      `json:"message,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Mode       string      `json:"mode,omitempty"`
	StackTraces
}

// ProcessUprobe reports that a uprobe hook fired and its selectors matched:
// the binary and symbol, arguments, action and policy.
type ProcessUprobe struct {
	Process   *Process   `json:"process"`
	Parent    *Process   `json:"parent,omitempty"`
	Ancestors []*Process `json:"ancestors,omitempty"`
	Path      string     `json:"path"`
	Symbol    string     `json:"symbol"`
	// Offset: the probe's place in Path's file, where it has no symbol;
	// RefCtrOffset: its reference counter's (a USDT semaphore).
	Offset       uint64      `json:"offset,omitempty,string"`
	RefCtrOffset uint64      `json:"ref_ctr_offset,omitempty,string"`
	Args         []*Argument `json:"args,omitempty"`
	Action       string      `json:"action"`
	PolicyName   string      `json:"policy_name,omitempty"`
	Message      string      `json:"message,omitempty"`
	Tags         []string    `json:"tags,omitempty"`
	Mode         string      `json:"mode,omitempty"`
	StackTraces
}

// ProcessLoader reports an ELF file (a shared library, mostly) mapped
// executable into a process, once per process and file: its path and the
// GNU build ID of its build (base64 in JSON, as Tetragon writes it).
type ProcessLoader struct {
	Process *Process `json:"process"`
	Path    string   `json:"path"`
	Buildid []byte   `json:"buildid,omitempty"`
}

// ProcessUsdt reports that a USDT hook fired and its selectors matched:
// the binary, provider and probe name, arguments, action and policy.
type ProcessUsdt struct {
	Process    *Process    `json:"process"`
	Parent     *Process    `json:"parent,omitempty"`
	Ancestors  []*Process  `json:"ancestors,omitempty"`
	Path       string      `json:"path"`
	Provider   string      `json:"provider"`
	Name       string      `json:"name"`
	Args       []*Argument `json:"args,omitempty"`
	Action     string      `json:"action"`
	PolicyName string      `json:"policy_name,omitempty"`
	Message    string      `json:"message,omitempty"`
	Tags       []string    `json:"tags,omitempty"`
	Mode       string      `json:"mode,omitempty"`
	StackTraces
}

// Actions, with Tetragon's names.
const (
	ActionPost      = "KPROBE_ACTION_POST"
	ActionSigkill   = "KPROBE_ACTION_SIGKILL"
	ActionSignal    = "KPROBE_ACTION_SIGNAL"
	ActionOverride  = "KPROBE_ACTION_OVERRIDE"
	ActionGetURL    = "KPROBE_ACTION_GETURL"
	ActionDNSLookup = "KPROBE_ACTION_DNSLOOKUP"
)

// Argument is one typed argument of a hook; exactly one value is set.
type Argument struct {
	IntArg    *int32  `json:"int_arg,omitempty"`
	UintArg   *uint32 `json:"uint_arg,omitempty"`
	LongArg   *int64  `json:"long_arg,omitempty,string"`
	SizeArg   *uint64 `json:"size_arg,omitempty,string"`
	StringArg *string `json:"string_arg,omitempty"`
	BytesArg  []byte  `json:"bytes_arg,omitempty"`
	// TruncatedBytesArg is a buffer of which only the first bytes were
	// read (the limit, or loss on the way).
	TruncatedBytesArg *TruncatedBytes `json:"truncated_bytes_arg,omitempty"`
	FileArg           *FileArg        `json:"file_arg,omitempty"`
	PathArg           *FileArg        `json:"path_arg,omitempty"`
	// LinuxBinprmArg is the program being executed.
	LinuxBinprmArg *FileArg     `json:"linux_binprm_arg,omitempty"`
	SockaddrArg    *SockaddrArg `json:"sockaddr_arg,omitempty"`
	SockaddrUnArg  *SockaddrUn  `json:"sockaddrun_arg,omitempty"`
	SyscallID      *SyscallID   `json:"syscall_id,omitempty"`
	SockArg        *SockArg     `json:"sock_arg,omitempty"`
	SkbArg         *SkbArg      `json:"skb_arg,omitempty"`
	// ProcessCredentialsArg is a struct cred: ids and capabilities.
	ProcessCredentialsArg *CredentialsArg `json:"process_credentials_arg,omitempty"`
	CapabilityArg         *Capability     `json:"capability_arg,omitempty"`
	UserNsArg             *UserNamespace  `json:"user_ns_arg,omitempty"`
	// Capability sets (kernel_cap_t and the cap_* types), as Tetragon shows
	// them: 16 hexadecimal digits.
	KernelCapTArg     *string `json:"kernel_cap_t_arg,omitempty"`
	CapInheritableArg *string `json:"cap_inheritable_arg,omitempty"`
	CapPermittedArg   *string `json:"cap_permitted_arg,omitempty"`
	CapEffectiveArg   *string `json:"cap_effective_arg,omitempty"`
	// BpfAttrArg is a BPF program being loaded (bpf_attr).
	BpfAttrArg *BpfProgArg `json:"bpf_attr_arg,omitempty"`
	// BpfProgArg is a loaded BPF program (bpf_prog).
	BpfProgArg *BpfProgArg `json:"bpf_prog_arg,omitempty"`
	BpfMapArg  *BpfMapArg  `json:"bpf_map_arg,omitempty"`
	// ModuleArg is a kernel module (module, load_info).
	ModuleArg *KernelModule `json:"module_arg,omitempty"`
	// PerfEventArg is a perf event being created (perf_event).
	PerfEventArg *PerfEventArg `json:"perf_event_arg,omitempty"`
	Label        string        `json:"label,omitempty"`
}

// PerfEventArg is a perf event: for a kprobe its function and offset, its
// type and config, with Tetragon's field names.
type PerfEventArg struct {
	KprobeFunc  string `json:"KprobeFunc,omitempty"`
	Type        string `json:"Type,omitempty"`
	Config      uint64 `json:"Config,omitempty,string"`
	ProbeOffset uint64 `json:"ProbeOffset,omitempty,string"`
}

// UserNamespace is a user namespace: its nesting level (0: the initial
// one), its owner's ids, and its inode number.
type UserNamespace struct {
	Level int32     `json:"level"`
	UID   uint32    `json:"uid"`
	GID   uint32    `json:"gid"`
	Ns    Namespace `json:"ns"`
}

// BpfProgArg is a BPF program: its type, instructions and name, with
// Tetragon's field names.
type BpfProgArg struct {
	ProgType string `json:"ProgType,omitempty"`
	InsnCnt  uint32 `json:"InsnCnt,omitempty"`
	ProgName string `json:"ProgName,omitempty"`
}

// KernelModule is a kernel module, with Tetragon's field names: its name,
// whether its signature checked out (load_info arguments only), and its
// taint flags.
type KernelModule struct {
	Name        string   `json:"name,omitempty"`
	SignatureOk *bool    `json:"signature_ok,omitempty"`
	Tainted     []string `json:"tainted,omitempty"`
}

// taints are the module taint flags events name, as Tetragon's
// TaintedBitsType values (1 << the kernel's TAINT_* bit).
var taints = []struct {
	bit  uint64
	name string
}{
	{1 << 0, "TAINT_PROPRIETARY_MODULE"}, {1 << 1, "TAINT_FORCED_MODULE"}, {1 << 2, "TAINT_FORCED_UNLOAD_MODULE"},
	{1 << 10, "TAINT_STAGED_MODULE"}, {1 << 12, "TAINT_OUT_OF_TREE_MODULE"}, {1 << 13, "TAINT_UNSIGNED_MODULE"},
	{1 << 15, "TAINT_KERNEL_LIVE_PATCH_MODULE"}, {1 << 18, "TAINT_TEST_MODULE"},
}

// TaintNames names a module's taint flags as Tetragon does; other bits
// are not shown.
func TaintNames(flags uint64) []string {
	var out []string
	for _, t := range taints {
		if flags&t.bit != 0 {
			out = append(out, t.name)
		}
	}
	return out
}

// BpfMapArg is a BPF map, with Tetragon's field names.
type BpfMapArg struct {
	MapType    string `json:"MapType,omitempty"`
	KeySize    uint32 `json:"KeySize,omitempty"`
	ValueSize  uint32 `json:"ValueSize,omitempty"`
	MaxEntries uint32 `json:"MaxEntries,omitempty"`
	MapName    string `json:"MapName,omitempty"`
}

// TruncatedBytes is a buffer cut short: the bytes read, and its size.
type TruncatedBytes struct {
	BytesArg []byte `json:"bytes_arg,omitempty"`
	OrigSize uint64 `json:"orig_size,omitempty,string"`
	// Incomplete is Vigil's addition: set when bytes below the limit are
	// missing too, it says why (Incomplete*).
	Incomplete string `json:"incomplete,omitempty"`
}

// Why a TruncatedBytes lacks bytes below the limit.
const (
	// IncompleteRingBuffer: the kernel's ring buffer had no room for a
	// data record (counted as lost_events LostDataRingBuffer).
	IncompleteRingBuffer = "kernel_ring_buffer_full"
	// IncompleteFault: the buffer's memory could not be read.
	IncompleteFault = "read_fault"
	// IncompleteDropped: a data record was dropped in user space (counted
	// as lost_events LostDataRecords).
	IncompleteDropped = "data_records_dropped"
)

// SockArg is a socket: its family, type, protocol, addresses and state.
type SockArg struct {
	Family   string `json:"family"`
	Type     string `json:"type,omitempty"`
	Protocol string `json:"protocol,omitempty"`
	Mark     uint32 `json:"mark,omitempty"`
	Priority uint32 `json:"priority,omitempty"`
	Saddr    string `json:"saddr,omitempty"`
	Daddr    string `json:"daddr,omitempty"`
	Sport    uint32 `json:"sport,omitempty"`
	Dport    uint32 `json:"dport,omitempty"`
	State    string `json:"state,omitempty"`
}

// CredentialsArg is a struct cred: its ids and capability sets.
type CredentialsArg struct {
	Credentials
	Caps *Capabilities `json:"caps,omitempty"`
}

// Capability is one capability: its number and name.
type Capability struct {
	Value int32  `json:"value"`
	Name  string `json:"name,omitempty"`
}

// SkbArg is a packet: its IP and TCP/UDP headers and socket buffer fields.
type SkbArg struct {
	Hash     uint32 `json:"hash,omitempty"`
	Len      uint32 `json:"len,omitempty"`
	Priority uint32 `json:"priority,omitempty"`
	Mark     uint32 `json:"mark,omitempty"`
	Saddr    string `json:"saddr,omitempty"`
	Daddr    string `json:"daddr,omitempty"`
	Sport    uint32 `json:"sport,omitempty"`
	Dport    uint32 `json:"dport,omitempty"`
	Proto    uint32 `json:"proto,omitempty"`
}

// SyscallID is a syscall number and the ABI it belongs to.
type SyscallID struct {
	ID  uint32 `json:"id"`
	ABI string `json:"abi"`
}

// FileArg is a file or path, resolved in the kernel.
type FileArg struct {
	Path string `json:"path"`
}

// SockaddrUn is a Unix socket address: its family and its name, a path or
// "@" and an abstract name.
type SockaddrUn struct {
	Family string `json:"family"`
	Path   string `json:"path,omitempty"`
}

// SockaddrArg is a socket address.
type SockaddrArg struct {
	Family string `json:"family"`
	Addr   string `json:"addr,omitempty"`
	Port   uint32 `json:"port,omitempty"`
}

// LostEvents is Vigil's in-band record of events that could not be
// delivered: Count of them, for Reason, between WindowStart and WindowEnd.
type LostEvents struct {
	Count       uint64 `json:"count"`
	Reason      string `json:"reason"`
	WindowStart string `json:"window_start"`
	WindowEnd   string `json:"window_end"`
}

// RateLimitInfo reports, as Tetragon does, the events the export rate limit
// dropped since its previous report.
type RateLimitInfo struct {
	NumberOfDroppedProcessEvents uint64 `json:"number_of_dropped_process_events,string"`
}

// Reasons for LostEvents.
const (
	// LostRingBuffer: the kernel could not reserve room in the ring buffer.
	LostRingBuffer = "kernel_ring_buffer_full"
	// LostProcessMap: the in-kernel process map was full, so processes
	// were left without an exec identity.
	LostProcessMap = "kernel_process_map_full"
	// LostScopeMap: the in-kernel pod scope map was full, so a pod's
	// cgroups were left out of its policies' scope.
	LostScopeMap = "kernel_scope_map_full"
	// LostReturnMap: the in-kernel map of return hooks' pending calls was
	// full, so those calls' return events were lost.
	LostReturnMap = "kernel_return_map_full"
	// LostReturnPending: too many return hook entries waited for their
	// return in the agent; the oldest were dropped with their events.
	LostReturnPending = "return_pending_full"
	// LostAgentDown: records the kernel's programs made while no agent
	// read them (the agent was down, its programs pinned and enforcing):
	// left unread, or dropped by their full ring buffer.
	LostAgentDown = "agent_down"
	// LostDecode: a record from the kernel could not be decoded.
	LostDecode = "decode_error"
	// LostDataRingBuffer: events that went out with a buffer argument cut
	// short, because the kernel could not reserve room for one of its
	// data records (the events say so: IncompleteRingBuffer).
	LostDataRingBuffer = "kernel_ring_buffer_full_data"
	// LostDataRecords: data records (chunks of a buffer argument) dropped
	// in user space: their event did not claim them in time, or the
	// agent's bound on data awaiting its event was reached.
	LostDataRecords = "data_records_dropped"
	// LostStackTrace: the kernel could not collect a stack trace that a
	// policy asked for (its stack map was full, or there was no stack):
	// the event went out without it, saying why.
	LostStackTrace = "kernel_stack_trace_failed"
	// LostIMAHash: events that asked for their file's IMA hash (imaHash)
	// went out without it: too many waited for one at once.
	LostIMAHash = "kernel_ima_hash_pending_full"
	// LostExportWrite: events the export file (or stdout) could not be
	// written to: a full disk, a file that could not be opened again.
	// Told once writing works again.
	LostExportWrite = "export_write_failed"
	// LostSpoolCorrupt: records of a sink's disk spool found torn or
	// corrupt when read, and skipped (a sink's spool being full, or its
	// disk, is the sink's reason "sink_spool_full").
	LostSpoolCorrupt = "sink_spool_corrupt"
)

// Process describes one process image. Once built it is never modified, so
// events can share it.
type Process struct {
	ExecID       string        `json:"exec_id"`
	Pid          uint32        `json:"pid"`
	UID          uint32        `json:"uid"`
	Cwd          string        `json:"cwd"`
	Binary       string        `json:"binary"`
	Arguments    string        `json:"arguments,omitempty"`
	Flags        string        `json:"flags"`
	StartTime    string        `json:"start_time"`
	Auid         uint32        `json:"auid"`
	ParentExecID string        `json:"parent_exec_id,omitempty"`
	Tid          uint32        `json:"tid"`
	Cap          *Capabilities `json:"cap,omitempty"`
	Ns           *Namespaces   `json:"ns,omitempty"`
	Credentials  *Credentials  `json:"process_credentials,omitempty"`
	Cgroup       *Cgroup       `json:"cgroup,omitempty"`
	// BinaryProperties, on process_exec with process credentials: how
	// the exec raised privileges, and the inode of a binary that is
	// deleted or only in memory.
	BinaryProperties *BinaryProperties `json:"binary_properties,omitempty"`
	// Pod is the Kubernetes pod and container the process runs in.
	Pod *Pod `json:"pod,omitempty"`
	// Docker is the start of the container id.
	Docker string `json:"docker,omitempty"`
	// NsPid is the pid in the process's own pid namespace; it goes out as
	// the container's pid.
	NsPid uint32 `json:"-"`
}

// Pod is a Kubernetes pod and the container of it a process runs in.
type Pod struct {
	Namespace    string            `json:"namespace"`
	Name         string            `json:"name"`
	UID          string            `json:"uid,omitempty"`
	Container    *Container        `json:"container,omitempty"`
	PodLabels    map[string]string `json:"pod_labels,omitempty"`
	Workload     string            `json:"workload,omitempty"`
	WorkloadKind string            `json:"workload_kind,omitempty"`
}

// Container is one container of a pod.
type Container struct {
	ID        string `json:"id"` // "<runtime>://<id>"
	Name      string `json:"name"`
	Image     *Image `json:"image,omitempty"`
	StartTime string `json:"start_time,omitempty"`
	// Pid is the process's pid in the container's pid namespace.
	Pid uint32 `json:"pid,omitempty"`
}

// Image is a container's image.
type Image struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Capabilities lists capability names, such as "CAP_SYS_ADMIN".
type Capabilities struct {
	Permitted   []string `json:"permitted,omitempty"`
	Effective   []string `json:"effective,omitempty"`
	Inheritable []string `json:"inheritable,omitempty"`
}

// Namespace is one namespace of a process.
type Namespace struct {
	Inum   uint32 `json:"inum"`
	IsHost bool   `json:"is_host,omitempty"`
}

// Namespaces of a process.
type Namespaces struct {
	Uts             *Namespace `json:"uts,omitempty"`
	Ipc             *Namespace `json:"ipc,omitempty"`
	Mnt             *Namespace `json:"mnt,omitempty"`
	Pid             *Namespace `json:"pid,omitempty"`
	PidForChildren  *Namespace `json:"pid_for_children,omitempty"`
	Net             *Namespace `json:"net,omitempty"`
	Time            *Namespace `json:"time,omitempty"`
	TimeForChildren *Namespace `json:"time_for_children,omitempty"`
	Cgroup          *Namespace `json:"cgroup,omitempty"`
	User            *Namespace `json:"user,omitempty"`
}

// Credentials of a process.
type Credentials struct {
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	EUID  uint32 `json:"euid"`
	EGID  uint32 `json:"egid"`
	SUID  uint32 `json:"suid"`
	SGID  uint32 `json:"sgid"`
	FSUID uint32 `json:"fsuid"`
	FSGID uint32 `json:"fsgid"`
}

// Cgroup is Vigil's addition: the cgroup the process ran in at exec (its
// cgroup v2 leaf, or its v1 memory cgroup on hosts without v2 placement).
type Cgroup struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
}

// FormatTime renders a time the way events carry it.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// BinaryProperties is Tetragon's binary_properties of a process_exec.
type BinaryProperties struct {
	Setuid            *uint32         `json:"setuid,omitempty"` // the effective uid a set-user-ID bit gave
	Setgid            *uint32         `json:"setgid,omitempty"`
	PrivilegesChanged []string        `json:"privileges_changed,omitempty"`
	File              *FileProperties `json:"file,omitempty"` // a deleted or memory-only binary
}

// FileProperties is a binary's file, as binary_properties shows it.
type FileProperties struct {
	Inode *InodeProperties `json:"inode,omitempty"`
}

// InodeProperties is an inode's number (a string, as protojson writes a
// uint64) and links.
type InodeProperties struct {
	Number uint64  `json:"number,string"`
	Links  *uint32 `json:"links,omitempty"`
}

// Tetragon's ProcessPrivilegesChanged names.
const (
	PrivilegesFileCap = "PRIVILEGES_RAISED_EXEC_FILE_CAP"
	PrivilegesSetuid  = "PRIVILEGES_RAISED_EXEC_FILE_SETUID"
	PrivilegesSetgid  = "PRIVILEGES_RAISED_EXEC_FILE_SETGID"
)
