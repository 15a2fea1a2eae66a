package tracing

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// CondObjIdentity in Cond.V1 of a CondEq or CondPrefix condition on a file
// argument: the file also matches by identity, for CondPrefix through any
// of its ancestors (COND_OBJ_IDENTITY in generic.h).
const CondObjIdentity = 1

// ObjName is a path that a condition on a file argument names: the object
// found there matches the condition's string set SetID by its identity
// too, so that another path to it (a bind mount, a hardlink, a chroot,
// another mount namespace) does as well.
type ObjName struct {
	SetID uint32
	Path  string
}

// ObjKey is a key of the identity sets (struct obj_key).
type ObjKey struct {
	SetID uint32
	Dev   uint32
	Ino   uint64
}

// objEntry is a named object as last found: key is valid when found.
type objEntry struct {
	name  ObjName
	key   ObjKey
	mount uint64 // the mount id it was found on
	found bool
}

// maxMountinfo bounds the mount table read to find a superblock.
const maxMountinfo = 16 << 20

// objFinder looks objects up by path: the host's mount table is read at
// most once per finder, and only for an object not seen before.
type objFinder struct {
	root   string            // where paths are looked up (Config.HostRoot)
	rootFd int               // root, opened O_PATH for the finder's lookups
	mounts map[uint64]string // mount id: its superblock's "major:minor"
	err    error
}

// find is the kernel's identity of the object at path (absolute, looked up
// from the host's root, symlinks followed): its superblock's dev_t and its
// inode number. It fails where the file system's stat device is not its
// superblock's (btrfs subvolumes), whose inode numbers are not unique
// within the superblock, and on an overlay, whose inode numbers are its
// layers'. prev is the entry's last finding.
func (f *objFinder) find(n ObjName, prev objEntry) (objEntry, error) {
	// a stat, not an open: a policy on opens of the file must not see the
	// agent (an absolute symlink resolves in the agent's root)
	var st unix.Statx_t
	if err := unix.Statx(f.rootFd, "./"+strings.TrimPrefix(n.Path, "/"), 0, unix.STATX_INO|unix.STATX_MNT_ID, &st); err != nil {
		return prev, err
	}
	e := objEntry{name: n, found: true, mount: st.Mnt_id,
		key: ObjKey{SetID: n.SetID, Dev: st.Dev_major<<20 | st.Dev_minor, Ino: st.Ino}}
	if prev.found && prev.key == e.key && prev.mount == e.mount || st.Mask&unix.STATX_MNT_ID == 0 {
		return e, nil
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(f.root, n.Path), &fs); err != nil {
		return prev, err
	}
	if fs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return prev, fmt.Errorf("%s: on an overlay, whose inode numbers are its layers' (a path to it there still matches)", n.Path)
	}
	sb, err := f.superblock(st.Mnt_id)
	if err != nil {
		return prev, err
	}
	if sb != fmt.Sprintf("%d:%d", st.Dev_major, st.Dev_minor) {
		return prev, fmt.Errorf("%s: its file system reports device %d:%d, its superblock is %s: inode numbers are not unique there",
			n.Path, st.Dev_major, st.Dev_minor, sb)
	}
	return e, nil
}

// superblock is the "major:minor" of the superblock of mount id in the
// host's mount table.
func (f *objFinder) superblock(id uint64) (string, error) {
	if f.mounts == nil && f.err == nil {
		f.mounts, f.err = readMounts(mountTable(f.root))
	}
	if f.err != nil {
		return "", f.err
	}
	sb, ok := f.mounts[id]
	if !ok {
		return "", fmt.Errorf("mount %d is not in the host's mount table", id)
	}
	return sb, nil
}

// mountTable is the mount table of the namespace root is in: a process's
// root (/proc/N/root) is in that process's, any other in the agent's.
func mountTable(root string) string {
	if strings.HasPrefix(root, "/proc/") && strings.HasSuffix(root, "/root") {
		return filepath.Join(filepath.Dir(root), "mountinfo")
	}
	return "/proc/self/mountinfo"
}

// readMounts reads a mount table: mount id to superblock.
func readMounts(table string) (map[uint64]string, error) {
	f, err := os.Open(table)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts := map[uint64]string{}
	sc := bufio.NewScanner(io.LimitReader(f, maxMountinfo))
	sc.Buffer(nil, 64<<10)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(fields[0], 10, 64); err == nil {
			mounts[id] = fields[2]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	return mounts, nil
}

// findObjects looks up what names name now, in root; a name not found keeps its
// last identity (prev, by index), so an object renamed away still matches.
// The errors are those of objects that exist but cannot be matched.
func findObjects(root string, names []ObjName, prev []objEntry) ([]objEntry, error) {
	if len(names) == 0 {
		return nil, nil
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return prev, fmt.Errorf("opening the host's root %s: %w", root, err)
	}
	defer unix.Close(fd)
	f := objFinder{root: root, rootFd: fd}
	var errs []error
	out := make([]objEntry, len(names))
	for i, n := range names {
		var last objEntry
		if i < len(prev) {
			last = prev[i]
		}
		var err error
		out[i], err = f.find(n, last)
		out[i].name = n
		if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// keySet is the identity keys of entries.
func keySet(entries []objEntry) map[ObjKey]bool {
	set := map[ObjKey]bool{}
	for _, e := range entries {
		if e.found {
			set[e.key] = true
		}
	}
	return set
}

// writeIdentities puts what in's names name now in the identity sets and
// takes out what they no longer name: new keys go in before old ones
// leave. It returns how many keys changed, and the objects that cannot be
// matched by identity.
func (h *Hooks) writeIdentities(in *Installed) (changed int, unmatched, err error) {
	root := h.sensor.cfg.HostRoot
	if root == "" {
		root = "/"
	}
	next, unmatched := findObjects(root, in.prog.Objs, in.objs)
	old, cur := keySet(in.objs), keySet(next)
	one := uint8(1)
	for k := range cur {
		if !old[k] {
			if err := h.objs.ObjIds.Update(&k, one, ebpf.UpdateAny); err != nil {
				return changed, unmatched, fmt.Errorf("identity set entry: %w", err)
			}
			changed++
		}
	}
	for k := range old {
		if !cur[k] {
			if err := h.objs.ObjIds.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return changed, unmatched, fmt.Errorf("identity set entry: %w", err)
			}
			changed++
		}
	}
	in.objs = next
	return changed, unmatched, nil
}

// deleteIdentities takes in's keys out of the identity sets.
func (h *Hooks) deleteIdentities(in *Installed) {
	for k := range keySet(in.objs) {
		_ = h.objs.ObjIds.Delete(&k)
	}
	in.objs = nil
}

// RefreshIdentities looks up again the paths the installed policies name:
// an object that replaced another at its path (a new inode) takes its
// place in the set; a path gone keeps its last identity. It returns how
// many identity keys changed, the named objects that exist but cannot be
// matched by identity, and what failed to be written.
func (h *Hooks) RefreshIdentities() (changed int, unmatched, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var un, errs []error
	for _, in := range h.policies {
		n, u, err := h.writeIdentities(in)
		changed += n
		un, errs = append(un, u), append(errs, err)
	}
	return changed, errors.Join(un...), errors.Join(errs...)
}
