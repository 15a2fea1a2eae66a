package tracing

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/syscalls"
)

// Which program runs each syscall hook list. An x86_64 syscall's list is
// run by the syscall's own tracepoints (syscalls/sys_enter_NAME and
// sys_exit_NAME) when Config.SyscallTracepoints says the kernel has them:
// then a syscall no policy hooks pays only the kernel's check of which
// syscalls are traced, not a BPF program. The raw syscall tracepoints
// (tp_btf/sys_enter, sys_exit) run every other list: ia32 syscalls (the
// kernel's per-syscall tracepoints skip them) and the x86_64 ones whose
// tracepoint could not be attached. Their program skips the lists that
// the per_syscall map marks as served by their own tracepoint.

// Bits of a per_syscall value.
const (
	servedEnter = 1
	servedExit  = 2
)

// ownPrograms are the generic object's programs for a syscall's own
// tracepoints, loaded only where the kernel has them (they need
// bpf_task_pt_regs).
type ownPrograms struct {
	Enter *ebpf.Program `ebpf:"generic_syscall_enter"`
	Exit  *ebpf.Program `ebpf:"generic_syscall_exit"`
}

func (o *ownPrograms) Close() error {
	return errors.Join(o.Enter.Close(), o.Exit.Close())
}

// loadOwn loads the per-syscall tracepoint programs, sharing the generic
// maps.
func (h *Hooks) loadOwn(spec *ebpf.CollectionSpec) error {
	if !h.sensor.cfg.SyscallTracepoints {
		return nil
	}
	var own ownPrograms
	if err := spec.LoadAndAssign(&own, &ebpf.CollectionOptions{MapReplacements: h.sharedMaps()}); err != nil {
		return fmt.Errorf("loading the per-syscall tracepoint programs (--syscall-backend raw_syscall_tracepoint does without them): %w", describe(err))
	}
	h.loads.Add(2)
	h.own = &own
	return nil
}

// empty says whether a hook list has no hook.
func (l *syscallHooks) empty() bool { return l == nil || l.HookIDs[0] == 0 }

// serve makes sure a program runs each non-empty list of next before the
// lists are written: the point's own tracepoint where it can, else the
// raw syscall tracepoint.
func (h *Hooks) serve(next map[hookPoint]*syscallHooks) error {
	for p, l := range next {
		if l.empty() || h.ownLinks[p] != nil {
			continue
		}
		if p.nr < syscalls.CompatBase && h.own != nil {
			err := h.attachOwn(p)
			if err == nil {
				continue
			}
			logrus.WithError(err).WithField("syscall", p.nr).Warn("the syscall's own tracepoint is not usable: the raw syscall tracepoint serves its hooks")
		}
		if err := h.attachRaw(p.exit); err != nil {
			return err
		}
	}
	return nil
}

// attachOwn attaches p's own tracepoint and marks its list as served by
// it; its list is still empty, so the program does nothing until then.
func (h *Hooks) attachOwn(p hookPoint) error {
	name, ok := syscalls.Event(p.nr)
	if !ok {
		return fmt.Errorf("no tracepoint name known for syscall %d", p.nr)
	}
	event, prog, bit := "sys_enter_"+name, h.own.Enter, uint32(servedEnter)
	if p.exit {
		event, prog, bit = "sys_exit_"+name, h.own.Exit, servedExit
	}
	l, err := link.Tracepoint("syscalls", event, prog, nil)
	if err != nil {
		return fmt.Errorf("attaching syscalls/%s: %w", event, err)
	}
	if err := h.sensor.pins.link(l, "syscalls/"+event); err != nil {
		_ = l.Close()
		return err
	}
	if err := h.setServed(p.nr, bit, true); err != nil {
		h.sensor.pins.unlink(l)
		_ = l.Close()
		return err
	}
	h.ownLinks[p] = l
	return nil
}

// setServed sets or clears bit of syscall nr in per_syscall.
func (h *Hooks) setServed(nr, bit uint32, on bool) error {
	var v uint32
	if err := h.objs.PerSyscall.Lookup(nr, &v); err != nil {
		return fmt.Errorf("syscall %d: reading per_syscall: %w", nr, err)
	}
	if on {
		v |= bit
	} else {
		v &^= bit
	}
	if err := h.objs.PerSyscall.Put(nr, v); err != nil {
		return fmt.Errorf("syscall %d: writing per_syscall: %w", nr, err)
	}
	return nil
}

// unserve detaches the own tracepoints of the empty lists of lists: once
// no policy hooks a syscall, it costs nothing again.
func (h *Hooks) unserve(lists map[hookPoint]*syscallHooks) {
	for p, l := range lists {
		own := h.ownLinks[p]
		if own == nil || !l.empty() {
			continue
		}
		bit := uint32(servedEnter)
		if p.exit {
			bit = servedExit
		}
		if err := h.setServed(p.nr, bit, false); err != nil {
			logrus.WithError(err).Warn("keeping a syscall's own tracepoint attached")
			continue
		}
		h.sensor.pins.unlink(own)
		_ = own.Close()
		delete(h.ownLinks, p)
	}
}

// attachRaw attaches the raw syscall entry (or exit) program the first time
// a list needs it: until then no syscall pays for it.
func (h *Hooks) attachRaw(exit bool) error {
	i, prog, what := 0, h.objs.GenericSysEnter, "tp_btf/sys_enter"
	if exit {
		i, prog, what = 1, h.objs.GenericSysExit, "tp_btf/sys_exit"
	}
	if h.raw[i] != nil {
		return nil
	}
	l, err := link.AttachTracing(link.TracingOptions{Program: prog})
	if err != nil {
		return fmt.Errorf("attaching %s: %w", what, err)
	}
	h.raw[i] = l
	return h.sensor.pins.link(l, what)
}

// closeDispatch detaches every syscall program.
func (h *Hooks) closeDispatch() error {
	var errs []error
	for p, l := range h.ownLinks {
		errs = append(errs, l.Close())
		delete(h.ownLinks, p)
	}
	for i, l := range h.raw {
		if l != nil {
			errs = append(errs, l.Close())
			h.raw[i] = nil
		}
	}
	if h.own != nil {
		errs = append(errs, h.own.Close())
	}
	return errors.Join(errs...)
}
