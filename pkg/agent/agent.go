// Package agent runs Vigil's sensor pipeline: records from the kernel are
// decoded, tied to their process tree in the cache, and written as events;
// losses anywhere on the way become in-band records.
package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/client-go/rest"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/scope"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// readWait bounds how long a record can sit in the ring buffer: the kernel
// wakes the reader only when the ring fills up (see output() in the BPF
// program), so the reader also looks this often.
const readWait = 50 * time.Millisecond

// drainWait bounds how long a stopping agent goes on reading what the
// kernel wrote before the stop.
const drainWait = 2 * time.Second

// dataHold bounds how long (of kernel time) the data records of a maxData
// argument wait for their event, which the kernel sends right after them:
// longer, the event was lost (and counted) and they are dropped (counted).
const dataHold = time.Second

// Config configures an agent.
type Config struct {
	Tracing tracing.Config
	Process process.Options
	// LossInterval is how often the kernel's loss counters are read.
	LossInterval time.Duration
	// PolicyFiles and PolicyDir name TracingPolicy files to load; they are
	// looked at every PolicyReload, and reloaded when their content has
	// changed and then not changed for PolicySettle (1 s when 0). A file
	// must be a regular file of at most PolicyMaxBytes
	// (policy.DefaultMaxBytes when 0).
	PolicyFiles    []string
	PolicyDir      string
	PolicyReload   time.Duration
	PolicySettle   time.Duration
	PolicyMaxBytes int64
	// IdentityRefresh is how often the objects that policies name by path
	// are looked up again, so that a replaced file's new inode matches
	// (1 s when 0).
	IdentityRefresh time.Duration
	// SyscallBackend forces the backend of syscall hooks (compile.Target).
	SyscallBackend string
	// NoIA32 leaves ia32 syscalls unhooked even where the kernel runs ia32
	// code (compile.Target.NoIA32); where it runs none they are anyway.
	NoIA32 bool
	// Pods, when set, adds to events the pod and container of their
	// processes; an event waits for its pod at most PodHold.
	Pods *pods.Index
	// Guard, when set, checks every policy about to load, from any source.
	Guard   Guard
	PodHold time.Duration
	// Kube, when set, is the API server whose TracingPolicy resources the
	// agent loads; every StatusInterval (30 s when 0) it writes their
	// counts of events and actions into their status.
	Kube           *rest.Config
	StatusInterval time.Duration
	// StateDir, when set, holds what outlives the agent's process: the
	// policies it loaded, from any source (StateDir/policies), installed
	// again at start. With Tracing.PinDir and Tracing.Keep its programs go
	// on enforcing while it is down.
	StateDir string
	// ExposeStackAddresses puts the addresses of stack frames in events
	// (Tetragon's --expose-stack-addresses): they defeat (K)ASLR.
	ExposeStackAddresses bool
	// Beacon bounds the requests of GetUrl and DnsLookup actions
	// (beacon.DefaultConfig when its Workers is 0).
	Beacon beacon.Config
}

// Sink receives events in order. Flush is called whenever the kernel has
// nothing more to read for now.
type Sink interface {
	Write(*event.Event) error
	Flush() error
}

// Stats are the agent's running totals, safe to read from any goroutine.
type Stats struct {
	Events      atomic.Uint64
	LostKernel  atomic.Uint64 // records the ring buffer could not take
	ProcmapFull atomic.Uint64 // processes the kernel's process map refused
	ScopeFull   atomic.Uint64 // pod cgroups the kernel's scope map refused
	ReturnFull  atomic.Uint64 // return hook calls the kernel could not follow
	// ReturnPending: return hook entries dropped, oldest first, while too
	// many waited for their return
	ReturnPending atomic.Uint64
	// DataFull counts events sent with a buffer argument cut short: the
	// ring buffer could not take one of its data records.
	DataFull atomic.Uint64
	// DataDropped counts data records dropped in user space (no event
	// claimed them in time, or too much data waited).
	DataDropped atomic.Uint64
	StackFailed atomic.Uint64 // stack traces the kernel could not collect
	IMAFull     atomic.Uint64 // events posted without their IMA hash
	// StackErrors counts the stack traces events lack or could not name,
	// for any reason (the kernel's, or the process exited).
	StackErrors  atomic.Uint64
	DecodeErrors atomic.Uint64
	ProcessCache atomic.Uint64 // process images in the cache
}

