package probe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"
)

// Hooks the test programs attach to. security_file_open and the file_open
// LSM hook run on every open(2), so opening /dev/null triggers them.
const (
	kernelFunc = "security_file_open"
	lsmHook    = "file_open"
	// overrideMagic is what getppid(2) returns while the override test
	// program is attached: no real pid is this large.
	overrideMagic = 0x7ffffff0
)

type check struct {
	feature Feature
	run     func(p *prober) error
}

var checks = []check{
	{BTF, (*prober).btf},
	{RingBuf, (*prober).ringBuf},
	{Tracepoint, (*prober).tracepoint},
	{RawTracepoint, (*prober).rawTracepoint},
	{TPBTF, (*prober).tpBTF},
	{SyscallTracepoint, (*prober).syscallTracepoint},
	{IA32, (*prober).ia32},
	{TaskIter, (*prober).taskIter},
	{Kprobe, (*prober).kprobe},
	{Kretprobe, (*prober).kretprobe},
	{KprobeMulti, (*prober).kprobeMulti},
	{Fentry, func(p *prober) error { return p.trampoline(ebpf.AttachTraceFEntry) }},
	{Fexit, func(p *prober) error { return p.trampoline(ebpf.AttachTraceFExit) }},
	{FmodRet, func(p *prober) error { return p.trampoline(ebpf.AttachModifyReturn) }},
	{FmodRetSyscall, (*prober).fmodRetSyscall},
	{LSM, (*prober).lsm},
	{SendSignal, (*prober).sendSignal},
	{OverrideReturn, (*prober).overrideReturn},
	{Uprobe, (*prober).uprobe},
	{UprobeMulti, (*prober).uprobeMulti},
	{CgroupSockAddr, (*prober).cgroupSockAddr},
	{StrNStr, (*prober).strNStr},
	{IMAFileHash, (*prober).imaFileHash},
	{ProbeWriteUser, (*prober).probeWriteUser},
}

type prober struct {
	lsms     []string // active LSMs, nil when unknown
	lockdown string   // the lockdown mode, "" when unknown
	note     string   // the check's caveat, for Result.Note
}

// counted is a loaded test program that adds one to a counter map each time
// it runs (in this process only, when filtered by tgid).
type counted struct {
	prog  *ebpf.Program
	count *ebpf.Map
}

func (c *counted) Close() {
	if c.prog != nil {
		c.prog.Close()
	}
	c.count.Close()
}

// runs tells whether the program has run since it was loaded.
func (c *counted) runs() (bool, error) {
	var n uint64
	if err := c.count.Lookup(uint32(0), &n); err != nil {
		return false, fmt.Errorf("read counter: %w", err)
	}
	return n > 0, nil
}

// ran returns an error unless the program ran after trigger.
func (c *counted) ran(trigger func()) error {
	trigger()
	ok, err := c.runs()
	if err == nil && !ok {
		err = errors.New("attached, but the program never ran")
	}
	return err
}

// program describes a test program: its spec, whether it counts only this
// process, instructions that run before the count (they may jump to "out"
// to skip it, and find the context in R6) and its return value.
type program struct {
	spec      ebpf.ProgramSpec
	thisTgid  bool
	beforeCnt asm.Instructions
	ret       int32
}

func (pr program) load() (*counted, error) {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Name: "vigil_probe", Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		return nil, fmt.Errorf("create map: %w", err)
	}
	insns := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	if pr.thisTgid {
		insns = append(insns, thisTgid()...)
	}
	insns = append(insns, pr.beforeCnt...)
	insns = append(insns,
		asm.StoreImm(asm.RFP, -4, 0, asm.Word),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, -4),
		asm.LoadMapPtr(asm.R1, m.FD()),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R0, pr.ret).WithSymbol("out"),
		asm.Return(),
	)
	spec := pr.spec
	spec.Name = "vigil_probe"
	spec.License = "GPL"
	spec.Instructions = insns
	prog, err := ebpf.NewProgram(&spec)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load: %w", err)
	}
	return &counted{prog: prog, count: m}, nil
}

