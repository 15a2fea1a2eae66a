package tracing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// A pinned generation is what one agent run put in the kernel, pinned
// under Config.PinDir/gen-<start in ns>: links/ holds every link (the
// programs and the maps they use live as long as their link does), maps/
// the maps a successor reads (events, counters, hook_stats). Links outlive
// the agent's process (kill -9, OOM, upgrade) when Config.Keep is set; a
// successor installs its own generation, then releases its predecessors'.
const genPrefix = "gen-"

// Pinned map names in a generation's maps/.
const (
	pinEvents    = "events"
	pinCounters  = "counters"
	pinHookStats = "hook_stats"
)

// pins is this run's generation.
type pins struct {
	dir  string // "": nothing is pinned
	mu   sync.Mutex
	next int
}

// bpffsRoot is where bpffs is mounted by convention; the agent mounts it
// there when it is not (as a systemd-less host or a container may have it).
const bpffsRoot = "/sys/fs/bpf"

func newPins(root string) (*pins, error) {
	if root == "" {
		return &pins{}, nil
	}
	if err := ensureBPFFS(root); err != nil {
		return nil, err
	}
	dir := filepath.Join(root, genPrefix+strconv.FormatInt(time.Now().UnixNano(), 10))
	for _, sub := range []string{"links", "maps"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("pinning under %s (is bpffs mounted there?): %w", root, err)
		}
	}
	return &pins{dir: dir}, nil
}

// ensureBPFFS checks that root is on a bpffs, mounting one at bpffsRoot
// when root is under it and nothing is mounted there.
func ensureBPFFS(root string) error {
	var st unix.Statfs_t
	dir := root
	for {
		if err := unix.Statfs(dir, &st); err == nil {
			break
		}
		if dir = filepath.Dir(dir); dir == "/" {
			break
		}
	}
	if st.Type == unix.BPF_FS_MAGIC {
		return nil
	}
	if dir != bpffsRoot {
		return fmt.Errorf("--bpf-pin-dir %s: not on a bpffs (mount one: mount -t bpf bpf %s)", root, dir)
	}
	if err := unix.Mount("bpf", bpffsRoot, "bpf", 0, "mode=0700"); err != nil {
		return fmt.Errorf("mounting bpffs at %s: %w", bpffsRoot, err)
	}
	logrus.WithField("path", bpffsRoot).Info("mounted bpffs to pin programs")
	return nil
}

// link pins l, named after what it attaches.
func (p *pins) link(l link.Link, what string) error {
	if p.dir == "" {
		return nil
	}
	p.mu.Lock()
	p.next++
	name := fmt.Sprintf("%04d-%s", p.next, strings.NewReplacer("/", "_", ":", "_").Replace(what))
	p.mu.Unlock()
	err := l.Pin(filepath.Join(p.dir, "links", name))
	if errors.Is(err, ebpf.ErrNotSupported) {
		// perf event links before Linux 5.15 are not bpf links
		logrus.WithError(err).WithField("hook", what).Warn("this kernel cannot pin the hook's link: it will not outlive the agent")
		return nil
	}
	if err != nil {
		return fmt.Errorf("pinning the link of %s (it would not outlive the agent): %w", what, err)
	}
	return nil
}

// unlink undoes link: a link closed after it leaves the kernel.
func (p *pins) unlink(l link.Link) {
	if p.dir != "" {
		_ = l.Unpin()
	}
}

func (p *pins) mapOf(m *ebpf.Map, name string) error {
	if p.dir == "" {
		return nil
	}
	return m.Pin(filepath.Join(p.dir, "maps", name))
}

// remove unpins the whole generation: its links leave the kernel.
func (p *pins) remove() error {
	if p.dir == "" {
		return nil
	}
	return os.RemoveAll(p.dir)
}

// Previous is what earlier agent runs left pinned: their programs still
// enforce until Release.
type Previous struct {
	gens []string
	// their ring buffers and loss counters, open until Release
	events, counters []*ebpf.Map
	// stats are the earlier runs' hook counts, by generation and hook id
	stats map[string]map[uint32]HookStat
}