// Agent is a loaded sensor and its pipeline.
type Agent struct {
	cfg    Config
	sensor *tracing.Sensor
	cache  *process.Cache
	sink   Sink
	stats  Stats
	pols   *lifecycle.Policies
	scopes *scope.Scopes
	files  *policyFiles
	data   *tracing.Assembler // maxData arguments' data records, until their event
	stacks *stackTraces
	beacon *beacon.Beacon // GetUrl and DnsLookup requests

	started time.Time
	// beat is when the reader last made progress (unix ns); snapshotDone
	// says the running processes are known (Health)
	beat         atomic.Int64
	snapshotDone atomic.Bool
	pods         *podWaiter       // nil without Kubernetes; the writer's
	out          *writer          // while Run runs
	tasks        sync.WaitGroup   // Run's goroutines, other than the writer
	crds         *crdPolicies     // nil without Kubernetes
	seen         tracing.Counters // kernel counters already reported
	decodes      uint64           // decode errors already reported
	returns      *returns         // return hooks' entries waiting for their return
	loaded       *mappedFiles     // what process_loader events reported
	evicted      uint64           // returns.evicted already reported
	lastPoll     time.Time
}

// New loads and attaches the BPF programs. Records queue in the kernel's
// ring buffer until Run reads them.
func New(cfg Config, sink Sink) (*Agent, error) {
	if cfg.LossInterval <= 0 {
		cfg.LossInterval = time.Second
	}
	if cfg.PolicyReload <= 0 {
		cfg.PolicyReload = time.Second
	}
	if cfg.IdentityRefresh <= 0 {
		cfg.IdentityRefresh = time.Second
	}
	if cfg.PolicySettle <= 0 {
		cfg.PolicySettle = time.Second
	}
	if cfg.PolicyMaxBytes <= 0 {
		cfg.PolicyMaxBytes = policy.DefaultMaxBytes
	}
	if err := tracing.CheckPrerequisites(); err != nil {
		return nil, err
	}
	kernel, info := probe.Cached()
	logrus.WithFields(logrus.Fields{"available": kernel.Available(), "cached": info.Hit}).Info("kernel features probed")
	if info.Ignored != nil {
		logrus.WithError(info.Ignored).Warn("ignored the cached probe report: probed again")
	}
	if info.Err != nil {
		logrus.WithError(info.Err).Warn("probe cache unusable: the next start probes the kernel again")
	}
	target := compile.Target{Kernel: kernel, SyscallBackend: cfg.SyscallBackend, Pods: cfg.Pods != nil,
		Nodes: cfg.Kube != nil && cfg.Process.NodeName != ""}
	noIA32 := compile.KernelRunsNoIA32(kernel)
	target.NoIA32 = cfg.NoIA32 || noIA32
	if cfg.NoIA32 && !noIA32 {
		logrus.Warn("--ia32-syscalls=false: this kernel runs ia32 code, and 32-bit processes and int 0x80 slip past syscall policies")
	}
	cfg.Tracing.SyscallTracepoints = target.SyscallTracepoints()
	cfg.Tracing.KprobeMulti = kernel.Has(probe.KprobeMulti)
	s, err := tracing.Load(cfg.Tracing)
	if err != nil {
		return nil, err
	}
	scopes, err := scope.New(s, cfg.Pods)
	if err != nil {
		s.Close()
		return nil, err
	}
	store, err := openStore(cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Beacon.Workers <= 0 {
		cfg.Beacon = beacon.DefaultConfig
	}
	a := &Agent{cfg: cfg, sensor: s, cache: process.New(cfg.Process), sink: sink, scopes: scopes, started: time.Now(), returns: newReturns(), loaded: newMappedFiles(),
		beacon: beacon.New(cfg.Beacon),
		pols:   lifecycle.New(s, scopes, target, cfg.Guard, store), data: newAssembler(cfg.Tracing),
		stacks: newStackTraces(s.Hooks(), cfg.ExposeStackAddresses)}
	a.pols.Restore(func(gen string, ids []uint32) lifecycle.Counts {
		st := s.Previous().Stats(gen, ids)
		return lifecycle.Counts{Events: st.Hits, Actions: st.Actions}
	})
	if cfg.Pods != nil {
		a.pods = &podWaiter{index: cfg.Pods, cache: a.cache, hold: cfg.PodHold}
	}
	if cfg.Kube != nil {
		if a.crds, err = crdSource(a.pols, cfg.Kube, cfg.Process.NodeName, cfg.StatusInterval); err != nil {
			s.Close()
			return nil, err
		}
	}
	a.files = newPolicyFiles(cfg.PolicyFiles, cfg.PolicyDir, a.pols, cfg.PolicyMaxBytes, cfg.PolicySettle)
	a.files.initial()
	return a, nil
}

// openStore opens the policy store in StateDir, if there is one.
func openStore(cfg Config) (*lifecycle.Store, error) {
	if cfg.StateDir == "" {
		return nil, nil
	}
	return lifecycle.OpenStore(filepath.Join(cfg.StateDir, "policies"), cfg.PolicyMaxBytes)
}

// release lets go of what earlier runs left pinned, now that this run
// enforces it all and knows the running processes; what their programs
// recorded while no agent read it is counted as lost.
func (a *Agent) release() {
	lost, err := a.sensor.Previous().Release()
	if err != nil {
		logrus.WithError(err).Error("releasing an earlier run's pinned programs")
	}
	a.report(event.LostAgentDown, lost, time.Now())
}

// Stats returns the agent's totals.
func (a *Agent) Stats() *Stats { return &a.stats }

// Run snapshots the running processes, then turns kernel records into
// events until ctx ends. It closes the sensor before returning.
func (a *Agent) Run(ctx context.Context) error {
	defer a.sensor.Close()
	defer a.beacon.Close()
	a.lastPoll = time.Now()
	snap, err := a.sensor.Snapshot()
	if err != nil {
		return err
	}
	a.out = startWriter(a.sink, a.pods, &a.stats.Events)
	ctx, cancel := context.WithCancel(ctx)
	err = a.run(ctx, snap)
	cancel()
	a.tasks.Wait() // they use the sensor, which closes next
	if cerr := a.out.close(); err == nil {
		err = cerr
	}
	return err
}

// run is Run once the writer runs.
func (a *Agent) run(ctx context.Context, snap []*tracing.Exec) error {
	for _, ev := range a.cache.Snapshot(snap) {
		a.write(ev)
	}
	logrus.WithField("processes", len(snap)).Info("snapshot of running processes done")
	a.snapshotDone.Store(true)
	a.release()
	a.out.flush()
	a.tasks.Go(func() { a.files.watch(a.cfg.PolicyReload, ctx.Done()) })
	a.tasks.Go(func() { refreshIdentities(a.sensor.Hooks(), a.cfg.IdentityRefresh, ctx.Done()) })
	a.tasks.Go(func() { a.scopes.Run(ctx) })
	if a.pols.Target().Nodes {
		watch, err := watchNode(ctx, a.cfg.Kube, a.cfg.Process.NodeName, a.pols.SetNodeLabels)
		if err != nil {
			return err
		}
		a.tasks.Go(watch)
	}
	if a.crds != nil {
		a.tasks.Go(func() { a.crds.run(ctx) })
		a.tasks.Go(func() { a.crds.reportCounts(ctx) })
	}
	for ctx.Err() == nil {
		if err := a.step(); err != nil {
			return err
		}
	}
	// what the kernel wrote before the stop still goes out (bounded: the
	// programs stay attached until the sensor closes)
	for deadline := time.Now().Add(drainWait); a.sensor.Pending() > 0 && time.Now().Before(deadline); {
		if err := a.step(); err != nil {
			return err
		}
	}
	a.data.DropAll() // what waits now has no event to come
	a.pollLosses()
	return nil
}

// step handles one record, or a quiet period, and reports new losses.
func (a *Agent) step() error {
	now := time.Now()
	a.beat.Store(now.UnixNano())
	raw, err := a.sensor.ReadRaw(now.Add(readWait))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
	case err != nil:
		return err
	default:
		a.handleRaw(raw)
	}
	idle := a.sensor.Pending() == 0
	a.expireData(idle)
	if time.Since(a.lastPoll) >= a.cfg.LossInterval {
		a.pollLosses()
	}
	if idle {
		a.stacks.release()
		a.compact()
		a.out.flush()
	}
	return nil
}