// thisTgid jumps to "out" unless the current task belongs to this process.
func thisTgid() asm.Instructions {
	return asm.Instructions{
		asm.FnGetCurrentPidTgid.Call(),
		asm.RSh.Imm(asm.R0, 32),
		asm.JNE.Imm(asm.R0, int32(os.Getpid()), "out"),
	}
}

// attachRun loads pr, attaches it with attach, checks that it runs after
// trigger, and detaches it.
func attachRun(pr program, attach func(*ebpf.Program) (link.Link, error), trigger func()) error {
	c, err := pr.load()
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := attach(c.prog)
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer l.Close()
	return c.ran(trigger)
}

// openFile makes a system call and runs security_file_open and the file_open LSM hook.
func openFile() {
	if f, err := os.Open("/dev/null"); err == nil {
		f.Close()
	}
}

func (p *prober) btf() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	if _, err := spec.AnyTypeByName("task_struct"); err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	b, err := btf.NewBuilder([]btf.Type{&btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}, nil)
	if err != nil {
		return err
	}
	h, err := btf.NewHandle(b)
	if err != nil {
		return fmt.Errorf("load BTF: %w", err)
	}
	return h.Close()
}

func (p *prober) ringBuf() error {
	rb, err := ebpf.NewMap(&ebpf.MapSpec{Name: "vigil_probe_rb", Type: ebpf.RingBuf, MaxEntries: uint32(os.Getpagesize())})
	if err != nil {
		return fmt.Errorf("create ring buffer: %w", err)
	}
	defer rb.Close()
	const magic = 0x6c696769 // "vigl"
	pr := program{
		spec:     ebpf.ProgramSpec{Type: ebpf.RawTracepoint},
		thisTgid: true,
		beforeCnt: asm.Instructions{
			asm.Mov.Imm(asm.R1, magic),
			asm.StoreMem(asm.RFP, -8, asm.R1, asm.DWord),
			asm.LoadMapPtr(asm.R1, rb.FD()),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -8),
			asm.Mov.Imm(asm.R3, 8),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnRingbufOutput.Call(),
		},
	}
	c, err := pr.load()
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: c.prog})
	if err != nil {
		return fmt.Errorf("attach raw_tp/sys_enter: %w", err)
	}
	defer l.Close()
	rd, err := ringbuf.NewReader(rb)
	if err != nil {
		return fmt.Errorf("ring buffer reader: %w", err)
	}
	defer rd.Close()
	rd.SetDeadline(time.Now().Add(2 * time.Second))
	rec, err := rd.Read() // its own system calls write the records
	if err != nil {
		return fmt.Errorf("read ring buffer: %w", err)
	}
	if len(rec.RawSample) != 8 || binary.NativeEndian.Uint64(rec.RawSample) != magic {
		return fmt.Errorf("ring buffer returned %x, want the record written", rec.RawSample)
	}
	return nil
}

// tracepoint attaches through perf_event_open itself rather than with
// link.Tracepoint: the event id comes from tracefs, which it mounts
// privately where it is not mounted (the library would fail there, and
// remember the failure for the whole process).
func (p *prober) tracepoint() error {
	c, err := program{spec: ebpf.ProgramSpec{Type: ebpf.TracePoint}, thisTgid: true}.load()
	if err != nil {
		return err
	}
	defer c.Close()
	fd, err := p.perfTracepoint("raw_syscalls/sys_enter", c.prog)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return c.ran(openFile)
}

