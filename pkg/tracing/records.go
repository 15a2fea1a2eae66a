package tracing

import (
	"bytes"
	"fmt"
	"unsafe"
)

// Go mirrors of the records in bpf/include/msg.h. records_test.go checks
// each of them against the BTF of the compiled object.

// Record operations, as in enum msg_op.
const (
	OpExec     = 1
	OpClone    = 2
	OpExit     = 3
	OpSnapshot = 4
	OpGeneric  = 5
	OpData     = 6
)

// Process flags, as in enum proc_flag.
const (
	FlagExecve = 1 << iota
	FlagClone
	FlagProcFS
	FlagTruncArgs
	FlagTruncBinary
	FlagTruncCwd
	FlagNoCwd
	FlagErrorArgs
)

// Namespace slots in Process.Ns, as in enum ns_index.
const (
	NsUts = iota
	NsIpc
	NsMnt
	NsPid
	NsPidForChildren
	NsNet
	NsTime
	NsTimeForChildren
	NsCgroup
	NsUser
	NsMax
)

// Counter slots, as in enum counter.
const (
	counterRingbufFull = iota
	counterProcmapFull
	counterScopeFull
	counterReturnFull
	counterDataFull
	counterStackFailed
	counterIMAFull
	counterMax
)

// ExecIdent names one process image: its tgid and the monotonic time of its
// exec, fork or (for processes found at start) start.
type ExecIdent struct {
	Pid   uint32
	Pad   uint32
	Ktime uint64
}

// Header starts every record.
type Header struct {
	Op    uint8
	Pad   [3]uint8
	Size  uint32
	Ktime uint64
}

// Process is the fixed part of an exec or snapshot record.
type Process struct {
	Ident          ExecIdent
	Parent         ExecIdent
	Tid            uint32
	Flags          uint32
	Uid            uint32
	Gid            uint32
	Euid           uint32
	Egid           uint32
	Suid           uint32
	Sgid           uint32
	Fsuid          uint32
	Fsgid          uint32
	Auid           uint32
	Nspid          uint32 // the pid in the process's own pid namespace
	CgroupID       uint64
	CapPermitted   uint64
	CapEffective   uint64
	CapInheritable uint64
	Ns             [NsMax]uint32
	BinaryLen      uint16
	ArgsLen        uint16
	CwdLen         uint16
	CgroupLen      uint16
	Ino            uint64 // the binary's inode
	Nlink          uint32 // its links: 0 for a deleted or memory-only file
	ExecPriv       uint32 // Exec*: how the exec raised privileges
}

// How an exec raised privileges (Process.ExecPriv), as in enum exec_priv.
const (
	ExecSetuid = 1 << iota
	ExecSetgid
	ExecSetuidRoot
	ExecSetgidRoot
	ExecFileCaps
)

// msgExecHead is struct msg_exec without its variable data.
type msgExecHead struct {
	Hdr  Header
	Proc Process
}

// Clone reports a new process created by fork or clone.
type Clone struct {
	Hdr    Header
	Ident  ExecIdent
	Parent ExecIdent
	Tid    uint32
	Pad    uint32
}

// Exit reports the end of a whole process (its last thread).
type Exit struct {
	Hdr   Header
	Ident ExecIdent
	Tid   uint32
	Code  uint32
}

// Status is the exit status of an Exit, as wait(2) would report it.
func (e *Exit) Status() uint32 { return (e.Code >> 8) & 0xff }

// Signal is the signal that killed the process, or 0.
func (e *Exit) Signal() uint32 { return e.Code & 0x7f }

// Exec reports a new program image (op OpExec), or a process found running
// at start (op OpSnapshot, with no Args: the kernel cannot read another
// process's memory there).
type Exec struct {
	Hdr     Header
	Process Process
	Binary  string
	Args    []string // argv, argv[0] included
	Cwd     string
	Cgroup  string
}

// Decode turns one raw record into *Exec, *Clone, *Exit, *Generic or *Data.
// raw is not kept.
func Decode(raw []byte) (any, error) {
	if len(raw) < int(unsafe.Sizeof(Header{})) {
		return nil, fmt.Errorf("record of %d bytes is shorter than its header", len(raw))
	}
	hdr := (*Header)(unsafe.Pointer(&raw[0]))
	switch hdr.Op {
	case OpExec, OpSnapshot:
		return decodeExec(raw)
	case OpClone:
		return decodeFixed[Clone](raw)
	case OpExit:
		return decodeFixed[Exit](raw)
	case OpGeneric:
		return decodeGeneric(raw)
	case OpData:
		return decodeData(raw)
	}
	return nil, fmt.Errorf("record with unknown op %d", hdr.Op)
}