// compact hands memory back to the system after the process cache has
// shrunk to a quarter of its peak (thousands of processes exited): Go
// keeps a heap at its largest otherwise. Rare, so a full collection is
// affordable.
func (a *Agent) compact() {
	if a.cache.Compact() {
		debug.FreeOSMemory()
	}
}

// handleRaw handles one record of the ring buffer: a data record's bytes
// go straight into place in their argument (raw is the ring buffer's
// memory until the next read), other records are decoded first.
func (a *Agent) handleRaw(raw []byte) {
	var err error
	if tracing.IsData(raw) {
		err = a.data.AddRaw(raw)
	} else {
		var rec any
		if rec, err = tracing.Decode(raw); err == nil {
			a.handle(rec)
		}
	}
	if err != nil {
		a.stats.DecodeErrors.Add(1)
		logrus.WithError(err).Debug("undecodable record")
	}
}

func (a *Agent) handle(rec any) {
	switch r := rec.(type) {
	case *tracing.Exec:
		a.write(a.cache.Exec(r))
	case *tracing.Clone:
		a.cache.Clone(r)
	case *tracing.Exit:
		a.stacks.exited(r)
		a.write(a.cache.Exit(r))
	case *tracing.Data:
		a.data.Add(r)
	case *tracing.Generic:
		a.data.Complete(r)
		a.writeHook(r)
	}
}