// perfTracepoint attaches prog to tracepoint event ("group/name") through
// perf_event_open and returns the event's descriptor.
func (p *prober) perfTracepoint(event string, prog *ebpf.Program) (int, error) {
	file := "events/" + event + "/id"
	files, mounted, err := readPseudoFS("tracefs", traceFS, unix.TRACEFS_MAGIC, file)
	if err != nil {
		return -1, err
	}
	if !mounted {
		p.note = "tracefs is not mounted at " + traceFS + ": attaching tracepoints needs it"
	}
	id, err := strconv.ParseUint(strings.TrimSpace(files[file]), 10, 64)
	if err != nil {
		return -1, fmt.Errorf("tracepoint %s id: %w", event, err)
	}
	attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_TRACEPOINT, Config: id, Sample_type: unix.PERF_SAMPLE_RAW, Sample: 1, Wakeup: 1}
	attr.Size = uint32(unsafe.Sizeof(attr))
	// A BPF program on a tracepoint runs on every CPU, whatever the event's CPU.
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("perf_event_open %s: %w", event, err)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("attach (PERF_EVENT_IOC_SET_BPF): %w", err)
	}
	if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("enable perf event: %w", err)
	}
	return fd, nil
}

// syscallTracepoint runs a program on getppid's own tracepoint
// (syscalls/sys_enter_getppid) that reads the task's saved registers, as
// the generic object's per-syscall programs do (bpf_task_pt_regs, 5.15),
// and that sees a kernel stack there: before 6.12 or so the kernel gives
// these programs the user's registers, from which no kernel stack trace
// can be taken (kernelStackTrace would always come back empty).
func (p *prober) syscallTracepoint() error {
	pr := program{
		spec:     ebpf.ProgramSpec{Type: ebpf.TracePoint},
		thisTgid: true,
		beforeCnt: asm.Instructions{
			asm.FnGetCurrentTaskBtf.Call(),
			asm.Mov.Reg(asm.R1, asm.R0),
			asm.FnTaskPtRegs.Call(),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -64),
			asm.Mov.Imm(asm.R3, 64),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnGetStack.Call(),
			asm.JSLE.Imm(asm.R0, 0, "out"),
		},
	}
	c, err := pr.load()
	if err != nil {
		return err
	}
	defer c.Close()
	fd, err := p.perfTracepoint("syscalls/sys_enter_getppid", c.prog)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	err = c.ran(func() { unix.Getppid() })
	if err != nil && strings.Contains(err.Error(), "never ran") {
		err = errors.New("attached, but its program sees no kernel stack there (the kernel passes it the user's registers)")
	}
	return err
}

// ia32 says whether the kernel runs ia32 code (32-bit processes and int
// 0x80): its BTF has the ia32 syscall entry points and the command line
// does not turn the emulation off. A kernel built with the emulation off
// by default (IA32_EMULATION_DEFAULT_DISABLED) and no ia32_emulation= on
// its command line counts as running it: hooking it costs, missing it
// would be a hole.
func (p *prober) ia32() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName("__ia32_sys_read", &fn); err != nil {
		return errors.New("the kernel has no ia32 syscall entry points (IA32_EMULATION is off)")
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return nil
	}
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "ia32_emulation="); ok && isOff(v) {
			return fmt.Errorf("%s on the kernel command line", f)
		}
	}
	return nil
}

// strNStr checks for the bpf_strnstr kfunc, which every program type may
// call where the kernel has it (its string kfuncs are common ones).
func (p *prober) strNStr() error {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return fmt.Errorf("kernel BTF: %w", err)
	}
	var fn *btf.Func
	if err := spec.TypeByName("bpf_strnstr", &fn); err != nil {
		return errors.New("the kernel has no bpf_strnstr kfunc (Linux 6.17 added it)")
	}
	return nil
}

// isOff says whether a kernel boolean parameter's value (kstrtobool) is off.
func isOff(v string) bool {
	switch strings.ToLower(v) {
	case "0", "n", "no", "off", "false":
		return true
	}
	return false
}

func (p *prober) rawTracepoint() error {
	return attachRun(program{spec: ebpf.ProgramSpec{Type: ebpf.RawTracepoint}, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) {
			return link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: prog})
		}, openFile)
}

