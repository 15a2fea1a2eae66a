package compile

import (
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracefs"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// tracepoint compiles a tracepoints entry: a copy of the tracepoint program
// on subsystem/event that reads each argument from the record at the place
// the event's format gives. Its args count the format's fields, common
// ones included; its matchArgs count its args.
func (c *compiler) tracepoint(path string, t *policy.TracepointSpec) error {
	if t.Raw {
		return c.rawTracepoint(path, t)
	}
	if err := c.kernel.Missing(probe.Tracepoint); err != nil {
		return kernelLacks(path, "tracepoint hooks: %v", err)
	}
	fields, err := tracefs.Format(t.Subsystem, t.Event)
	if err != nil {
		return unsupported(path+".event", "%v", err)
	}
	if len(t.Args) > tracing.MaxArgs {
		return unsupported(path+".args", "%d args, the generic hook reads at most %d", len(t.Args), tracing.MaxArgs)
	}
	fh := tracing.FuncHook{Attach: tracing.AttachTracepoint, Symbol: t.Subsystem + "/" + t.Event}
	meta := c.meta(t.Event, t.Message, t.Tags)
	meta.Backend, meta.Tracepoint = tracing.AttachTracepoint, t.Subsystem
	slots := tracepointSlots(t.Args)
	for i, a := range t.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, i)
		if int(a.Index) >= len(fields) {
			return unsupported(ap+".index", "%s/%s has %d fields (0 to %d), not %d", t.Subsystem, t.Event, len(fields), len(fields)-1, a.Index)
		}
		arg, err := tpArg(ap, t.Subsystem, fields[a.Index], a.Type)
		if err != nil {
			return err
		}
		fh.Fields.Offset[i], fh.Fields.Kind[i] = uint16(fields[a.Index].Offset), arg.kind
		fh.Config.ArgType[i], fh.Config.ArgIndex[i] = uint8(arg.typ), uint8(i)
		if arg.kernel {
			fh.Config.KernelMem |= 1 << i
		}
		meta.Args = append(meta.Args, HookArg{Type: arg.typ, Label: a.Label, As: shownAs[a.Type]})
	}
	fh.Config.NArgs = uint8(len(t.Args))
	return c.addFunc(path, fh, t.Selectors, slots, meta)
}

// rawTracepoint compiles a raw: true entry: a raw tracepoint program whose
// args index TP_PROTO's arguments (kernel values, read like a kernel
// function's); matchArgs count args.
func (c *compiler) rawTracepoint(path string, t *policy.TracepointSpec) error {
	if err := c.kernel.Missing(probe.RawTracepoint); err != nil {
		return kernelLacks(path, "raw tracepoint hooks: %v", err)
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return kernelLacks(path, "raw tracepoint hooks need the kernel's BTF: %v", err)
	}
	n, err := tracing.RawTracepointArgs(spec, t.Event)
	if err != nil {
		return unsupported(path+".event", "%v", err)
	}
	if len(t.Args) > tracing.MaxArgs {
		return unsupported(path+".args", "%d args, the generic hook reads at most %d", len(t.Args), tracing.MaxArgs)
	}
	fh := tracing.FuncHook{Attach: tracing.AttachRawTracepoint, Symbol: t.Event}
	fh.Config.KernelMem = 1<<tracing.MaxArgs - 1
	meta := c.meta(t.Event, t.Message, t.Tags)
	meta.Backend, meta.Tracepoint = tracing.AttachRawTracepoint, t.Subsystem
	slots := tracepointSlots(t.Args)
	for i, a := range t.Args {
		ap := fmt.Sprintf("%s.args[%d]", path, i)
		if a.Index >= n {
			return unsupported(ap+".index", "raw tracepoint %s has %d arguments (0 to %d), not %d", t.Event, n, n-1, a.Index)
		}
		typ, ok := syscallArgTypes[a.Type]
		if ft, isFunc := funcArgTypes[a.Type]; isFunc {
			typ, ok = ft, true
		}
		if !ok || typ == tracing.ArgSockaddr || typ == tracing.ArgSockaddrUn || typ == tracing.ArgCharBuf || typ == tracing.ArgFd {
			return unsupported(ap+".type", "type %q cannot be read from a raw tracepoint argument", a.Type)
		}
		fh.Config.ArgType[i], fh.Config.ArgIndex[i] = uint8(typ), uint8(a.Index)
		meta.Args = append(meta.Args, HookArg{Type: typ, Label: a.Label, As: shownAs[a.Type]})
	}
	fh.Config.NArgs = uint8(len(t.Args))
	return c.addFunc(path, fh, t.Selectors, slots, meta)
}

