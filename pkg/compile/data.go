package compile

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// dataTypes are the types a data entry may read from the current task:
// integers, strings and kernel objects (all in kernel memory). A buffer
// needs a size argument, a descriptor or sockaddr a process's view.
func dataType(typ string) (int, bool) {
	switch typ {
	case "char_buf", "char_iovec", "iov_iter", "fd", "sockaddr", "nop":
		return 0, false
	}
	if t, ok := funcArgTypes[typ]; ok {
		return t, true
	}
	t, ok := syscallArgTypes[typ]
	return t, ok
}

// data fills the slots after the arguments' with k's data entries, as
// Tetragon does: each the value its resolve path names from the current
// task (source current_task), shown after the arguments in events.
// c.data0 is the first one's slot, for matchData.
func (c *compiler) data(path string, k *policy.KProbeSpec, cfg *tracing.HookConfig, meta *Hook) error {
	c.data0, c.nData = cfg.NArgs, len(k.Data)
	if int(cfg.NArgs)+len(k.Data) > tracing.MaxArgs {
		return unsupported(path+".data", "the generic hook reads %d values: %d arguments and %d data entries", tracing.MaxArgs, cfg.NArgs, len(k.Data))
	}
	for i, d := range k.Data {
		dp := fmt.Sprintf("%s.data[%d]", path, i)
		slot := int(cfg.NArgs) + i
		if d.Source != "current_task" {
			return unsupported(dp+".source", "source %q: Vigil reads data from current_task (pt_regs is not implemented yet)", d.Source)
		}
		t, ok := dataType(d.Type)
		if !ok {
			return unsupported(dp+".type", "type %q cannot be read from the current task (types that can: the integers, string and the kernel objects)", d.Type)
		}
		steps, err := taskPath(d.Resolve, d.Type)
		if err != nil {
			return kernelLacks(dp+".resolve", "%s: %v", d.Resolve, err)
		}
		cfg.ArgType[slot], cfg.FromTask = uint8(t), cfg.FromTask|1<<slot
		cfg.KernelMem |= 1 << slot
		cfg.NResolve[slot] = uint8(len(steps))
		copy(cfg.Resolve[slot][:], steps)
		as := shownAs[d.Type]
		if obj, ok := funcArgObjs[d.Type]; ok {
			cfg.ArgObj[slot], as = obj, d.Type
		}
		meta.Args = append(meta.Args, HookArg{Type: t, Label: d.Label, As: as})
	}
	cfg.NArgs += uint8(len(k.Data))
	return nil
}

// matchData compiles a matchData filter: a matchArgs filter on the data
// entry at position index (or args[0]), as Tetragon counts them.
func (c *compiler) matchData(path string, sel uint8, m *policy.ArgSelector, slots map[uint32]uint8, cfg *tracing.HookConfig) error {
	d := *m
	if len(d.Args) == 0 {
		d.Args = []uint32{m.Index}
	}
	d.Args = append([]uint32(nil), d.Args...)
	for i, a := range d.Args {
		if int(a) >= c.nData {
			return unsupported(path+".index", "no data entry at position %d (the hook has %d)", a, c.nData)
		}
		d.Args[i] = a + uint32(c.data0)
	}
	return c.matchArg(path, sel, &d, slots, cfg)
}