func (p *prober) tpBTF() error {
	spec := ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceRawTp, AttachTo: "sys_enter"}
	return attachRun(program{spec: spec, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachTraceRawTp})
		}, openFile)
}

func (p *prober) taskIter() error {
	spec := ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachTraceIter, AttachTo: "task"}
	c, err := program{spec: spec}.load()
	if err != nil {
		return err
	}
	defer c.Close()
	it, err := link.AttachIter(link.IterOptions{Program: c.prog})
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return fmt.Errorf("open iterator: %w", err)
	}
	defer rd.Close()
	if _, err := io.Copy(io.Discard, rd); err != nil {
		return fmt.Errorf("read iterator: %w", err)
	}
	return c.ran(func() {})
}

func (p *prober) kprobe() error {
	return kprobeErr(attachRun(program{spec: ebpf.ProgramSpec{Type: ebpf.Kprobe}, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) { return link.Kprobe(kernelFunc, prog, nil) }, openFile))
}

func (p *prober) kretprobe() error {
	return kprobeErr(attachRun(program{spec: ebpf.ProgramSpec{Type: ebpf.Kprobe}, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) { return link.Kretprobe(kernelFunc, prog, nil) }, openFile))
}

// kprobePMU is where a kernel with kprobe events lists its kprobe PMU.
const kprobePMU = "/sys/bus/event_source/devices/kprobe"

// kprobeErr replaces the library's error after its last fallback (tracefs)
// by the root cause when the kernel has no kprobes at all.
func kprobeErr(err error) error {
	if err != nil && strings.HasPrefix(err.Error(), "attach: ") {
		if _, statErr := os.Stat(kprobePMU); errors.Is(statErr, fs.ErrNotExist) {
			return fmt.Errorf("attach: the kernel has no kprobe events (no %s)", kprobePMU)
		}
	}
	return err
}

func (p *prober) kprobeMulti() error {
	spec := ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: ebpf.AttachTraceKprobeMulti}
	return attachRun(program{spec: spec, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) {
			return link.KprobeMulti(prog, link.KprobeMultiOptions{Symbols: []string{kernelFunc}})
		}, openFile)
}

// trampoline probes fentry, fexit or fmod_ret on security_file_open. The
// fmod_ret program returns 0: it leaves the return value alone.
func (p *prober) trampoline(at ebpf.AttachType) error {
	spec := ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: at, AttachTo: kernelFunc}
	return attachRun(program{spec: spec, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: at})
		}, openFile)
}

// lsm needs the program to load, attach and run: on kernels whose active
// LSM list lacks bpf (5.10 without lsm=...,bpf) it attaches and never runs.
func (p *prober) lsm() error {
	spec := ebpf.ProgramSpec{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: lsmHook}
	err := attachRun(program{spec: spec, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) { return link.AttachLSM(link.LSMOptions{Program: prog}) },
		openFile)
	if p.lsms != nil && !slices.Contains(p.lsms, "bpf") {
		why := fmt.Sprintf("bpf is not an active LSM (%s): boot with lsm=%s,bpf", strings.Join(p.lsms, ","), strings.Join(p.lsms, ","))
		if err != nil {
			why += "; " + err.Error()
		}
		return errors.New(why)
	}
	return err
}

// imaFileHash runs a sleepable program on the file_open LSM hook that
// asks IMA for the opened file's hash (what it answers for /dev/null does
// not matter: that the helper runs does).
func (p *prober) imaFileHash() error {
	if err := p.lsm(); err != nil {
		return fmt.Errorf("needs BPF LSM: %w", err)
	}
	pr := program{
		spec:     ebpf.ProgramSpec{Type: ebpf.LSM, AttachType: ebpf.AttachLSMMac, AttachTo: lsmHook, Flags: unix.BPF_F_SLEEPABLE},
		thisTgid: true,
		beforeCnt: asm.Instructions{
			asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord), // the struct file
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, -64),
			asm.Mov.Imm(asm.R3, 64),
			asm.FnImaFileHash.Call(),
		},
	}
	return attachRun(pr, func(prog *ebpf.Program) (link.Link, error) { return link.AttachLSM(link.LSMOptions{Program: prog}) },
		openFile)
}

