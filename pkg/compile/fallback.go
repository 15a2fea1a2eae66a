package compile

import (
	"fmt"
	"slices"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/syscalls"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Hooks on a resolved kernel object need kprobes, fentry or BPF LSM. Where
// the kernel has none of them, Vigil serves them from the syscall side,
// resolving the same object in the kernel: the file an open returns is
// read at the exit of every open syscall, from its descriptor.

// BackendOpenExit names, in events, the fallback that serves a hook on
// the file being opened at the exit of the open syscalls.
const BackendOpenExit = "open_syscalls_exit"

// openSyscalls are the syscalls that open a file and return a descriptor.
var openSyscalls = []string{"open", "openat", "openat2", "creat", "open_by_handle_at"}

// fileOpenHooks are the hooks whose object is the file being opened, by
// the name policies give them (lsmhooks, kprobes).
var fileOpenHooks = map[string]bool{"file_open": true, "security_file_open": true, "fd_install": true}

// fileIndex is the argument that is the opened file: fd_install's second
// (its first is the descriptor), the others' first.
func fileIndex(function string) uint32 {
	if function == "fd_install" {
		return 1
	}
	return 0
}

// filePermissionHooks are the hooks on a file about to be read or written
// (its mask says which), by the name policies give them.
var filePermissionHooks = map[string]bool{"file_permission": true, "security_file_permission": true}

// BackendAccessEntry names, in events, the fallback that serves a hook on
// a file about to be read or written at the entry of the syscalls that
// read and write descriptors.
const BackendAccessEntry = "rw_syscalls_entry"

// The kernel's MAY_ masks that file_permission gets.
const (
	mayWrite = 2
	mayRead  = 4
)

// fileAccess is a descriptor a syscall reads or writes: the syscall, its
// argument that holds the descriptor, and the access.
type fileAccess struct {
	syscall string
	fdArg   uint8
	mask    uint8
}

// fileAccesses are the syscalls that read or write a descriptor's file.
var fileAccesses = []fileAccess{
	{"read", 0, mayRead}, {"pread64", 0, mayRead}, {"readv", 0, mayRead}, {"preadv", 0, mayRead}, {"preadv2", 0, mayRead},
	{"write", 0, mayWrite}, {"pwrite64", 0, mayWrite}, {"writev", 0, mayWrite}, {"pwritev", 0, mayWrite}, {"pwritev2", 0, mayWrite},
	{"sendfile", 1, mayRead}, {"sendfile", 0, mayWrite}, {"splice", 0, mayRead}, {"splice", 2, mayWrite},
	{"copy_file_range", 0, mayRead}, {"copy_file_range", 2, mayWrite}, {"mmap", 4, mayRead},
}

// hasFunctionHooks says whether the kernel runs kprobes or fentry.
func (c *compiler) hasFunctionHooks() bool {
	return c.kernel.Has(probe.Kprobe) || c.kernel.Has(probe.Fentry)
}

// openFallback compiles a hook on the file being opened as hooks at the
// exit of every open syscall, whose slot reads the returned descriptor's
// file, its path resolved through mounts up to the process's root.
func (c *compiler) openFallback(path, function string, k *policy.KProbeSpec, lsm bool) error {
	if err := c.fallbackChecks(path, function, k, "at the exit of the open syscalls"); err != nil {
		return err
	}
	fk := *k
	fk.Args = make([]policy.KProbeArg, len(k.Args))
	file := fileIndex(function)
	for i, a := range k.Args {
		isFile := a.Index == file && a.Type == "file"
		isFd := function == "fd_install" && a.Index == 0 && (a.Type == "int" || a.Type == "uint32")
		if !isFile && !isFd || a.Resolve != "" {
			return unsupported(fmt.Sprintf("%s.args[%d]", path, i), "without kprobes, fentry or BPF LSM, %s is served at the exit of the open syscalls, which know the opened file (index %d, type file) and its descriptor", function, file)
		}
		if isFile {
			a.Type = "fd"
		}
		fk.Args[i] = a
	}
	cfg, meta, err := c.hook(path, function, &fk, false)
	if err != nil {
		return err
	}
	for i, a := range fk.Args {
		cfg.ArgIndex[i] = tracing.RawRet
		if a.Type == "fd" {
			meta.Args[i].Type = tracing.ArgFile
		}
	}
	meta.Backend, meta.LSM = BackendOpenExit, lsm
	cfg.OpenExit = tracing.OpenExitFile
	if function != "fd_install" { // fd_install sees O_PATH descriptors
		cfg.OpenExit |= tracing.OpenExitSkipOpath
	}
	for _, name := range openSyscalls {
		nr, err := syscalls.Number(name)
		if err != nil {
			continue // not on this architecture
		}
		c.syscallHook(name, tracing.SyscallHook{Syscall: nr, Config: *cfg, Exit: true}, meta)
	}
	execs := "the binary an exec opens is seen at the sched_process_exec tracepoint, after the exec succeeded (the process dies before it runs), " +
		"the interpreters it opens (a script's, the ELF loader) are not"
	if function == "fd_install" {
		execs = "the files an exec opens are not seen (they get no descriptor)"
	} else if served, why := c.execOpens(path, function, k, lsm); !served {
		execs = "the files an exec opens are not seen (" + why + ")"
	}
	c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: %s is served at the exit of the open syscalls (the kernel has no kprobes, fentry or BPF LSM): "+
		"the file is open when the process is killed (O_CREAT has created it, O_TRUNC truncated it); %s; "+
		"descriptors installed by other calls (sockets, pipes, accept) are not seen", path, function, execs))
	return nil
}

