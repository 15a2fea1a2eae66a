// Package process keeps the user-space process cache: every process image
// the kernel reported, keyed by exec_id and linked to its parent, and turns
// the kernel's exec, clone and exit records into events.
package process

import (
	"container/list"
	"encoding/base64"
	"strconv"

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

type entry struct {
	proc     *event.Process
	parent   *entry // nil when unknown
	children int    // entries whose parent this is
	ended    bool   // exited, or replaced by a later exec
	mntNs    uint32 // mount namespace (0: unknown)
	elem     *list.Element
}

// Cache holds process images until they have exited and no child that is
// still kept needs them as its parent. It is not safe for concurrent use.
type Cache struct {
	opts      Options
	byID      map[string]*entry
	byPid     map[uint32]*entry // the current image of each live process
	order     *list.List        // entries, oldest first
	evictions uint64
	hostNs    [tracing.NsMax]uint32
}

// New returns an empty cache.
func New(opts Options) *Cache {
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultCapacity
	}
	return &Cache{
		opts:   opts,
		byID:   make(map[string]*entry),
		byPid:  make(map[uint32]*entry),
		order:  list.New(),
		hostNs: hostNamespaces(),
	}
}

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
	if e := c.byID[execID]; e != nil {
		return e.proc
	}
	return nil
}

// Describe returns the process image id names, its parent and, when
// enabled, its ancestors, for events other than exec and exit. An image the
// cache does not know is described by its pid and exec_id alone.
func (c *Cache) Describe(id tracing.ExecIdent, tid uint32, withAncestors bool) (proc, parent *event.Process, ancestors []*event.Process) {
	e := c.byID[c.ExecID(id)]
	if e == nil {
		return &event.Process{ExecID: c.ExecID(id), Pid: id.Pid, Tid: tid}, nil, nil
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
	parent := c.byID[c.ExecID(r.Process.Parent)]
	e := c.insert(c.build(r), parent)
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
		entries[i] = c.insert(c.build(r), nil)
		entries[i].mntNs = r.Process.Ns[tracing.NsMnt]
	}
	for i, r := range recs {
		if p := c.byID[c.ExecID(r.Process.Parent)]; p != nil && p != entries[i] {
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
	parent := c.byID[c.ExecID(r.Parent)]
	p := &event.Process{}
	if parent != nil {
		*p = *parent.proc
	}
	p.ExecID = c.ExecID(r.Ident)
	p.Pid = r.Ident.Pid
	p.Tid = r.Tid
	p.Flags = "clone"
	p.StartTime = event.FormatTime(tracing.WallTime(r.Ident.Ktime))
	p.ParentExecID = c.ExecID(r.Parent)
	e := c.insert(p, parent)
	if parent != nil {
		e.mntNs = parent.mntNs
	}
}

// MountPeers returns the mount namespace of process execID (0: unknown)
// and the pids that may still show its files under /proc/PID/root: its
// own, then its ancestors' in the same mount namespace, nearest first.
func (c *Cache) MountPeers(execID string) (mntNs uint32, pids []uint32) {
	e := c.byID[execID]
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

// Exit ends a process and returns its process_exit event.
func (c *Cache) Exit(r *tracing.Exit) *event.Event {
	id := c.ExecID(r.Ident)
	e := c.byID[id]
	if e == nil {
		// not known: exited before the snapshot saw it, or evicted
		e = &entry{proc: &event.Process{ExecID: id, Pid: r.Ident.Pid, Tid: r.Tid}}
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

func (c *Cache) insert(p *event.Process, parent *entry) *entry {
	if old := c.byID[p.ExecID]; old != nil {
		c.remove(old)
	}
	c.makeRoom()
	e := &entry{proc: p, parent: parent}
	if parent != nil {
		parent.children++
	}
	e.elem = c.order.PushBack(e)
	c.byID[p.ExecID] = e
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
	if c.byID[e.proc.ExecID] == e {
		delete(c.byID, e.proc.ExecID)
	}
	if c.byPid[e.proc.Pid] == e {
		delete(c.byPid, e.proc.Pid)
	}
	if e.elem != nil {
		c.order.Remove(e.elem)
		e.elem = nil
	}
}

// makeRoom evicts, when the cache is full, the oldest ended image among the
// oldest few, or else the oldest image. An evicted image stays reachable
// from its children, which still name it as their parent.
func (c *Cache) makeRoom() {
	for len(c.byID) >= c.opts.Capacity && c.order.Len() > 0 {
		victim := c.order.Front()
		for el, n := victim, 0; el != nil && n < 64; el, n = el.Next(), n+1 {
			if el.Value.(*entry).ended {
				victim = el
				break
			}
		}
		c.remove(victim.Value.(*entry))
		c.evictions++
	}
}
