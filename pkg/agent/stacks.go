package agent

import (
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/symbolize"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// stackTraces adds to hook events the stack traces their action asked
// for: the addresses from the kernel's stack map, named. Only the
// goroutine that reads the ring buffer uses it.
type stackTraces struct {
	hooks  *tracing.Hooks
	stacks *tracing.Stacks // once the generic program is loaded
	kernel *symbolize.Kernel
	user   *symbolize.User
	expose bool // addresses in events (Config.ExposeStackAddresses)
}

func newStackTraces(hooks *tracing.Hooks, expose bool) *stackTraces {
	return &stackTraces{hooks: hooks, kernel: symbolize.NewKernel(), user: symbolize.NewUser(), expose: expose}
}

// traces are g's stack traces, or why they are missing, and how many of
// them are missing or unnamed. Reading them frees them in the kernel at
// the next release: every record that carries stacks goes through it,
// posted or not.
func (st *stackTraces) traces(g *tracing.Generic) (ev event.StackTraces, failed int) {
	if g.Stacks == 0 {
		return ev, 0
	}
	if st.stacks == nil {
		st.stacks = st.hooks.Stacks()
	}
	if g.Stacks&tracing.StackKernel != 0 {
		frames, err := st.frames(g.KernelStack, func(addrs []uint64) ([]symbolize.Frame, error) {
			return st.kernel.Frames(addrs, st.hooks.Loads())
		})
		ev.KernelStackTrace, ev.KernelStackTraceError = st.entries(frames), errString(err)
		failed += b2i(err != nil)
	}
	if g.Stacks&tracing.StackUser != 0 {
		proc := symbolize.Proc{Pid: g.Ident.Pid, Exec: g.Ident.Ktime}
		frames, err := st.frames(g.UserStack, func(addrs []uint64) ([]symbolize.Frame, error) {
			return st.user.Frames(proc, addrs)
		})
		ev.UserStackTrace, ev.UserStackTraceError = st.entries(frames), errString(err)
		failed += b2i(err != nil)
	}
	return ev, failed
}

// frames reads stack id and names its addresses with name.
func (st *stackTraces) frames(id int32, name func([]uint64) ([]symbolize.Frame, error)) ([]symbolize.Frame, error) {
	if st.stacks == nil {
		return nil, tracing.ErrNoStack
	}
	addrs, err := st.stacks.Frames(id)
	if err != nil {
		return nil, err
	}
	return name(addrs)
}

// entries are frames as events show them.
func (st *stackTraces) entries(frames []symbolize.Frame) []*event.StackTraceEntry {
	out := make([]*event.StackTraceEntry, 0, len(frames))
	for _, f := range frames {
		e := &event.StackTraceEntry{Offset: f.Offset, Symbol: f.Symbol, Module: f.Module}
		if st.expose {
			e.Address = f.Address
		}
		out = append(out, e)
	}
	return out
}

// release frees in the kernel the stacks read so far: the reader has read
// every record written before now.
func (st *stackTraces) release() {
	if st.stacks != nil {
		st.stacks.Release()
	}
}

// exited forgets the memory map of a process that exited.
func (st *stackTraces) exited(e *tracing.Exit) {
	st.user.Forget(symbolize.Proc{Pid: e.Ident.Pid, Exec: e.Ident.Ktime})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