// addFunc compiles a FuncHook's selectors and adds it to the program.
func (c *compiler) addFunc(path string, fh tracing.FuncHook, sels []policy.KProbeSelector, slots map[uint32]uint8, meta *Hook) error {
	if err := c.selectors(path, sels, slots, &fh.Config, meta); err != nil {
		return err
	}
	if err := c.overrideAllowed(path, fh.Attach, meta); err != nil {
		return err
	}
	c.out.Program.Funcs = append(c.out.Program.Funcs, fh)
	c.funcMetas = append(c.funcMetas, meta)
	return nil
}

type tpSlot struct {
	kind   uint8 // tracing.TP*
	typ    int   // tracing.Arg*
	kernel bool  // a pointer into kernel memory (the record itself)
}

// tpIntTypes are the integer types an argument of a tracepoint can have.
var tpIntTypes = map[string]int{
	"int": tracing.ArgInt, "int32": tracing.ArgInt, "int8": tracing.ArgInt, "int16": tracing.ArgInt,
	"sint32": tracing.ArgInt, "sint8": tracing.ArgInt, "sint16": tracing.ArgInt, "sint64": tracing.ArgS64,
	"uint8": tracing.ArgUint, "uint16": tracing.ArgUint, "uint32": tracing.ArgUint,
	"int64": tracing.ArgS64, "long": tracing.ArgS64, "syscall64": tracing.ArgS64,
	"uint64": tracing.ArgU64, "size_t": tracing.ArgU64,
}

// tracepointSlots maps a tracepoint filter's index to its slot: the args
// entry whose index it is, else the entry at that position, as Tetragon
// rewrites the indexes of tracepoint filters.
func tracepointSlots(args []policy.KProbeArg) map[uint32]uint8 {
	slots := map[uint32]uint8{}
	for i := range args {
		slots[uint32(i)] = uint8(i)
	}
	for i, a := range args {
		slots[a.Index] = uint8(i)
	}
	return slots
}

// autoType is the type Tetragon gives a tracepoint field of type auto:
// an integer's, by its size and sign, or size_t; it types nothing else.
func autoType(path string, f tracefs.Field) (string, error) {
	if !f.Pointer() && !f.Array && !f.DataLoc {
		switch {
		case f.Type == "size_t":
			return "size_t", nil
		case f.Size == 4 && f.Signed:
			return "int32", nil
		case f.Size == 4:
			return "uint32", nil
		case f.Size == 8 && f.Signed:
			return "int64", nil
		case f.Size == 8:
			return "uint64", nil
		}
	}
	return "", unsupported(path+".type", "type auto gives a type only to 4- and 8-byte integer fields, as Tetragon's does: field %s is %s (%d bytes); name its type", f.Name, f.Type, f.Size)
}

// tpArg says how to read field f as an argument of type typ.
func tpArg(path, subsys string, f tracefs.Field, typ string) (tpSlot, error) {
	if typ == "auto" {
		t, err := autoType(path, f)
		if err != nil {
			return tpSlot{}, err
		}
		typ = t
	}
	if t, ok := tpIntTypes[typ]; ok {
		kind := map[uint32]uint8{1: tracing.TPU8, 2: tracing.TPU16, 4: tracing.TPU32, 8: tracing.TPU64}[f.Size]
		if kind == 0 || f.Array || f.DataLoc {
			return tpSlot{}, unsupported(path+".type", "field %s (%s, %d bytes) is not an integer", f.Name, f.Type, f.Size)
		}
		return tpSlot{kind: kind, typ: t}, nil
	}
	if typ != "string" && typ != "filename" {
		return tpSlot{}, unsupported(path+".type", "type %q is not implemented for tracepoint fields (types that are: integers, syscall64, string, auto)", typ)
	}
	switch {
	case f.DataLoc:
		return tpSlot{kind: tracing.TPDataLoc, typ: tracing.ArgString, kernel: true}, nil
	case f.Array:
		return tpSlot{kind: tracing.TPArray, typ: tracing.ArgString, kernel: true}, nil
	case f.Pointer() && f.Size == 8:
		// the syscalls events' pointers are the caller's
		return tpSlot{kind: tracing.TPU64, typ: tracing.ArgString, kernel: subsys != "syscalls"}, nil
	}
	return tpSlot{}, unsupported(path+".type", "field %s (%s) is not a string", f.Name, f.Type)
}
