// Package tracing loads Vigil's BPF programs into the kernel, attaches them,
// and reads the records they send: ring buffer events, the start-up process
// snapshot and the in-kernel loss counters.
package tracing

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/tracefs"
)

// DefaultRingBufferSize is the size of the kernel-to-user ring buffer.
const DefaultRingBufferSize = 8 << 20

// Config tunes the sensor.
type Config struct {
	// RingBufferSize in bytes; a power of two, multiple of the page size.
	RingBufferSize int
	// StackTraces is how many stack traces the kernel's stack map holds
	// (DefaultStackTraces when 0): events read but not yet symbolized
	// hold theirs, and a full map makes the kernel refuse new ones.
	StackTraces int
	// PinDir, when set, is a bpffs folder where earlier runs' pinned
	// generations are found (Sensor.Previous; see pin.go). With Keep this
	// run pins there every link and the maps a successor reads, and leaves
	// them pinned when the sensor closes: its programs go on enforcing
	// until a successor releases them.
	PinDir string
	Keep   bool
	// HostRoot is where the paths that policies name are looked up to
	// match their objects by identity ("/" when empty): an agent in a
	// container with the host's pid namespace uses /proc/1/root.
	HostRoot string
	// SyscallTracepoints serves x86_64 syscall hooks from each syscall's
	// own tracepoints (probe.SyscallTracepoint), so that unhooked syscalls
	// pay no BPF program; else the raw syscall tracepoints serve them all.
	SyscallTracepoints bool
	// KprobeMulti attaches the plain kprobes of a policy through
	// kprobe_multi links (probe.KprobeMulti): one program verified and
	// one link for many functions, not one of each per function.
	KprobeMulti bool
}

// Sensor is the loaded and attached process-tracking programs.
type Sensor struct {
	cfg    Config
	objs   processObjects
	hooks  *Hooks
	links  []link.Link
	reader *ringbuf.Reader
	record ringbuf.Record
	pins   *pins
	prev   *Previous
}

// Counters are the kernel's loss and error counters, summed over CPUs.
type Counters struct {
	RingbufFull uint64 // records dropped: the ring buffer was full
	ProcmapFull uint64 // processes the in-kernel process map could not hold
	ScopeFull   uint64 // pod cgroups the pod scope map could not hold
	ReturnFull  uint64 // return hook entries whose match could not be kept
	// DataFull counts hook records sent with a char_buf cut short: the
	// ring buffer had no room for one of its Data records.
	DataFull    uint64
	StackFailed uint64 // stack traces the kernel could not collect
	// IMAFull counts events posted without their IMA hash: too many waited
	// for one at once.
	IMAFull uint64
}

// Load checks what the kernel must offer, loads the programs and attaches
// the exec, fork and exit tracepoints. Every error names what is missing.
func Load(cfg Config) (*Sensor, error) {
	if err := CheckPrerequisites(); err != nil {
		return nil, err
	}
	// tracefs before anything looks for it: the BPF library remembers the
	// first lookup for the life of the process. Without it only tracepoint
	// hooks fail, each with this reason.
	if _, err := tracefs.Dir(); err != nil {
		logrus.WithError(err).Warn("tracepoint hooks will not attach")
	}
	spec, err := loadProcess()
	if err != nil {
		return nil, err
	}
	if cfg.RingBufferSize == 0 {
		cfg.RingBufferSize = DefaultRingBufferSize
	}
	spec.Maps[processMapEvents].MaxEntries = uint32(cfg.RingBufferSize)
	if cfg.StackTraces <= 0 {
		cfg.StackTraces = DefaultStackTraces
	}
	s := &Sensor{cfg: cfg}
	s.hooks = newHooks(s)
	pinDir := ""
	if cfg.Keep {
		pinDir = cfg.PinDir
	}
	if s.pins, err = newPins(pinDir); err != nil {
		return nil, err
	}
	if s.prev, err = openPrevious(cfg.PinDir, s.pins.dir); err != nil {
		return nil, fmt.Errorf("reading what earlier runs pinned under %s: %w", cfg.PinDir, err)
	}
	if err := spec.LoadAndAssign(&s.objs, nil); err != nil {
		_ = s.pins.remove()
		return nil, fmt.Errorf("loading BPF process programs: %w", describe(err))
	}
	if err := errors.Join(s.pins.mapOf(s.objs.Events, pinEvents), s.pins.mapOf(s.objs.Counters, pinCounters)); err != nil {
		s.Close()
		return nil, fmt.Errorf("pinning: %w", err)
	}
	if err := s.attach(); err != nil {
		s.Close()
		return nil, err
	}
	if s.reader, err = ringbuf.NewReader(s.objs.Events); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening the BPF ring buffer: %w", err)
	}
	return s, nil
}