// execOpens serves file_open's fallback for the binary an exec opens, at
// the sched_process_exec tracepoint, where the binary is the argument;
// it says why not when it cannot: matchBinaries would see the new binary
// there, not the one that execs.
func (c *compiler) execOpens(path, function string, k *policy.KProbeSpec, lsm bool) (bool, string) {
	if err := c.kernel.Missing(probe.RawTracepoint); err != nil {
		return false, err.Error()
	}
	for _, sel := range k.Selectors {
		if len(sel.MatchBinaries) > 0 {
			return false, "matchBinaries would see the new binary at sched_process_exec"
		}
	}
	ek := *k
	ek.Args = slices.Clone(k.Args)
	for i := range ek.Args {
		ek.Args[i].Type = "linux_binprm"
	}
	fh := tracing.FuncHook{Attach: tracing.AttachRawTracepoint, Symbol: "sched_process_exec"}
	if err := c.funcHook(path, fh, function, &ek); err != nil {
		return false, err.Error()
	}
	in := &c.out.Program.Funcs[len(c.out.Program.Funcs)-1]
	for i := range ek.Args {
		in.Config.ArgIndex[i] = 2 // TP_PROTO(p, old_pid, bprm)
	}
	meta := c.funcMetas[len(c.funcMetas)-1]
	meta.Backend, meta.LSM = BackendExecTracepoint, lsm
	for i := range meta.Args {
		meta.Args[i].Type = tracing.ArgFile
	}
	return true, ""
}

// permissionFallback compiles a hook on a file about to be read or written
// as hooks at the entry of every syscall that reads or writes a
// descriptor: the file slot reads that descriptor's file, and a mask slot
// (index 1, int) the access, as the kernel's MAY_READ or MAY_WRITE.
func (c *compiler) permissionFallback(path, function string, k *policy.KProbeSpec, lsm bool) error {
	if err := c.fallbackChecks(path, function, k, "at the entry of the read and write syscalls"); err != nil {
		return err
	}
	fk := *k
	fk.Args = make([]policy.KProbeArg, len(k.Args))
	fileSlot, maskSlot := -1, -1
	for i, a := range k.Args {
		switch {
		case a.Index == 0 && a.Type == "file" && a.Resolve == "":
			a.Type, fileSlot = "fd", i
		case a.Index == 1 && a.Type == "int" && a.Resolve == "":
			maskSlot = i
		default:
			return unsupported(fmt.Sprintf("%s.args[%d]", path, i), "without kprobes, fentry or BPF LSM, %s is served at the entry of the read and write syscalls, which know the file (index 0, type file) and the access (index 1, type int)", function)
		}
		fk.Args[i] = a
	}
	cfg, meta, err := c.hook(path, function, &fk, false)
	if err != nil {
		return err
	}
	meta.Backend, meta.LSM = BackendAccessEntry, lsm
	if fileSlot >= 0 {
		meta.Args[fileSlot].Type = tracing.ArgFile
	}
	for _, fa := range fileAccesses {
		nr, err := syscalls.Number(fa.syscall)
		if err != nil {
			continue // not on this architecture
		}
		hc := *cfg
		hc.ArgConst = fa.mask
		if fileSlot >= 0 {
			hc.ArgIndex[fileSlot] = fa.fdArg
		}
		if maskSlot >= 0 {
			hc.ArgIndex[maskSlot] = tracing.RawConst
		}
		c.syscallHook(fa.syscall, tracing.SyscallHook{Syscall: nr, Config: hc}, meta)
	}
	c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: %s is served at the entry of the syscalls that read and write descriptors (the kernel has no kprobes, fentry or BPF LSM): "+
		"a file mapped with mmap is seen once, at the mmap, not at each access, and io_uring's reads and writes are not seen", path, function))
	return nil
}

// fallbackChecks refuses what no syscall-side fallback can serve: a
// kernel without the raw syscall tracepoint, return probes and Override.
func (c *compiler) fallbackChecks(path, function string, k *policy.KProbeSpec, where string) error {
	if err := c.kernel.Missing(probe.TPBTF); err != nil {
		return kernelLacks(path, "%s needs kprobes, fentry or BPF LSM, or for its fallback the raw syscall tracepoint: %v", function, err)
	}
	if k.Return {
		return unsupported(path+".return", "without kprobes, fentry or BPF LSM, %s is served %s, which do not know its return value", function, where)
	}
	if c.wantsOverride(k) {
		return kernelLacks(path+".selectors", "Override on %s needs BPF LSM (or kprobes with bpf_override_return): its fallback %s can kill, not deny: %v", function, where, c.kernel.Missing(probe.LSM))
	}
	return nil
}

