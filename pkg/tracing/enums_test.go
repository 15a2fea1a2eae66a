package tracing

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// enumMirrors are the Go constants that mirror each C enum, by the C
// enumerator's name.
type enumMirrors map[string]map[string]int64

// genericEnums mirror the enums of bpf/include/generic.h (and cap_set of
// msg.h, which selectors use).
var genericEnums = enumMirrors{
	"arg_type": {
		"ARG_NONE": ArgNone, "ARG_INT": ArgInt, "ARG_UINT": ArgUint, "ARG_S64": ArgS64, "ARG_U64": ArgU64,
		"ARG_STRING": ArgString, "ARG_FD": ArgFd, "ARG_SOCKADDR": ArgSockaddr, "ARG_CHAR_BUF": ArgCharBuf,
		"ARG_FILE": ArgFile, "ARG_PATH": ArgPath, "ARG_BPRM": ArgBprm, "ARG_SOCK": ArgSock, "ARG_CRED": ArgCred,
		"ARG_SKB": ArgSkb, "ARG_USER_NS": ArgUserNs, "ARG_BPF_ATTR": ArgBpfAttr, "ARG_BPF_PROG": ArgBpfProg,
		"ARG_BPF_MAP": ArgBpfMap, "ARG_PERF_EVENT": ArgPerfEvent, "ARG_CHAR_IOVEC": ArgCharIovec,
		"ARG_MODULE": ArgModule, "ARG_LOAD_INFO": ArgLoadInfo,
		"ARG_S8": ArgS8, "ARG_U8": ArgU8, "ARG_S16": ArgS16, "ARG_U16": ArgU16,
		"ARG_SOCKADDR_UN": ArgSockaddrUn,
	},
	"arg_obj": {
		"OBJ_SELF": ObjSelf, "OBJ_SOCKET": ObjSocket, "OBJ_KIOCB": ObjKiocb, "OBJ_NET_DEVICE": ObjNetDevice,
		"OBJ_DENTRY": ObjDentry, "OBJ_CAPS": ObjCaps, "OBJ_IOV_ITER": ObjIovIter,
	},
	"tp_kind": {
		"TP_NONE": TPNone, "TP_U8": TPU8, "TP_U16": TPU16, "TP_U32": TPU32, "TP_U64": TPU64,
		"TP_ARRAY": TPArray, "TP_DATA_LOC": TPDataLoc,
	},
	"subject": {
		"SUBJ_PID": SubjPid, "SUBJ_BINARY": SubjBinary, "SUBJ_RET": SubjRet, "SUBJ_PARENT_BINARY": SubjParentBinary,
		"SUBJ_NS": SubjNs, "SUBJ_CAPS": SubjCaps, "SUBJ_NS_CHANGED": SubjNsChanged,
		"SUBJ_CAPS_CHANGED": SubjCapsChanged, "SUBJ_WORKLOAD": SubjWorkload,
	},
	"bin_flag":   {"BIN_FOLLOW_CHILDREN": BinFollowChildren},
	"pid_flag":   {"PID_FOLLOW_FORKS": PidFollowForks, "PID_NAMESPACE": PidNamespace},
	"rate_scope": {"SCOPE_THREAD": ScopeThread, "SCOPE_PROCESS": ScopeProcess, "SCOPE_GLOBAL": ScopeGlobal},
	"cond_op": {
		"COND_EQ": CondEq, "COND_PREFIX": CondPrefix, "COND_POSTFIX": CondPostfix, "COND_GT": CondGT,
		"COND_LT": CondLT, "COND_MASK": CondMask, "COND_INRANGE": CondInRange, "COND_SPORT": CondSPort,
		"COND_SADDR": CondSAddr, "COND_FAMILY": CondFamily, "COND_DPORT": CondDPort, "COND_DADDR": CondDAddr,
		"COND_PROTOCOL": CondProtocol, "COND_STATE": CondState, "COND_SPORT_PRIV": CondSPortPriv,
		"COND_DPORT_PRIV": CondDPortPriv,
		"COND_FILETYPE":   CondFileType, "COND_CAPS_GAINED": CondCapsGained, "COND_SUBSTR": CondSubstr,
	},
	"at_exit":     {"AT_EXIT_LONG": AtExitLong, "AT_EXIT_INT": AtExitInt},
	"msg_part":    {"PART_WHOLE": PartWhole, "PART_ENTRY": PartEntry, "PART_RETURN": PartReturn, "PART_DROPPED": PartDropped},
	"policy_mode": {"MODE_ENFORCE": ModeEnforce, "MODE_MONITOR": ModeMonitor},
	"cap_set": {
		"CAP_SET_EFFECTIVE": CapSetEffective, "CAP_SET_INHERITABLE": CapSetInheritable,
		"CAP_SET_PERMITTED": CapSetPermitted,
	},
	"data_err":   {"DATA_OK": DataOK, "DATA_RINGBUF_FULL": DataRingbufFull, "DATA_FAULT": DataFault},
	"data_limit": {"DATA_MAX": DataMax, "DATA_CHUNK_LEN": DataChunkLen},
	"stack_flag": {"STACK_KERNEL": StackKernel, "STACK_USER": StackUser},
	"usdt_kind":  {"USDT_NONE": USDTNone, "USDT_CONST": USDTConst, "USDT_REG": USDTReg, "USDT_DEREF": USDTDeref, "USDT_SIB": USDTSIB},
	"sock_act":   {"SOCK_TRACK": SockTrack, "SOCK_UNTRACK": SockUntrack},
}

