package agent

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/buildid"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/process"
)

// loadedMemory bounds the process and file pairs remembered as reported,
// and the build IDs remembered by file.
const loadedMemory = 4096

// mappedFiles turns the loader hook's records into process_loader
// events: one per process (exec) and file, as Tetragon sends, with the
// file's build ID. The program and its ELF interpreter, which execve maps
// and no mmap call of the process does, are reported with the first file
// the process maps itself. Files that are ELF without a build ID are not
// reported (Tetragon reports files with one only); a file the agent
// cannot read any more (its process and every peer in its mount
// namespace gone) is reported without.
type mappedFiles struct {
	seen fifoSet[string]
	ids  *fifoMap[fileID, elfInfo]
}

// fileID names a file's content: its device, inode and change time.
type fileID struct {
	dev, ino uint64
	ctime    unix.Timespec
}

// elfInfo is what a loader event needs of an ELF file.
type elfInfo struct {
	buildID []byte // nil: none
	interp  string
	path    string // where the file is, symbolic links resolved (not cached)
}

var (
	errNotELF = errors.New("not an ELF file")
	errNoRoot = errors.New("no root to read the file from")
)

func newMappedFiles() *mappedFiles {
	return &mappedFiles{seen: newFIFOSet[string](loadedMemory), ids: newFIFOMap[fileID, elfInfo](loadedMemory)}
}

// events are the process_loader events of a loader hook's record: none
// when the file was reported for the process already or has no build ID.
// cache names the processes whose root may show the files.
func (l *mappedFiles) events(ev *event.ProcessKprobe, cache *process.Cache) []*event.ProcessLoader {
	if ev.Process == nil || len(ev.Args) <= compile.LoaderPathArg || ev.Args[compile.LoaderPathArg].FileArg == nil {
		return nil
	}
	path := ev.Args[compile.LoaderPathArg].FileArg.Path
	if path == "" {
		return nil
	}
	r := l.reader(ev.Process, cache)
	var out []*event.ProcessLoader
	if l.seen.add(ev.Process.ExecID) && ev.Process.Binary != "" { // the first record of this process
		prog, err := r.info(ev.Process.Binary)
		out = l.add(out, ev.Process, ev.Process.Binary, prog, err)
		if prog.interp != "" {
			interp, err := r.info(prog.interp)
			out = l.add(out, ev.Process, prog.interp, interp, err)
		}
	}
	info, err := r.info(path)
	return l.add(out, ev.Process, path, info, err)
}

// add appends the event of file path unless the process had it, or the
// file is no ELF file with a build ID.
func (l *mappedFiles) add(out []*event.ProcessLoader, proc *event.Process, path string, info elfInfo, err error) []*event.ProcessLoader {
	if info.path != "" {
		path = info.path
	}
	if !l.seen.add(proc.ExecID+"\x00"+path) || errors.Is(err, errNotELF) || err == nil && info.buildID == nil {
		return out
	}
	return append(out, &event.ProcessLoader{Process: proc, Path: path, Buildid: info.buildID})
}

// fileReader reads files as one process sees them.
type fileReader struct {
	l     *mappedFiles
	mntNs uint32
	pids  []uint32
}

// reader reads files through the root of proc, or of a process in the
// same mount namespace while proc's is gone: its ancestors, the agent.
func (l *mappedFiles) reader(proc *event.Process, cache *process.Cache) fileReader {
	mntNs, pids := cache.MountPeers(proc.ExecID)
	if len(pids) == 0 {
		pids = []uint32{proc.Pid}
	}
	if mntNs != 0 {
		pids = append(pids, uint32(os.Getpid()))
	}
	return fileReader{l: l, mntNs: mntNs, pids: pids}
}

func (r fileReader) info(path string) (elfInfo, error) {
	err := errNoRoot
	for _, pid := range r.pids {
		var info elfInfo
		if info, err = r.l.read(pid, r.mntNs, path); !errors.Is(err, errNoRoot) {
			return info, err
		}
	}
	return elfInfo{}, err
}

// read reads path as process pid sees it, resolved inside its root (a
// container's file, not the agent's), never following magic links nor
// blocking on a FIFO. The process must be in mount namespace mntNs, where
// that is known; errNoRoot says it is not (or is gone).
func (l *mappedFiles) read(pid, mntNs uint32, path string) (elfInfo, error) {
	proc := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	if mntNs != 0 {
		var st unix.Stat_t
		if unix.Stat(proc+"/ns/mnt", &st) != nil || st.Ino != uint64(mntNs) {
			return elfInfo{}, errNoRoot
		}
	}
	root, err := unix.Open(proc+"/root", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return elfInfo{}, errNoRoot
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, path, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return elfInfo{}, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return elfInfo{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return elfInfo{}, errNotELF
	}
	key := fileID{dev: st.Dev, ino: st.Ino, ctime: st.Ctim}
	info, ok := l.ids.get(key)
	if !ok {
		id, err := buildid.Read(f)
		if err != nil && !errors.Is(err, buildid.ErrNone) {
			return elfInfo{}, errNotELF
		}
		info.buildID = id
		info.interp, _ = buildid.Interpreter(f)
		l.ids.put(key, info)
	}
	info.path = resolvedIn(root, fd, path)
	return info, nil
}

// resolvedIn is where the open file fd is inside the root directory
// open as root: path with its symbolic links resolved (the interpreter a
// program names is often a link), or path itself when the root cannot be
// told. Both are read through descriptors, which outlive their process.
func resolvedIn(root, fd int, path string) string {
	at, err1 := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	dir, err2 := os.Readlink("/proc/self/fd/" + strconv.Itoa(root))
	switch {
	case err1 != nil || err2 != nil:
		return path
	case dir == "/":
		return at
	case strings.HasPrefix(at, dir+"/"):
		return at[len(dir):]
	}
	return path
}

// fifoSet is a set that forgets its oldest members beyond a size.
type fifoSet[K comparable] struct{ m *fifoMap[K, struct{}] }

func newFIFOSet[K comparable](size int) fifoSet[K] {
	return fifoSet[K]{m: newFIFOMap[K, struct{}](size)}
}

// add adds k and says whether it was new.
func (s fifoSet[K]) add(k K) bool {
	if _, ok := s.m.m[k]; ok {
		return false
	}
	s.m.put(k, struct{}{})
	return true
}

// fifoMap is a map that forgets its oldest keys beyond a size.
type fifoMap[K comparable, V any] struct {
	m     map[K]V
	order []K // a ring of the keys, oldest at next once full
	next  int
}

func newFIFOMap[K comparable, V any](size int) *fifoMap[K, V] {
	return &fifoMap[K, V]{m: make(map[K]V, size), order: make([]K, 0, size)}
}

func (f *fifoMap[K, V]) get(k K) (V, bool) {
	v, ok := f.m[k]
	return v, ok
}

func (f *fifoMap[K, V]) put(k K, v V) {
	if _, ok := f.m[k]; !ok {
		if len(f.order) < cap(f.order) {
			f.order = append(f.order, k)
		} else {
			delete(f.m, f.order[f.next])
			f.order[f.next] = k
			f.next = (f.next + 1) % len(f.order)
		}
	}
	f.m[k] = v
}
