// Package process keeps the user-space process cache: every process image
// the kernel reported, keyed by exec_id and linked to its parent, and turns
// the kernel's exec, clone and exit records into events.
package process

import (
	"encoding/base64"
	"strconv"
	"strings"
	"sync"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// DefaultCapacity is the default number of process images kept.
const DefaultCapacity = 65536

// maxAncestors bounds the ancestor chain of an event.
const maxAncestors = 128

// Options configure a Cache.
type Options struct {
	NodeName    string
	Capacity    int       // entries kept at most; DefaultCapacity when 0
	Ancestors   Ancestors // which events carry "ancestors"
	Credentials bool      // add "cap" and "process_credentials" to processes
	Namespaces  bool      // add "ns" to processes
}

// key names a process image: its pid and the ktime of its exec or clone.
type key struct {
	pid   uint32
	ktime uint64
}

func keyOf(id tracing.ExecIdent) key { return key{id.Pid, id.Ktime} }

type entry struct {
	proc       *event.Process
	key        key
	parent     *entry // nil when unknown
	children   int32  // entries whose parent this is
	ended      bool   // exited, or replaced by a later exec
	linked     bool   // in the cache's order
	mntNs      uint32 // mount namespace (0: unknown)
	prev, next *entry // the cache's order, oldest first
}

// Cache holds process images until they have exited and no child that is
// still kept needs them as its parent. It is not safe for concurrent use.
type Cache struct {
	opts        Options
	byID        map[key]*entry
	byPid       map[uint32]*entry // the current image of each live process
	first, last *entry            // the order of entries, oldest first
	peak        int               // the most entries since the maps were made
	evictions   uint64
	hostNs      [tracing.NsMax]uint32
	// podMu orders SetPod, which the agent's writer calls from its own
	// goroutine, with Clone's copy of a parent: the only place the
	// cache reads a process it has handed out whole.
	podMu sync.Mutex
}

// SetPod gives p, a process of this cache, its pod and the container id
// Docker shows. Unlike the other methods it may be called from another
// goroutine, the one that writes p's events: no other reads p's pod.
func (c *Cache) SetPod(p *event.Process, pod *event.Pod, docker string) {
	c.podMu.Lock()
	p.Pod, p.Docker = pod, docker
	c.podMu.Unlock()
}

// New returns an empty cache.
func New(opts Options) *Cache {
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultCapacity
	}
	return &Cache{
		opts:   opts,
		byID:   make(map[key]*entry),
		byPid:  make(map[uint32]*entry),
		hostNs: hostNamespaces(),
	}
}

// Compact makes the cache's maps anew when they hold a quarter or less of
// the most entries they held (Go's maps keep their size after deletes),
// and says whether it did: memory worth handing back to the system.
func (c *Cache) Compact() bool {
	if c.peak < compactMin || len(c.byID) > c.peak/4 {
		return false
	}
	byID := make(map[key]*entry, len(c.byID))
	for k, e := range c.byID {
		byID[k] = e
	}
	byPid := make(map[uint32]*entry, len(c.byPid))
	for pid, e := range c.byPid {
		byPid[pid] = e
	}
	c.byID, c.byPid, c.peak = byID, byPid, len(byID)
	return true
}

// compactMin is the fewest entries worth compacting the maps after.
const compactMin = 4096

// Len is the number of process images in the cache.
func (c *Cache) Len() int { return len(c.byID) }

// Evictions counts images dropped because the cache was full.
func (c *Cache) Evictions() uint64 { return c.evictions }

// ExecID is the cluster-wide unique id of a process image: base64 of
// "node:ktime:pid", as Tetragon builds it.
func (c *Cache) ExecID(id tracing.ExecIdent) string {
	s := c.opts.NodeName + ":" + strconv.FormatUint(id.Ktime, 10) + ":" + strconv.FormatUint(uint64(id.Pid), 10)
	return base64.StdEncoding.EncodeToString([]byte(s))
}

// Lookup returns the process image with the given exec_id, or nil.
func (c *Cache) Lookup(execID string) *event.Process {
	if e := c.byExecID(execID); e != nil {
		return e.proc
	}
	return nil
}

