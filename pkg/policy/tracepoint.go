package policy

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracefs"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// tracepoint compiles a tracepoints entry: a copy of the tracepoint program
// on subsystem/event that reads each argument from the record at the place
// the event's format gives. Its args count the format's fields, common
// ones included; its matchArgs count its args.
func (c *compiler) tracepoint(path string, t *TracepointSpec) error {
	if t.Raw {
		return unsupported(path+".raw", "raw tracepoints (arguments from TP_PROTO) are not implemented yet")
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
	slots := map[uint32]uint8{}
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
		slots[uint32(i)] = uint8(i)
		meta.Args = append(meta.Args, HookArg{Type: arg.typ, Label: a.Label, As: shownAs[a.Type]})
	}
	fh.Config.NArgs = uint8(len(t.Args))
	if err := c.selectors(path, t.Selectors, slots, &fh.Config, meta); err != nil {
		return err
	}
	if err := c.overrideAllowed(path, fh.Attach, meta); err != nil {
		return err
	}
	c.out.Program.Funcs = append(c.out.Program.Funcs, fh)
	c.out.Hooks = append(c.out.Hooks, meta)
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
	"uint8": tracing.ArgUint, "uint16": tracing.ArgUint, "uint32": tracing.ArgUint,
	"int64": tracing.ArgS64, "long": tracing.ArgS64, "syscall64": tracing.ArgS64,
	"uint64": tracing.ArgU64, "size_t": tracing.ArgU64,
}

// tpArg says how to read field f as an argument of type typ.
func tpArg(path, subsys string, f tracefs.Field, typ string) (tpSlot, error) {
	if t, ok := tpIntTypes[typ]; ok {
		kind := map[uint32]uint8{1: tracing.TPU8, 2: tracing.TPU16, 4: tracing.TPU32, 8: tracing.TPU64}[f.Size]
		if kind == 0 || f.Array || f.DataLoc {
			return tpSlot{}, unsupported(path+".type", "field %s (%s, %d bytes) is not an integer", f.Name, f.Type, f.Size)
		}
		return tpSlot{kind: kind, typ: t}, nil
	}
	if typ != "string" && typ != "filename" {
		return tpSlot{}, unsupported(path+".type", "type %q is not implemented for tracepoint fields (types that are: integers, syscall64, string)", typ)
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