// writeHook renders a policy hook's record with its process.
func (a *Agent) writeHook(g *tracing.Generic) {
	stacks, failed := a.stacks.traces(g) // now: the process may exit
	a.stats.StackErrors.Add(uint64(failed))
	h := a.pols.Hook(g.HookID)
	if h == nil {
		a.stats.DecodeErrors.Add(1)
		logrus.WithField("hook", g.HookID).Debug("record of an unknown hook")
		return
	}
	if g, stacks = a.returns.join(g, h.RetCopy, stacks); g == nil {
		return
	}
	ev := h.Event(g)
	ev.StackTraces = stacks
	if int(g.Selector) < len(h.Requests) {
		for _, r := range h.Requests[g.Selector] {
			a.beacon.Send(r)
		}
	}
	tid := g.Tid
	if g.OwnerTid != 0 {
		tid = g.OwnerTid // a tracked socket's owner (TrackSock)
	}
	ev.Process, ev.Parent, ev.Ancestors = a.cache.Describe(g.Ident, tid, a.ancestorsOf(h))
	out := &event.Event{NodeName: a.cfg.Process.NodeName, Time: event.FormatTime(tracing.WallTime(g.Hdr.Ktime))}
	switch {
	case h.Loader:
		for _, l := range a.loaded.events(ev, a.cache) {
			a.write(&event.Event{NodeName: out.NodeName, Time: out.Time, ProcessLoader: l})
		}
		return
	case h.LSM:
		out.ProcessLsm = ev
	case h.Uprobe != "":
		out.ProcessUprobe = &event.ProcessUprobe{
			Process: ev.Process, Parent: ev.Parent, Ancestors: ev.Ancestors, Path: h.Uprobe, Symbol: ev.FunctionName,
			Offset: h.UprobeOffset, RefCtrOffset: h.UprobeRefCtr,
			Args: withReturn(ev), Action: ev.Action, PolicyName: ev.PolicyName, Message: ev.Message, Tags: ev.Tags, Mode: ev.Mode,
			StackTraces: ev.StackTraces,
		}
	case h.USDT != nil:
		out.ProcessUsdt = &event.ProcessUsdt{
			Process: ev.Process, Parent: ev.Parent, Ancestors: ev.Ancestors, Path: h.USDT.Path, Provider: h.USDT.Provider,
			Name: h.USDT.Name, Args: ev.Args, Action: ev.Action, PolicyName: ev.PolicyName, Message: ev.Message, Tags: ev.Tags,
			Mode: ev.Mode, StackTraces: ev.StackTraces,
		}
	case h.Tracepoint != "":
		out.ProcessTracepoint = &event.ProcessTracepoint{
			Process: ev.Process, Parent: ev.Parent, Ancestors: ev.Ancestors, Subsys: h.Tracepoint, Event: ev.FunctionName,
			Args: ev.Args, Action: ev.Action, PolicyName: ev.PolicyName, Message: ev.Message, Tags: ev.Tags, Mode: ev.Mode,
			StackTraces: ev.StackTraces,
		}
	default:
		out.ProcessKprobe = ev
	}
	a.write(out)
}