// byExecID finds an entry by its exec_id: this node's, made by ExecID.
func (c *Cache) byExecID(execID string) *entry {
	raw, err := base64.StdEncoding.DecodeString(execID)
	if err != nil {
		return nil
	}
	rest, ok := strings.CutPrefix(string(raw), c.opts.NodeName+":")
	ktime, pid, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 {
		return nil
	}
	k, err1 := strconv.ParseUint(ktime, 10, 64)
	p, err2 := strconv.ParseUint(pid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil
	}
	return c.byID[key{uint32(p), k}]
}

// Describe returns the process image id names, its parent and, when
// enabled, its ancestors, for events other than exec and exit. An image the
// cache does not know is described by its pid and exec_id alone.
func (c *Cache) Describe(id tracing.ExecIdent, tid uint32, withAncestors bool) (proc, parent *event.Process, ancestors []*event.Process) {
	e := c.byID[keyOf(id)]
	if e == nil {
		return c.unknown(id, tid), nil, nil
	}
	if e.parent != nil {
		parent = e.parent.proc
	}
	if withAncestors {
		ancestors = c.chain(e)
	}
	return e.proc, parent, ancestors
}

// Exec records a new program image and returns its process_exec event.
func (c *Cache) Exec(r *tracing.Exec) *event.Event {
	parent := c.byID[keyOf(r.Process.Parent)]
	e := c.insert(c.build(r, parent), keyOf(r.Process.Ident), parent)
	e.mntNs = r.Process.Ns[tracing.NsMnt]
	ev := c.execEvent(e, r.Hdr.Ktime)
	if bp := binaryProperties(&r.Process); bp != nil && c.opts.Credentials {
		// as Tetragon: on the process_exec event only
		p := *ev.ProcessExec.Process
		p.BinaryProperties = bp
		ev.ProcessExec.Process = &p
	}
	return ev
}

// Snapshot records the processes found running at start, reading their
// arguments from /proc, and returns a process_exec event (flag "procFS")
// for each, parents first where the snapshot has them.
func (c *Cache) Snapshot(recs []*tracing.Exec) []*event.Event {
	entries := make([]*entry, len(recs))
	for i, r := range recs {
		r.Args = readCmdline(r.Process.Ident.Pid)
		entries[i] = c.insert(c.build(r, nil), keyOf(r.Process.Ident), nil)
		entries[i].mntNs = r.Process.Ns[tracing.NsMnt]
	}
	for i, r := range recs {
		if p := c.byID[keyOf(r.Process.Parent)]; p != nil && p != entries[i] {
			entries[i].parent = p
			p.children++
		}
	}
	out := make([]*event.Event, len(entries))
	for i, e := range entries {
		out[i] = c.execEvent(e, recs[i].Hdr.Ktime)
	}
	return out
}

// Clone records a process created by fork: it runs its parent's image
// under a new exec_id until it execs. Clones make no event.
func (c *Cache) Clone(r *tracing.Clone) {
	parent := c.byID[keyOf(r.Parent)]
	p := &event.Process{}
	p.ParentExecID = c.ExecID(r.Parent)
	if parent != nil {
		c.podMu.Lock()
		*p = *parent.proc
		c.podMu.Unlock()
		p.ParentExecID = parent.proc.ExecID
	}
	p.ExecID = c.ExecID(r.Ident)
	p.Pid = r.Ident.Pid
	p.Tid = r.Tid
	p.Flags = "clone"
	p.StartTime = event.FormatTime(tracing.WallTime(r.Ident.Ktime))
	e := c.insert(p, keyOf(r.Ident), parent)
	if parent != nil {
		e.mntNs = parent.mntNs
	}
}

// MountPeers returns the mount namespace of process execID (0: unknown)
// and the pids that may still show its files under /proc/PID/root: its
// own, then its ancestors' in the same mount namespace, nearest first.
func (c *Cache) MountPeers(execID string) (mntNs uint32, pids []uint32) {
	e := c.byExecID(execID)
	if e == nil {
		return 0, nil
	}
	for a := e; a != nil && len(pids) < maxMountPeers; a = a.parent {
		if a == e || e.mntNs != 0 && a.mntNs == e.mntNs {
			pids = append(pids, a.proc.Pid)
		}
	}
	return e.mntNs, pids
}

// maxMountPeers bounds the pids MountPeers returns.
const maxMountPeers = 8