// probeWriteUser reads the lockdown mode, which from integrity on refuses
// programs that write a process's memory. No program is loaded: the
// kernel warns about every one that could.
func (p *prober) probeWriteUser() error {
	switch p.lockdown {
	case "none":
		return nil
	case "":
		return errors.New("the lockdown mode could not be read: programs that write a process's memory may be refused")
	}
	return fmt.Errorf("lockdown %s refuses programs that write a process's memory", p.lockdown)
}

// sendSignal sends signal 0 (no signal, only the checks) to this process.
func (p *prober) sendSignal() error {
	pr := program{
		spec:     ebpf.ProgramSpec{Type: ebpf.RawTracepoint},
		thisTgid: true,
		beforeCnt: asm.Instructions{
			asm.Mov.Imm(asm.R1, 0),
			asm.FnSendSignal.Call(),
			asm.JNE.Imm(asm.R0, 0, "out"),
		},
	}
	err := attachRun(pr, func(prog *ebpf.Program) (link.Link, error) {
		return link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: prog})
	}, openFile)
	if err != nil && strings.Contains(err.Error(), "never ran") {
		err = errors.New("attached, but bpf_send_signal never succeeded")
	}
	return err
}

// syscallFunc is getppid's function on this architecture.
func syscallFunc() (string, error) {
	fn := map[string]string{"amd64": "__x64_sys_getppid", "arm64": "__arm64_sys_getppid"}[runtime.GOARCH]
	if fn == "" {
		return "", fmt.Errorf("no syscall function known on %s", runtime.GOARCH)
	}
	return fn, nil
}

// fmodRetSyscall attaches fmod_ret to getppid's function, which the kernel
// allows only for functions on its error-injection list. The program
// returns 0: it leaves the return value alone.
func (p *prober) fmodRetSyscall() error {
	fn, err := syscallFunc()
	if err != nil {
		return err
	}
	spec := ebpf.ProgramSpec{Type: ebpf.Tracing, AttachType: ebpf.AttachModifyReturn, AttachTo: fn}
	return attachRun(program{spec: spec, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) {
			return link.AttachTracing(link.TracingOptions{Program: prog, AttachType: ebpf.AttachModifyReturn})
		}, func() { unix.Getppid() })
}

// overrideReturn makes getppid(2) return overrideMagic, in this process only.
func (p *prober) overrideReturn() error {
	fn, err := syscallFunc()
	if err != nil {
		return err
	}
	pr := program{
		spec:     ebpf.ProgramSpec{Type: ebpf.Kprobe},
		thisTgid: true,
		beforeCnt: asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Mov.Imm(asm.R2, overrideMagic),
			asm.FnOverrideReturn.Call(),
		},
	}
	c, err := pr.load()
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := link.Kprobe(fn, c.prog, nil)
	if err != nil {
		return kprobeErr(fmt.Errorf("attach: kprobe/%s: %w", fn, err))
	}
	defer l.Close()
	if got := unix.Getppid(); got != overrideMagic {
		return fmt.Errorf("attached, but getppid returned %d, not the override", got)
	}
	return nil
}

// uprobeTarget is the user-space function the uprobe tests attach to.
//
//go:noinline
func uprobeTarget(n int) int {
	if n > 1 {
		return n * 3
	}
	return n + 7
}

