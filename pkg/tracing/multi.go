package tracing

import (
	"fmt"
	"strconv"

	"github.com/cilium/ebpf/link"
)

// AttachKprobeMulti: kprobes of many functions on one kprobe_multi link,
// one program for them all (Config.KprobeMulti).
const AttachKprobeMulti = "kprobe.multi"

// multiGroups splits off the kprobes one kprobe_multi link can serve:
// entry hooks on a function, neither the entry of a return hook nor an
// Override. They are grouped so that a link names each function once,
// and syscall wrappers (whose arguments the program reads from the
// wrapper's pt_regs) apart. Groups of one are left to kprobe links.
func multiGroups(funcs []FuncHook) (groups [][]FuncHook, rest []FuncHook) {
	type key struct {
		syscall bool
		nth     int // the symbol's nth hook in funcs
	}
	seen := map[string]int{}
	at := map[key]int{}
	for _, fh := range funcs {
		if fh.Attach != AttachKprobe || fh.Path != "" {
			rest = append(rest, fh)
			continue
		}
		k := key{fh.Syscall, seen[fh.Symbol]}
		seen[fh.Symbol]++
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], fh)
	}
	kept := groups[:0]
	for _, g := range groups {
		if len(g) == 1 {
			rest = append(rest, g[0])
			continue
		}
		kept = append(kept, g)
	}
	return kept, rest
}

// attachMulti loads one kprobe_multi program for the group and attaches it
// to every function of it, each with its hook id as cookie.
func (h *Hooks) attachMulti(in *Installed, group []FuncHook) error {
	fh := group[0]
	fh.Attach = AttachKprobeMulti
	prog, err := h.loadFunc(fh, false)
	if err != nil {
		return fmt.Errorf("%s for %d functions: %w", AttachKprobeMulti, len(group), err)
	}
	in.progs = append(in.progs, prog)
	opts := link.KprobeMultiOptions{}
	for _, g := range group {
		opts.Symbols = append(opts.Symbols, g.Symbol)
		opts.Cookies = append(opts.Cookies, uint64(g.Config.HookID))
	}
	l, err := link.KprobeMulti(prog, opts)
	if err != nil {
		return fmt.Errorf("attaching %s to %s and %d more: %w", AttachKprobeMulti, fh.Symbol, len(group)-1, err)
	}
	in.links = append(in.links, l)
	return h.sensor.pins.link(l, AttachKprobeMulti+"/"+fh.Symbol+"+"+strconv.Itoa(len(group)-1))
}
