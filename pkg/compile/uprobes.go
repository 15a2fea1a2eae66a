package compile

import (
	"debug/elf"
	"fmt"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
	"github.com/vigil-sec/vigil/pkg/usdt"
)

// uprobe compiles a uprobes entry: one hook per symbol of the binary,
// where the binary matches its binaryDigests. Pointer arguments point to
// the process's own memory.
func (c *compiler) uprobe(path string, u *policy.UProbeSpec) error {
	if err := c.kernel.Missing(probe.Uprobe); err != nil {
		return kernelLacks(path, "uprobe hooks: %v", err)
	}
	file, skip, err := verifyDigests(path, u)
	if err != nil {
		return err
	}
	if skip != "" {
		c.out.Skipped = append(c.out.Skipped, skip+" (ignore.digestVerificationFailure)")
		return nil
	}
	places, err := uprobePlaces(path, u)
	if err != nil {
		return err
	}
	for _, pl := range places {
		pl.File = file
		k := &policy.KProbeSpec{Call: pl.Symbol, Args: u.Args, Selectors: u.Selectors, Tags: u.Tags, Message: u.Message,
			Return: u.Return, ReturnArg: u.ReturnArg}
		hook, meta, err := c.hook(path, pl.Symbol, k, false)
		if err != nil {
			return err
		}
		fh := pl
		fh.Config = *hook
		if hook.AtExit != 0 { // return, or a returnCopy buffer
			fh.Attach = tracing.AttachUretprobe
		}
		meta.Backend, meta.Uprobe = fh.Attach, u.Path
		meta.UprobeOffset, meta.UprobeRefCtr = pl.Offset, pl.RefCtrOffset
		if err := argsFilled(path, fh, k); err != nil {
			return err
		}
		c.out.Program.Funcs = append(c.out.Program.Funcs, fh)
		c.funcMetas = append(c.funcMetas, meta)
		if err := c.overrideAllowed(path, tracing.AttachUprobe, meta); err != nil {
			return err
		}
	}
	return nil
}

// uprobePlaces are the places a uprobes entry hooks, as Tetragon reads
// them: its symbols, file offsets, or virtual addresses (converted to file
// offsets through the binary's program headers), each with its reference
// counter's file offset when refCtrOffsets gives them.
func uprobePlaces(path string, u *policy.UProbeSpec) ([]tracing.FuncHook, error) {
	var out []tracing.FuncHook
	place := func(i int, fh tracing.FuncHook) {
		fh.Attach, fh.Path = tracing.AttachUprobe, u.Path
		if i < len(u.RefCtrOffsets) {
			fh.RefCtrOffset = u.RefCtrOffsets[i]
		}
		out = append(out, fh)
	}
	for i, sym := range u.Symbols {
		place(i, tracing.FuncHook{Symbol: sym})
	}
	for i, off := range u.Offsets {
		place(i, tracing.FuncHook{Offset: off})
	}
	if len(u.Addrs) == 0 {
		return out, nil
	}
	offs, err := fileOffsets(u.Path, u.Addrs)
	if err != nil {
		return nil, fmt.Errorf("%s.addrs: %w", path, err)
	}
	for i, off := range offs {
		place(i, tracing.FuncHook{Offset: off})
	}
	return out, nil
}

// fileOffsets converts virtual addresses of an ELF binary to offsets in
// its file.
func fileOffsets(binary string, addrs []uint64) ([]uint64, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]uint64, len(addrs))
	for i, a := range addrs {
		if out[i], err = usdt.FileOffset(f, a); err != nil {
			return nil, fmt.Errorf("%s: %w", binary, err)
		}
	}
	return out, nil
}

// usdt compiles a usdts entry: a uprobe at each place of the probe (one
// inlined twice has two), with its semaphore as the reference counter,
// whose program reads the arguments where the SDT note says they are.
func (c *compiler) usdt(path string, u *policy.UsdtSpec) error {
	if err := c.kernel.Missing(probe.Uprobe); err != nil {
		return kernelLacks(path, "USDT hooks: %v", err)
	}
	places, err := usdt.Find(u.Path, u.Provider, u.Name)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, pl := range places {
		k := &policy.KProbeSpec{Call: u.Name, Args: u.Args, Selectors: u.Selectors, Tags: u.Tags, Message: u.Message}
		if err := usdtArgsRead(path, u, len(pl.Args)); err != nil {
			return err
		}
		hook, meta, err := c.hook(path, u.Name, k, false)
		if err != nil {
			return err
		}
		copy(hook.USDT[:], pl.Args)
		attach, err := c.usdtAttach(path, u, pl.Args)
		if err != nil {
			return err
		}
		meta.Backend, meta.USDT = tracing.AttachUSDT, &USDTHook{Path: u.Path, Provider: u.Provider, Name: u.Name}
		c.out.Program.Funcs = append(c.out.Program.Funcs, tracing.FuncHook{Attach: attach, Path: u.Path,
			Offset: pl.Offset, RefCtrOffset: pl.Semaphore, Config: *hook})
		c.funcMetas = append(c.funcMetas, meta)
		if err := c.overrideAllowed(path, tracing.AttachUSDT, meta); err != nil {
			return err
		}
	}
	return nil
}

// usdtAttach is the program of a USDT hook: generic_usdt, or where a
// selector may Set an argument, generic_usdt_set, which writes the
// argument's memory as Tetragon does; an argument in a register or a
// constant cannot be written (Tetragon fails there at run time), and
// lockdown forbids the write.
func (c *compiler) usdtAttach(path string, u *policy.UsdtSpec, args []tracing.USDTArg) (string, error) {
	attach := tracing.AttachUSDT
	for i, sel := range u.Selectors {
		for j, act := range sel.MatchActions {
			if act.Action != "Set" {
				continue
			}
			at := fmt.Sprintf("%s.selectors[%d].matchActions[%d]", path, i, j)
			if err := c.kernel.Missing(probe.ProbeWriteUser); err != nil {
				return "", kernelLacks(at+".action", "Set writes the process's memory: %v", err)
			}
			if int(act.ArgIndex) >= len(args) || args[act.ArgIndex].Kind != tracing.USDTDeref {
				return "", unsupported(at+".argIndex", "Set writes an argument in memory; argument %d of %s:%s is not (a register, a constant or an indexed address)", act.ArgIndex, u.Provider, u.Name)
			}
			attach = tracing.AttachUSDTSet
		}
	}
	return attach, nil
}

// usdtArgsRead refuses an argument the probe does not have, or one past
// those the USDT program reads.
func usdtArgsRead(path string, u *policy.UsdtSpec, has int) error {
	for i, a := range u.Args {
		switch {
		case int(a.Index) >= has:
			return unsupported(fmt.Sprintf("%s.args[%d].index", path, i), "USDT %s:%s has %d arguments (indexes 0-%d)", u.Provider, u.Name, has, has-1)
		case a.Index >= tracing.MaxUSDTArgs:
			return unsupported(fmt.Sprintf("%s.args[%d].index", path, i), "Vigil reads the first %d arguments of a USDT", tracing.MaxUSDTArgs)
		}
	}
	return nil
}
