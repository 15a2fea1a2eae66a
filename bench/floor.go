package main

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
)

// underEmptyProgram runs work while a program that does nothing is
// attached: on the raw syscall entry (tp_btf/sys_enter, which every
// syscall then runs) or on one syscall's own tracepoint (event, such as
// "sys_enter_ptrace": the floor of a syscall hook on this kernel).
func underEmptyProgram(event string, work func() (float64, error)) (float64, error) {
	_, detach, err := attachEmpty(event)
	if err != nil {
		return 0, err
	}
	defer detach()
	return work()
}

// attachEmpty attaches a program that does nothing where underEmptyProgram
// says, and returns it and what detaches and closes it.
func attachEmpty(event string) (*ebpf.Program, func(), error) {
	spec := &ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}
	if event == "" {
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceRawTp, "sys_enter"
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("loading an empty program: %w", err)
	}
	var l link.Link
	if event == "" {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	} else {
		l, err = link.Tracepoint("syscalls", event, prog, nil)
	}
	if err != nil {
		prog.Close()
		return nil, nil, fmt.Errorf("attaching an empty program: %w", err)
	}
	return prog, func() { l.Close(); prog.Close() }, nil
}