// socketConnectHooks are the hooks on a socket being connected, by the
// name policies give them.
var socketConnectHooks = map[string]bool{"socket_connect": true, "security_socket_connect": true}

// BackendConnectEntry names, in events, the fallback that serves a hook
// on a socket being connected at the entry of connect.
const BackendConnectEntry = "connect_syscall_entry"

// connectFallback compiles a hook on a socket being connected as a hook
// at the entry of connect, whose arguments 1 and 2 are the hook's
// (address, length); the socket itself (index 0) is not read there.
func (c *compiler) connectFallback(path, function string, k *policy.KProbeSpec, lsm bool) error {
	if err := c.fallbackChecks(path, function, k, "at the entry of connect"); err != nil {
		return err
	}
	for i, a := range k.Args {
		if !(a.Index == 1 && a.Type == "sockaddr" || a.Index == 2 && a.Type == "int") || a.Resolve != "" {
			return unsupported(fmt.Sprintf("%s.args[%d]", path, i), "without kprobes, fentry or BPF LSM, %s is served at the entry of connect, which has the address (index 1, type sockaddr) and its length (index 2, type int), not the socket", function)
		}
	}
	nr, err := syscalls.Number("connect")
	if err != nil {
		return unsupported(path, "%v", err)
	}
	cfg, meta, err := c.hook(path, function, k, false)
	if err != nil {
		return err
	}
	meta.Backend, meta.LSM = BackendConnectEntry, lsm
	c.syscallHook("connect", tracing.SyscallHook{Syscall: nr, Config: *cfg}, meta)
	c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: %s is served at the entry of connect (the kernel has no kprobes, fentry or BPF LSM): "+
		"the address is read from the caller's memory as connect got it, and io_uring's connects are not seen", path, function))
	return nil
}

// execHooks are the hooks on a binary about to run, by the name policies
// give them.
var execHooks = map[string]bool{"bprm_check_security": true, "security_bprm_check": true}

// BackendExecTracepoint names, in events, the fallback that serves a hook
// on a binary about to run at the sched_process_exec tracepoint.
const BackendExecTracepoint = "sched_process_exec"

// execFallback compiles a hook on a binary about to run as a raw
// tracepoint program on sched_process_exec, whose third argument is the
// same struct linux_binprm.
func (c *compiler) execFallback(path, function string, k *policy.KProbeSpec, lsm bool) error {
	if err := c.fallbackChecks(path, function, k, "at the sched_process_exec tracepoint"); err != nil {
		return err
	}
	if err := c.kernel.Missing(probe.RawTracepoint); err != nil {
		return kernelLacks(path, "%s needs kprobes, fentry or BPF LSM, or for its fallback raw tracepoints: %v", function, err)
	}
	for i, a := range k.Args {
		if a.Index != 0 || a.Type != "linux_binprm" || a.Resolve != "" {
			return unsupported(fmt.Sprintf("%s.args[%d]", path, i), "without kprobes, fentry or BPF LSM, %s is served at the sched_process_exec tracepoint, which has the binary (index 0, type linux_binprm) only", function)
		}
	}
	for i, sel := range k.Selectors {
		if len(sel.MatchBinaries) > 0 {
			return unsupported(fmt.Sprintf("%s.selectors[%d].matchBinaries", path, i), "without kprobes, fentry or BPF LSM, %s is served at the sched_process_exec tracepoint, where the process already runs the new binary: matchBinaries would not see the one that execs (use matchParentBinaries, or the binary as the argument)", function)
		}
	}
	fh := tracing.FuncHook{Attach: tracing.AttachRawTracepoint, Symbol: "sched_process_exec"}
	if err := c.funcHook(path, fh, function, k); err != nil {
		return err
	}
	in := &c.out.Program.Funcs[len(c.out.Program.Funcs)-1]
	for i := range k.Args {
		in.Config.ArgIndex[i] = 2 // TP_PROTO(p, old_pid, bprm)
	}
	meta := c.funcMetas[len(c.funcMetas)-1]
	meta.Backend, meta.LSM = BackendExecTracepoint, lsm
	c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: %s is served at the sched_process_exec tracepoint (the kernel has no kprobes, fentry or BPF LSM): "+
		"the exec has succeeded when the process is killed, before it runs an instruction of the new binary, and a script's interpreter is checked, not the script", path, function))
	return nil
}

// fallbackFor returns the syscall-side fallback of a hook on a resolved
// object, nil when there is none.
func fallbackFor(function string) func(c *compiler, path, function string, k *policy.KProbeSpec, lsm bool) error {
	switch {
	case fileOpenHooks[function]:
		return (*compiler).openFallback
	case filePermissionHooks[function]:
		return (*compiler).permissionFallback
	case socketConnectHooks[function]:
		return (*compiler).connectFallback
	case execHooks[function]:
		return (*compiler).execFallback
	}
	return nil
}
