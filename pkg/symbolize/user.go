package symbolize

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Bounds of the user-space caches: about 6 MiB of mappings and 12 MiB of
// symbols at most.
const (
	maxProcs    = 512     // processes whose memory map is kept
	maxMapsKept = 1 << 16 // their executable mappings, all together (~100 bytes each)
	maxFiles    = 64      // files whose symbols are kept
	maxSymbols  = 1 << 18 // their symbols, all together (~45 bytes each)
)

// Anonymous is the Module of a user address in memory that maps no file
// (code generated at run time).
const Anonymous = "[anon]"

// ErrExited is the error for a process that exited before its memory
// map was read, and was not seen before: its frames are Unknown.
var ErrExited = errors.New("exited before its memory map was read")

// Proc names one process image: its pid, and the time of its exec as the
// kernel's records give it (another exec is another image).
type Proc struct {
	Pid  uint32
	Exec uint64
}

// rereadAfter is how old a kept memory map must be before an address
// outside it makes User read it again: an address that no mapping holds
// is common (the kernel's walk of code without frame pointers), a library
// loaded since is rare.
const rereadAfter = time.Second

// User names the user-space addresses of processes: each by the file the
// process mapped there, the offset in it, and the ELF symbol at that
// offset. It keeps the memory maps of the last processes it saw (read
// again, at most once a second, when an address falls outside: a library
// loaded since), and the symbols of the files they mapped, by device and
// inode. Not safe for concurrent use.
type User struct {
	proc  string // where the proc file system is mounted
	maps  *lru[Proc, *procEntry]
	files *lru[fileKey, *elfSyms]
}

// procEntry is a process's memory map, kept.
type procEntry struct {
	maps procMaps
	read time.Time
}

// NewUser returns a User that reads /proc.
func NewUser() *User {
	return &User{proc: "/proc", maps: newLRU[Proc, *procEntry](maxProcs, maxMapsKept),
		files: newLRU[fileKey, *elfSyms](maxFiles, maxSymbols)}
}

// Frames names the addresses of a user stack of process p, innermost
// first. When the process's memory map cannot be read (it exited before
// its event was read, and was not seen before), every frame's Module is
// Unknown and the error says why.
func (u *User) Frames(p Proc, addrs []uint64) ([]Frame, error) {
	e, err := u.mapsOf(p)
	out := make([]Frame, 0, len(addrs))
	for _, a := range addrs {
		m := e.maps.find(a)
		if m == nil && err == nil && time.Since(e.read) >= rereadAfter {
			u.maps.remove(p) // mapped since the map was read?
			if fresh, ferr := u.mapsOf(p); ferr == nil {
				e, m = fresh, fresh.maps.find(a)
			} else {
				u.maps.put(p, e, len(e.maps)) // keep what it was
			}
		}
		out = append(out, u.frame(p.Pid, m, a))
	}
	return out, err
}

// Forget drops what User keeps of a process that exited.
func (u *User) Forget(p Proc) { u.maps.remove(p) }

// mapsOf is p's executable mappings, kept or read now.
func (u *User) mapsOf(p Proc) (*procEntry, error) {
	if e, ok := u.maps.get(p); ok {
		return e, nil
	}
	pm, err := readMaps(filepath.Join(u.proc, fmt.Sprint(p.Pid), "maps"))
	if err != nil {
		return &procEntry{}, fmt.Errorf("process %d: %w", p.Pid, err)
	}
	e := &procEntry{maps: pm, read: time.Now()}
	u.maps.put(p, e, len(pm))
	return e, nil
}

// readMaps reads the executable mappings of a maps file; ErrExited when
// the process is gone.
func readMaps(path string) (procMaps, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrExited
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pm, err := parseMaps(f)
	switch {
	case err != nil:
		return nil, fmt.Errorf("memory map: %w", err)
	case len(pm) == 0: // what an exiting process's maps reads
		return nil, ErrExited
	}
	return pm, nil
}

// frame names address a of process pid, which mapping m holds.
func (u *User) frame(pid uint32, m *mapping, a uint64) Frame {
	switch {
	case m == nil:
		return Frame{Address: a, Module: Unknown}
	case m.path == "":
		return Frame{Address: a, Offset: a - m.start, Module: Anonymous}
	}
	off := a - m.start + m.offset
	return Frame{Address: a, Offset: off, Module: m.path, Symbol: u.symbol(pid, m, off)}
}

// symbol is the function at offset off of m's file, "" if unknown.
func (u *User) symbol(pid uint32, m *mapping, off uint64) string {
	if m.inode == 0 {
		return "" // [vdso] and the like
	}
	syms, ok := u.files.get(m.key())
	if !ok {
		syms = u.load(pid, m)
		u.files.put(m.key(), syms, syms.len()+1)
	}
	return syms.lookup(off)
}

// load reads the symbols of m's file, through the process (which sees it
// in its own mount namespace): its mapped file, or its root and the path.
// A file that cannot be read has no symbols.
func (u *User) load(pid uint32, m *mapping) *elfSyms {
	dir := filepath.Join(u.proc, fmt.Sprint(pid))
	f, err := os.Open(filepath.Join(dir, "map_files", fmt.Sprintf("%x-%x", m.start, m.end)))
	if err != nil {
		if f, err = os.Open(filepath.Join(dir, "root", m.path)); err != nil || !sameInode(f, m.inode) {
			if f != nil {
				f.Close()
			}
			return &elfSyms{}
		}
	}
	defer f.Close()
	syms, err := loadELF(f, maxSymbols)
	if err != nil {
		return &elfSyms{}
	}
	return syms
}

// sameInode says whether f is inode ino: the file found by path is the
// one mapped.
func sameInode(f *os.File, ino uint64) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Ino == ino
}