func decodeFixed[T any](raw []byte) (*T, error) {
	v, err := fixed[T](raw)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// fixed reads the T that raw starts with.
func fixed[T any](raw []byte) (T, error) {
	var v T
	if len(raw) < int(unsafe.Sizeof(v)) {
		return v, fmt.Errorf("%T record of %d bytes, want %d", v, len(raw), unsafe.Sizeof(v))
	}
	return *(*T)(unsafe.Pointer(&raw[0])), nil
}

func decodeExec(raw []byte) (*Exec, error) {
	head, err := decodeFixed[msgExecHead](raw)
	if err != nil {
		return nil, err
	}
	p := &head.Proc
	data := raw[unsafe.Sizeof(*head):]
	lens := []int{int(p.BinaryLen), int(p.ArgsLen), int(p.CwdLen), int(p.CgroupLen)}
	strs := make([][]byte, len(lens))
	for i, n := range lens {
		if n > len(data) {
			return nil, fmt.Errorf("exec record: string %d of %d bytes overruns the record", i, n)
		}
		strs[i], data = data[:n], data[n:]
	}
	return &Exec{
		Hdr:     head.Hdr,
		Process: *p,
		Binary:  string(strs[0]),
		Args:    splitArgs(strs[1]),
		Cwd:     string(strs[2]),
		Cgroup:  string(strs[3]),
	}, nil
}

// splitArgs splits the kernel's NUL-separated argv area.
func splitArgs(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	args := make([]string, len(parts))
	for i, p := range parts {
		args[i] = string(p)
	}
	return args
}

// msgGenericHead is struct msg_generic without its variable data.
type msgGenericHead struct {
	Hdr      Header
	Ident    ExecIdent
	Parent   ExecIdent
	HookID   uint32
	PolicyID uint32
	Tid      uint32
	Syscall  uint32
	Selector uint8
	Sig      uint8
	Monitor  uint8
	HasRet   uint8
	Part     uint8 // Part*: a whole event, or a return hook's entry or return
	Stacks   uint8 // Stack*: the stack ids collected
	// ImaAlgo is ImaHash's algorithm, as the kernel's enum hash_algo,
	// or bpf_ima_file_hash's negative error; 0: no hash (imaHash).
	ImaAlgo int8
	Pad2    uint8
	// KernelStack and UserStack are ids in the stack map (Hooks.Stacks),
	// or the negative errno of the kernel's bpf_get_stackid.
	KernelStack int32
	UserStack   int32
	Ret         int64
	ArgVal      [MaxArgs]int64 // integers; a char_buf's size
	ArgLen      [MaxArgs]uint16
	DataErr     [MaxArgs]uint8 // DataErr*: a char_buf's bytes are short
	Pad3        uint8
	DataLen     [MaxArgs]uint32 // bytes of a maxData char_buf in Data records
	// OwnerTid: a tracked socket's owner thread (TrackSock), whose
	// process Ident and Parent then are; 0 for none.
	OwnerTid uint32
	Verdict  int32 // an LSM hook's, while its event waits for ImaHash
	ImaHash  [64]byte
	Pad4     uint32
}

// Generic.Part values, as in enum msg_part: a return hook's event comes as
// its entry's record (the arguments), then its return's (the return value
// and the buffers read at return), or PartDropped where the return's
// filters failed.
const (
	PartWhole = iota
	PartEntry
	PartReturn
	PartDropped
)

// Generic reports a hit of a policy hook: the selector that matched, what
// was done, and the arguments (Args[i] holds the bytes of a string, path,
// sockaddr or buffer argument; ArgVal[i] the integer ones, and a
// char_buf's size). A maxData char_buf's bytes after its first ArgLen[i]
// come in DataLen[i] bytes of Data records, which an Assembler appends to
// Args[i].
type Generic struct {
	msgGenericHead
	Args [MaxArgs][]byte
}

// decodeGeneric copies the arguments out of raw in one allocation: raw is
// the ring buffer's memory.
func decodeGeneric(raw []byte) (*Generic, error) {
	head, err := fixed[msgGenericHead](raw)
	if err != nil {
		return nil, err
	}
	g := &Generic{msgGenericHead: head}
	data := raw[unsafe.Sizeof(head):]
	total := 0
	for i, n := range head.ArgLen {
		if total += int(n); total > len(data) {
			return nil, fmt.Errorf("hook record: argument %d of %d bytes overruns the record", i, n)
		}
	}
	data = bytes.Clone(data[:total])
	for i, n := range head.ArgLen {
		g.Args[i], data = data[:n:n], data[n:]
	}
	return g, nil
}

// msgDataHead is struct msg_data without its data.
type msgDataHead struct {
	Hdr    Header
	Tid    uint32
	HookID uint32
	Offset uint32
	Total  uint32 // bytes of the argument to come in Data records
	Len    uint16
	Slot   uint8
	Pad    [5]uint8
}

// Data is a chunk of a maxData char_buf argument of the Generic record of
// the same Hdr.Ktime, Tid and HookID, which follows it in the ring buffer:
// Bytes are the argument's from Offset on. The kernel sends the bytes
// after the Generic record's ArgMask in chunks of DataChunkLen (the last
// one shorter), Total of them if none is lost.
type Data struct {
	msgDataHead
	Bytes []byte
}

func decodeData(raw []byte) (*Data, error) {
	head, data, err := dataHead(raw)
	if err != nil {
		return nil, err
	}
	return &Data{msgDataHead: head, Bytes: bytes.Clone(data)}, nil
}

// dataHead checks a Data record and returns its head and its bytes, which
// are raw's.
func dataHead(raw []byte) (msgDataHead, []byte, error) {
	head, err := decodeFixed[msgDataHead](raw)
	if err != nil {
		return msgDataHead{}, nil, err
	}
	data := raw[unsafe.Sizeof(*head):]
	switch {
	case head.Hdr.Op != OpData:
		return msgDataHead{}, nil, fmt.Errorf("record of op %d is not a data record", head.Hdr.Op)
	case int(head.Len) > len(data) || head.Len > DataChunkLen:
		return msgDataHead{}, nil, fmt.Errorf("data record of %d bytes overruns the record", head.Len)
	case head.Slot >= MaxArgs:
		return msgDataHead{}, nil, fmt.Errorf("data record of argument slot %d", head.Slot)
	case head.Total > DataMax-ArgMask || uint64(head.Offset)+uint64(head.Len) > uint64(ArgMask)+uint64(head.Total):
		return msgDataHead{}, nil, fmt.Errorf("data record at %d+%d of %d is beyond the %d bytes of an argument",
			head.Offset, head.Len, head.Total, DataMax)
	}
	return *head, data[:head.Len], nil
}
