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
	spec := &ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()}}
	if event == "" {
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceRawTp, "sys_enter"
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return 0, fmt.Errorf("loading an empty program: %w", err)
	}
	defer prog.Close()
	var l link.Link
	if event == "" {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	} else {
		l, err = link.Tracepoint("syscalls", event, prog, nil)
	}
	if err != nil {
		return 0, fmt.Errorf("attaching an empty program: %w", err)
	}
	defer l.Close()
	return work()
}
