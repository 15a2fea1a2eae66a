package compile

import (
	"fmt"

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
var fileOpenHooks = map[string]bool{"file_open": true, "security_file_open": true}

// hasFunctionHooks says whether the kernel runs kprobes or fentry.
func (c *compiler) hasFunctionHooks() bool {
	return c.kernel.Has(probe.Kprobe) || c.kernel.Has(probe.Fentry)
}

// openFallback compiles a hook on the file being opened as hooks at the
// exit of every open syscall, whose slot reads the returned descriptor's
// file, its path resolved through mounts up to the process's root.
func (c *compiler) openFallback(path, function string, k *policy.KProbeSpec, lsm bool) error {
	if err := c.kernel.Missing(probe.TPBTF); err != nil {
		return kernelLacks(path, "%s needs kprobes, fentry or BPF LSM, or for its fallback the raw syscall tracepoint: %v", function, err)
	}
	if k.Return {
		return unsupported(path+".return", "without kprobes, fentry or BPF LSM, %s is served at the exit of the open syscalls, which do not know its return value", function)
	}
	fk := *k
	fk.Args = make([]policy.KProbeArg, len(k.Args))
	for i, a := range k.Args {
		if a.Index != 0 || a.Type != "file" || a.Resolve != "" {
			return unsupported(fmt.Sprintf("%s.args[%d]", path, i), "without kprobes, fentry or BPF LSM, %s is served at the exit of the open syscalls, which know the opened file only (index 0, type file, no resolve)", function)
		}
		a.Type = "fd"
		fk.Args[i] = a
	}
	if c.wantsOverride(k) {
		return kernelLacks(path+".selectors", "Override on %s needs BPF LSM (or kprobes with bpf_override_return): its fallback at the exit of the open syscalls can kill, not deny: %v", function, c.kernel.Missing(probe.LSM))
	}
	cfg, meta, err := c.hook(path, function, &fk, false)
	if err != nil {
		return err
	}
	for i := range fk.Args {
		cfg.ArgIndex[i] = tracing.RawRet
		meta.Args[i].Type = tracing.ArgFile
	}
	meta.Backend, meta.LSM = BackendOpenExit, lsm
	for _, name := range openSyscalls {
		nr, err := syscalls.Number(name)
		if err != nil {
			continue // not on this architecture
		}
		c.out.Program.Hooks = append(c.out.Program.Hooks, tracing.SyscallHook{Syscall: nr, Config: *cfg, Exit: true})
		c.out.Hooks = append(c.out.Hooks, meta)
	}
	c.out.Caveats = append(c.out.Caveats, fmt.Sprintf("%s: %s is served at the exit of the open syscalls (the kernel has no kprobes, fentry or BPF LSM): "+
		"the file is open when the process is killed (O_CREAT has created it, O_TRUNC truncated it), and the files an exec opens are not seen", path, function))
	return nil
}
