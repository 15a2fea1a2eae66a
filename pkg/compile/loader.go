package compile

import (
	"github.com/vigil-sec/vigil/pkg/policy"
)

// loaderHook is the hook behind spec.loader: the mmap calls that map a
// file executable (prot has PROT_EXEC), with the file named from its
// descriptor. The agent turns its records into process_loader events.
// Tetragon reads the kernel's perf mmap records instead, which kprobes
// alone can reach; the syscall serves on every kernel.
var loaderHook = policy.KProbeSpec{
	Call: "sys_mmap",
	Args: []policy.KProbeArg{{Index: 2, Type: "int"}, {Index: 4, Type: "fd"}},
	Selectors: []policy.KProbeSelector{{
		MatchArgs: []policy.ArgSelector{{Index: 2, Operator: "Mask", Values: []string{"4"}}},
	}},
}

// LoaderPathArg is the position, in a loader hook's arguments, of the
// mapped file.
const LoaderPathArg = 1

// loader compiles spec.loader into the loader hook, its metadata marked
// so that the agent reports process_loader events.
func (c *compiler) loader() error {
	hooks, funcs := len(c.out.Hooks), len(c.funcMetas)
	k := loaderHook
	if err := c.kprobe("spec.loader", &k); err != nil {
		return err
	}
	for _, h := range append(c.out.Hooks[hooks:], c.funcMetas[funcs:]...) {
		h.Loader = true
	}
	return nil
}