// unknown describes a process image the cache does not know by what its
// id says: pid, exec_id and start time (Tetragon's schema wants a valid
// start_time).
func (c *Cache) unknown(id tracing.ExecIdent, tid uint32) *event.Process {
	return &event.Process{ExecID: c.ExecID(id), Pid: id.Pid, Tid: tid,
		StartTime: event.FormatTime(tracing.WallTime(id.Ktime))}
}

// Exit ends a process and returns its process_exit event.
func (c *Cache) Exit(r *tracing.Exit) *event.Event {
	e := c.byID[keyOf(r.Ident)]
	if e == nil {
		// not known: exited before the snapshot saw it, or evicted
		e = &entry{proc: c.unknown(r.Ident, r.Tid)}
	}
	t := event.FormatTime(tracing.WallTime(r.Hdr.Ktime))
	exit := &event.ProcessExit{
		Process:   e.proc,
		Ancestors: c.ancestors(e),
		Status:    r.Status(),
		Signal:    signalName(r.Signal()),
		Time:      t,
	}
	if e.parent != nil {
		exit.Parent = e.parent.proc
	}
	c.end(e)
	return &event.Event{ProcessExit: exit, NodeName: c.opts.NodeName, Time: t}
}

func (c *Cache) execEvent(e *entry, ktime uint64) *event.Event {
	exec := &event.ProcessExec{Process: e.proc, Ancestors: c.ancestors(e)}
	if e.parent != nil {
		exec.Parent = e.parent.proc
	}
	return &event.Event{
		ProcessExec: exec,
		NodeName:    c.opts.NodeName,
		Time:        event.FormatTime(tracing.WallTime(ktime)),
	}
}

// ancestors lists the parent's parent and up for process_exec and
// process_exit, when enabled.
func (c *Cache) ancestors(e *entry) []*event.Process {
	if !c.opts.Ancestors.Base {
		return nil
	}
	return c.chain(e)
}

// chain lists the parent's parent and up.
func (c *Cache) chain(e *entry) []*event.Process {
	if e.parent == nil {
		return nil
	}
	var out []*event.Process
	for a := e.parent.parent; a != nil && len(out) < maxAncestors; a = a.parent {
		out = append(out, a.proc)
	}
	return out
}

func (c *Cache) insert(p *event.Process, k key, parent *entry) *entry {
	if old := c.byID[k]; old != nil {
		c.remove(old)
	}
	c.makeRoom()
	e := &entry{proc: p, key: k, parent: parent}
	if parent != nil {
		parent.children++
	}
	c.link(e)
	c.byID[k] = e
	c.peak = max(c.peak, len(c.byID))
	if old := c.byPid[p.Pid]; old != nil {
		c.end(old) // the image this exec replaced
	}
	c.byPid[p.Pid] = e
	return e
}

// end marks an image as gone and frees what no longer needs keeping.
func (c *Cache) end(e *entry) {
	if e.ended {
		return
	}
	e.ended = true
	if c.byPid[e.proc.Pid] == e {
		delete(c.byPid, e.proc.Pid)
	}
	for e != nil && e.ended && e.children == 0 {
		c.remove(e)
		if e.parent != nil {
			e.parent.children--
		}
		e = e.parent
	}
}

func (c *Cache) remove(e *entry) {
	if c.byID[e.key] == e {
		delete(c.byID, e.key)
	}
	if c.byPid[e.proc.Pid] == e {
		delete(c.byPid, e.proc.Pid)
	}
	c.unlink(e)
}

// link puts e last in the order.
func (c *Cache) link(e *entry) {
	e.prev, e.next, e.linked = c.last, nil, true
	if c.last != nil {
		c.last.next = e
	} else {
		c.first = e
	}
	c.last = e
}

// unlink takes e out of the order, if it is in it.
func (c *Cache) unlink(e *entry) {
	if !e.linked {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.first = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.last = e.prev
	}
	e.prev, e.next, e.linked = nil, nil, false
}

// makeRoom evicts, when the cache is full, the oldest ended image among the
// oldest few, or else the oldest image. An evicted image stays reachable
// from its children, which still name it as their parent.
func (c *Cache) makeRoom() {
	for len(c.byID) >= c.opts.Capacity && c.first != nil {
		victim := c.first
		for e, n := c.first, 0; e != nil && n < 64; e, n = e.next, n+1 {
			if e.ended {
				victim = e
				break
			}
		}
		c.remove(victim)
		c.evictions++
	}
}