// CheckPrerequisites says what the kernel or the process lacks to load
// BPF programs at all (Load checks it first).
func CheckPrerequisites() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root: loading BPF programs needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE)")
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return errors.New("kernel BTF missing: /sys/kernel/btf/vmlinux not found (needs CONFIG_DEBUG_INFO_BTF)")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("raising RLIMIT_MEMLOCK for BPF maps: %w", err)
	}
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		return fmt.Errorf("BPF ring buffer not supported by this kernel (needs Linux 5.8): %w", err)
	}
	return nil
}

func (s *Sensor) attach() error {
	progs := []struct {
		name string
		prog *ebpf.Program
	}{
		{"sched_process_exec", s.objs.OnExec},
		{"sched_process_fork", s.objs.OnFork},
		{"sched_process_exit", s.objs.OnExit},
		{"cgroup_mkdir", s.objs.OnCgroupMkdir},
		{"cgroup_rmdir", s.objs.OnCgroupRmdir},
	}
	for _, p := range progs {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog})
		if err != nil {
			return fmt.Errorf("attaching tracepoint tp_btf/%s: %w", p.name, err)
		}
		s.links = append(s.links, l)
		if err := s.pins.link(l, "tp_btf/"+p.name); err != nil {
			return err
		}
	}
	return nil
}

// Previous is what earlier runs left pinned under Config.PinDir.
func (s *Sensor) Previous() *Previous { return s.prev }

// Generation names this run's pinned generation ("" when nothing is
// pinned), as Previous.Stats knows it in the next run.
func (s *Sensor) Generation() string { return filepath.Base(s.pins.dir) }

// describe adds the verifier's log to a load error.
func describe(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Errorf("%+v", ve)
	}
	return err
}

// Snapshot runs the task iterator once and returns a record for every
// process that the tracepoints have not already reported.
func (s *Sensor) Snapshot() ([]*Exec, error) {
	it, err := link.AttachIter(link.IterOptions{Program: s.objs.Snapshot})
	if err != nil {
		return nil, fmt.Errorf("attaching task iterator: %w", err)
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return nil, fmt.Errorf("opening task iterator: %w", err)
	}
	defer rd.Close()
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading task iterator: %w", err)
	}
	return decodeSnapshot(raw)
}

func decodeSnapshot(raw []byte) ([]*Exec, error) {
	var out []*Exec
	for len(raw) > 0 {
		rec, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		e, ok := rec.(*Exec)
		if !ok {
			return nil, fmt.Errorf("snapshot: unexpected record %T", rec)
		}
		if e.Hdr.Size == 0 || int(e.Hdr.Size) > len(raw) {
			return nil, fmt.Errorf("snapshot: a record of %d bytes says it has %d", len(raw), e.Hdr.Size)
		}
		out = append(out, e)
		raw = raw[e.Hdr.Size:]
	}
	return out, nil
}

// ErrDecode marks a record that could not be decoded.
var ErrDecode = errors.New("undecodable record")

// Read waits for the next ring buffer record until deadline and decodes it.
// It returns os.ErrDeadlineExceeded when the deadline passes first, and an
// error wrapping ErrDecode for a record it cannot decode.
func (s *Sensor) Read(deadline time.Time) (any, error) {
	raw, err := s.ReadRaw(deadline)
	if err != nil {
		return nil, err
	}
	rec, err := Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return rec, nil
}

// ReadRaw waits for the next ring buffer record until deadline and returns
// it undecoded; the bytes are valid until the next read.
func (s *Sensor) ReadRaw(deadline time.Time) ([]byte, error) {
	s.reader.SetDeadline(deadline)
	if err := s.reader.ReadInto(&s.record); err != nil {
		return nil, err
	}
	return s.record.RawSample, nil
}

// Pending is the number of bytes waiting in the ring buffer.
func (s *Sensor) Pending() int { return s.reader.AvailableBytes() }

// Counters sums the kernel's per-CPU loss counters.
func (s *Sensor) Counters() (Counters, error) {
	var c Counters
	for i, dst := range [counterMax]*uint64{
		counterRingbufFull: &c.RingbufFull, counterProcmapFull: &c.ProcmapFull, counterScopeFull: &c.ScopeFull,
		counterReturnFull:  &c.ReturnFull,
		counterDataFull:    &c.DataFull,
		counterStackFailed: &c.StackFailed,
		counterIMAFull:     &c.IMAFull,
	} {
		var perCPU []uint64
		if err := s.objs.Counters.Lookup(uint32(i), &perCPU); err != nil {
			return c, fmt.Errorf("reading loss counter %d: %w", i, err)
		}
		for _, v := range perCPU {
			*dst += v
		}
	}
	return c, nil
}

// Hooks returns the generic hook manager, which loads its program on first
// use and shares this sensor's ring buffer and process map.
func (s *Sensor) Hooks() *Hooks { return s.hooks }

// Close detaches every program and frees the maps, unless Config.Keep
// leaves them pinned.
func (s *Sensor) Close() error {
	var errs []error
	if !s.cfg.Keep {
		errs = append(errs, s.pins.remove())
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	errs = append(errs, s.hooks.close())
	for _, l := range s.links {
		errs = append(errs, l.Close())
	}
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}