// withReturn is a hook event's arguments with its return value last, as
// Tetragon's uprobe events carry it (they have no return field).
func withReturn(ev *event.ProcessKprobe) []*event.Argument {
	if ev.Return == nil {
		return ev.Args
	}
	return append(ev.Args, ev.Return)
}

// ancestorsOf says whether the events of hook h carry their process's
// ancestors (--enable-ancestors).
func (a *Agent) ancestorsOf(h *compile.Hook) bool {
	on := a.cfg.Process.Ancestors
	switch {
	case h.LSM:
		return on.LSM
	case h.Uprobe != "":
		return on.Uprobe
	case h.USDT != nil:
		return on.USDT
	case h.Tracepoint != "":
		return on.Tracepoint
	}
	return on.Kprobe
}

// write sends ev out, through the writer.
func (a *Agent) write(ev *event.Event) { a.out.write(ev) }

// pollLosses turns counter increases since the last poll into in-band
// lost_events records.
func (a *Agent) pollLosses() {
	now := time.Now()
	c, err := a.sensor.Counters()
	if err != nil {
		logrus.WithError(err).Warn("reading kernel loss counters")
		return
	}
	decodes := a.stats.DecodeErrors.Load()
	a.report(event.LostRingBuffer, c.RingbufFull-a.seen.RingbufFull, now)
	a.report(event.LostProcessMap, c.ProcmapFull-a.seen.ProcmapFull, now)
	a.report(event.LostScopeMap, c.ScopeFull-a.seen.ScopeFull, now)
	a.report(event.LostReturnMap, c.ReturnFull-a.seen.ReturnFull, now)
	a.report(event.LostReturnPending, a.returns.evicted-a.evicted, now)
	a.evicted = a.returns.evicted
	a.stats.ReturnPending.Store(a.returns.evicted)
	a.report(event.LostStackTrace, c.StackFailed-a.seen.StackFailed, now)
	a.report(event.LostIMAHash, c.IMAFull-a.seen.IMAFull, now)
	a.report(event.LostDecode, decodes-a.decodes, now)
	a.report(event.LostDataRingBuffer, c.DataFull-a.seen.DataFull, now)
	dropped := a.data.Dropped()
	a.report(event.LostDataRecords, dropped-a.stats.DataDropped.Load(), now)
	a.stats.DataFull.Store(c.DataFull)
	a.stats.DataDropped.Store(dropped)
	a.stats.LostKernel.Store(c.RingbufFull)
	a.stats.ProcmapFull.Store(c.ProcmapFull)
	a.stats.ScopeFull.Store(c.ScopeFull)
	a.stats.ReturnFull.Store(c.ReturnFull)
	a.stats.StackFailed.Store(c.StackFailed)
	a.stats.IMAFull.Store(c.IMAFull)
	a.stats.ProcessCache.Store(uint64(a.cache.Len()))
	a.seen, a.decodes, a.lastPoll = c, decodes, now
}

func (a *Agent) report(reason string, n uint64, now time.Time) {
	if n == 0 {
		return
	}
	logrus.WithFields(logrus.Fields{"count": n, "reason": reason}).Warn("events lost")
	a.write(&event.Event{
		LostEvents: &event.LostEvents{
			Count:       n,
			Reason:      reason,
			WindowStart: event.FormatTime(a.lastPoll),
			WindowEnd:   event.FormatTime(now),
		},
		NodeName: a.cfg.Process.NodeName,
		Time:     event.FormatTime(now),
	})
}