// msgEnums mirror the enums of bpf/include/msg.h.
var msgEnums = enumMirrors{
	"msg_op": {
		"MSG_OP_EXEC": OpExec, "MSG_OP_CLONE": OpClone, "MSG_OP_EXIT": OpExit, "MSG_OP_SNAPSHOT": OpSnapshot,
		"MSG_OP_GENERIC": OpGeneric, "MSG_OP_DATA": OpData,
	},
	"proc_flag": {
		"PROC_EXECVE": FlagExecve, "PROC_CLONE": FlagClone, "PROC_PROCFS": FlagProcFS,
		"PROC_TRUNC_ARGS": FlagTruncArgs, "PROC_TRUNC_BINARY": FlagTruncBinary, "PROC_TRUNC_CWD": FlagTruncCwd,
		"PROC_NO_CWD": FlagNoCwd, "PROC_ERROR_ARGS": FlagErrorArgs,
	},
	"exec_priv": {
		"EXEC_SETUID": ExecSetuid, "EXEC_SETGID": ExecSetgid, "EXEC_SETUID_ROOT": ExecSetuidRoot,
		"EXEC_SETGID_ROOT": ExecSetgidRoot, "EXEC_FILE_CAPS": ExecFileCaps,
	},
	"counter": {
		"COUNTER_RINGBUF_FULL": counterRingbufFull, "COUNTER_PROCMAP_FULL": counterProcmapFull,
		"COUNTER_SCOPE_FULL": counterScopeFull, "COUNTER_RETURN_FULL": counterReturnFull,
		"COUNTER_DATA_FULL": counterDataFull, "COUNTER_STACK_FAILED": counterStackFailed,
		"COUNTER_IMA_FULL": counterIMAFull,
		"COUNTER_MAX":      counterMax,
	},
	"ns_index": {
		"NS_UTS": NsUts, "NS_IPC": NsIpc, "NS_MNT": NsMnt, "NS_PID": NsPid, "NS_PID_FOR_CHILDREN": NsPidForChildren,
		"NS_NET": NsNet, "NS_TIME": NsTime, "NS_TIME_FOR_CHILDREN": NsTimeForChildren, "NS_CGROUP": NsCgroup,
		"NS_USER": NsUser, "NS_MAX": NsMax,
	},
	"cap_set": genericEnums["cap_set"],
}

// TestEnumsMatchBTF checks the Go constants that mirror C enums against
// the enums in the compiled objects' BTF: every enumerator of each enum
// has a Go constant of the same value, and every Go constant an
// enumerator.
func TestEnumsMatchBTF(t *testing.T) {
	generic, err := loadGeneric()
	if err != nil {
		t.Fatal(err)
	}
	process, err := loadProcess()
	if err != nil {
		t.Fatal(err)
	}
	compareEnums(t, "generic", generic, genericEnums)
	compareEnums(t, "process", process, msgEnums)
}

// compareEnums compares each enum of mirrors with the one of its name in
// spec's BTF.
func compareEnums(t *testing.T, object string, spec *ebpf.CollectionSpec, mirrors enumMirrors) {
	t.Helper()
	for name, consts := range mirrors {
		var e *btf.Enum
		if err := spec.Types.TypeByName(name, &e); err != nil {
			t.Errorf("%s object: enum %s: %v", object, name, err)
			continue
		}
		seen := map[string]bool{}
		for _, v := range e.Values {
			seen[v.Name] = true
			goVal, ok := consts[v.Name]
			switch {
			case !ok:
				t.Errorf("enum %s: %s (%d) has no Go constant", name, v.Name, v.Value)
			case uint64(goVal) != v.Value:
				t.Errorf("enum %s: %s is %d in C, %d in Go", name, v.Name, v.Value, goVal)
			}
		}
		for c := range consts {
			if !seen[c] {
				t.Errorf("enum %s: the Go constant for %s has no enumerator in C", name, c)
			}
		}
	}
}

// TestLimitsMatchMaps checks the Go limits that size maps rather than
// structs (those the struct layouts check) against the generic object's
// maps.
func TestLimitsMatchMaps(t *testing.T) {
	spec, err := loadGeneric()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{
		"hook_configs": MaxHooks, "hook_stats": MaxHooks, "policy_modes": MaxPolicies,
		"syscall_hooks": 2 * MaxSyscalls, "syscall_exit_hooks": 2 * MaxSyscalls,
	} {
		m, ok := spec.Maps[name]
		switch {
		case !ok:
			t.Errorf("no map %s in the generic object", name)
		case m.MaxEntries != want:
			t.Errorf("map %s: %d entries in C, %d in Go", name, m.MaxEntries, want)
		}
	}
	if v := spec.Maps["substrs"].ValueSize; v != SubstrLen {
		t.Errorf("map substrs: %d bytes a value in C, %d in Go", v, SubstrLen)
	}
	if v := spec.Maps[genericMapStackTraces].ValueSize; v != MaxStackDepth*8 {
		t.Errorf("map stack_traces: %d bytes a stack in C, %d frames in Go", v, MaxStackDepth)
	}
}