// Stats sums the counts of hook ids of generation gen.
func (p *Previous) Stats(gen string, ids []uint32) HookStat {
	var sum HookStat
	for _, id := range ids {
		st := p.stats[gen][id]
		sum.Hits += st.Hits
		sum.Actions += st.Actions
	}
	return sum
}

// openPrevious reads the generations under root, oldest first, but this
// run's own (skip).
func openPrevious(root, skip string) (*Previous, error) {
	prev := &Previous{stats: map[string]map[uint32]HookStat{}}
	if root == "" {
		return prev, nil
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return prev, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		if !strings.HasPrefix(e.Name(), genPrefix) || dir == skip {
			continue
		}
		prev.gens = append(prev.gens, dir)
		prev.read(dir)
	}
	sort.Strings(prev.gens)
	return prev, nil
}

// read opens a generation's pinned maps and reads its hook counts; a map
// it lacks (a run killed while it started) says nothing.
func (p *Previous) read(dir string) {
	maps := filepath.Join(dir, "maps")
	if m, err := ebpf.LoadPinnedMap(filepath.Join(maps, pinCounters), nil); err == nil {
		p.counters = append(p.counters, m)
	}
	if m, err := ebpf.LoadPinnedMap(filepath.Join(maps, pinEvents), nil); err == nil {
		p.events = append(p.events, m)
	}
	if m, err := ebpf.LoadPinnedMap(filepath.Join(maps, pinHookStats), nil); err == nil {
		p.stats[filepath.Base(dir)] = readStats(m)
		m.Close()
	}
}

// lost is what the earlier runs' programs could not hand over: records
// left unread in their ring buffers and records their full ring buffers
// dropped.
func (p *Previous) lost() uint64 {
	var n uint64
	for _, m := range p.counters {
		var perCPU []uint64
		if m.Lookup(uint32(counterRingbufFull), &perCPU) == nil {
			for _, v := range perCPU {
				n += v
			}
		}
	}
	for _, m := range p.events {
		n += unread(m)
	}
	return n
}

// unread counts the records waiting in ring buffer m.
func unread(m *ebpf.Map) uint64 {
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		logrus.WithError(err).Warn("reading a previous run's ring buffer")
		return 0
	}
	defer rd.Close()
	var n uint64
	var rec ringbuf.Record
	for rd.AvailableBytes() > 0 {
		rd.SetDeadline(time.Now())
		if rd.ReadInto(&rec) != nil {
			break
		}
		n++
	}
	return n
}

func readStats(m *ebpf.Map) map[uint32]HookStat {
	out := map[uint32]HookStat{}
	var id uint32
	var perCPU []HookStat
	it := m.Iterate()
	for it.Next(&id, &perCPU) {
		var sum HookStat
		for _, st := range perCPU {
			sum.Hits += st.Hits
			sum.Actions += st.Actions
		}
		if sum != (HookStat{}) {
			out[id] = sum
		}
	}
	return out
}

// Release unpins the earlier generations: their programs leave the
// kernel. Call it once this run enforces what they did. It returns the
// records the earlier runs could not hand over (see lost).
func (p *Previous) Release() (uint64, error) {
	var errs []error
	for _, g := range p.gens {
		errs = append(errs, os.RemoveAll(g))
	}
	n := p.lost()
	for _, m := range append(p.events, p.counters...) {
		m.Close()
	}
	p.gens, p.events, p.counters = nil, nil, nil
	return n, errors.Join(errs...)
}

// Unpin removes every generation under root: every program an agent left
// pinned leaves the kernel. For `vigil unpin`.
func Unpin(root string) (int, error) {
	prev, err := openPrevious(root, "")
	if err != nil {
		return 0, err
	}
	n := len(prev.gens)
	_, err = prev.Release()
	return n, err
}
