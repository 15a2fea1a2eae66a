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
	_, detach, err := attachProgram(event, nil)
	if err != nil {
		return 0, err
	}
	defer detach()
	return work()
}

// attachProgram attaches a program that runs body, then returns, where
// underEmptyProgram says (an empty program when body is nil), and returns
// it and what detaches and closes it.
func attachProgram(event string, body asm.Instructions) (*ebpf.Program, func(), error) {
	spec := &ebpf.ProgramSpec{Type: ebpf.TracePoint, License: "GPL",
		Instructions: append(body[:len(body):len(body)], asm.Mov.Imm(asm.R0, 0), asm.Return())}
	if event == "" {
		spec.Type, spec.AttachType, spec.AttachTo = ebpf.Tracing, ebpf.AttachTraceRawTp, "sys_enter"
	}
	prog, err := ebpf.NewProgram(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("loading a floor program: %w", err)
	}
	var l link.Link
	if event == "" {
		l, err = link.AttachTracing(link.TracingOptions{Program: prog})
	} else {
		l, err = link.Tracepoint("syscalls", event, prog, nil)
	}
	if err != nil {
		prog.Close()
		return nil, nil, fmt.Errorf("attaching a floor program: %w", err)
	}
	return prog, func() { l.Close(); prog.Close() }, nil
}

// userRead reads the first 8 bytes of openat's path from user memory, up
// to its NUL, as any string prefilter of an openat hook must: on openat's
// own tracepoint, the floor of a Prefix miss. The path is the record's
// second argument (after the common fields and the syscall's number).
var userRead = asm.Instructions{
	asm.LoadMem(asm.R3, asm.R1, 24, asm.DWord),
	asm.Mov.Imm(asm.R2, 0),
	asm.StoreMem(asm.R10, -8, asm.R2, asm.DWord),
	asm.Mov.Reg(asm.R1, asm.R10),
	asm.Add.Imm(asm.R1, -8),
	asm.Mov.Imm(asm.R2, 8),
	asm.FnProbeReadUserStr.Call(),
}