// uprobeTargetOffset returns uprobeTarget's offset in this executable's
// file, from where the function is mapped: it works in stripped and
// position-independent binaries too.
func uprobeTargetOffset() (uint64, error) {
	addr := uint64(reflect.ValueOf(uprobeTarget).Pointer())
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		start, end, ok := strings.Cut(fields[0], "-")
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		if ok && err1 == nil && err2 == nil && err3 == nil && lo <= addr && addr < hi {
			return addr - lo + off, nil
		}
	}
	return 0, fmt.Errorf("address %#x of the uprobe target is in no file mapping", addr)
}

func (p *prober) userProbe(at ebpf.AttachType, attach func(*link.Executable, *ebpf.Program, uint64) (link.Link, error)) error {
	off, err := uprobeTargetOffset()
	if err != nil {
		return err
	}
	ex, err := link.OpenExecutable("/proc/self/exe")
	if err != nil {
		return err
	}
	return attachRun(program{spec: ebpf.ProgramSpec{Type: ebpf.Kprobe, AttachType: at}, thisTgid: true},
		func(prog *ebpf.Program) (link.Link, error) { return attach(ex, prog, off) },
		func() { uprobeTarget(len(os.Args)) })
}

func (p *prober) uprobe() error {
	return p.userProbe(ebpf.AttachNone, func(ex *link.Executable, prog *ebpf.Program, off uint64) (link.Link, error) {
		return ex.Uprobe("", prog, &link.UprobeOptions{Address: off})
	})
}

func (p *prober) uprobeMulti() error {
	return p.userProbe(ebpf.AttachTraceUprobeMulti, func(ex *link.Executable, prog *ebpf.Program, off uint64) (link.Link, error) {
		return ex.UprobeMulti(nil, prog, &link.UprobeMultiOptions{Addresses: []uint64{off}})
	})
}

// cgroupSockAddr attaches an allow-all cgroup/connect4 program to a
// temporary child of the cgroup2 mount, never to the root: a program there
// would see every connect(2) on the machine.
func (p *prober) cgroupSockAddr() error {
	root, err := cgroup2Mount()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, "vigil-probe-")
	if err != nil {
		return fmt.Errorf("create a child cgroup: %w", err)
	}
	defer os.Remove(dir)
	spec := ebpf.ProgramSpec{Type: ebpf.CGroupSockAddr, AttachType: ebpf.AttachCGroupInet4Connect}
	c, err := program{spec: spec, ret: 1}.load()
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := link.AttachCgroup(link.CgroupOptions{Path: dir, Attach: ebpf.AttachCGroupInet4Connect, Program: c.prog})
	if err != nil {
		return fmt.Errorf("attach cgroup/connect4: %w", err)
	}
	return l.Close()
}

// cgroup2Mount finds where cgroup2 is mounted: /sys/fs/cgroup on unified
// hosts, /sys/fs/cgroup/unified on hybrid ones.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			return filepath.Clean(unescapeMount(fields[1])), nil
		}
	}
	return "", errors.New("no cgroup2 file system in /proc/self/mounts")
}

// unescapeMount undoes the octal escapes (\040 for a space) of /proc/mounts.
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// holdSysEnter keeps two do-nothing programs attached to the sys_enter
// tracepoint while the checks run, and returns what detaches them. Five
// checks attach there, and a tracepoint live-patches the system call path
// (text_poke_bp, while other CPUs run it) whenever its number of attached
// functions goes between 0, 1 and 2: 0<->1 flips its static key and points
// its static call at the one function, 1<->2 points the call at the
// iterator. Above two, attaching only swaps a pointer. Held, the text is
// patched four times per probe instead of at every check's attach and
// detach. Where a hold fails, the checks themselves say why.
func holdSysEnter() (release func()) {
	var closers []io.Closer
	release = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i].Close()
		}
	}
	for range 2 {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name: "vigil_probe_hold", Type: ebpf.RawTracepoint, License: "GPL",
			Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
		})
		if err != nil {
			break
		}
		closers = append(closers, prog)
		l, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: prog})
		if err != nil {
			break
		}
		closers = append(closers, l)
	}
	return release
}
