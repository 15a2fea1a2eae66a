package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Probing attaches and detaches test programs, and each first attach and
// last detach of a hook live-patches kernel text (static keys, ftrace call
// sites). A Cache lets every Vigil process of one boot share a single probe:
// the agent, `vigil policy check` and `vigil probe` read the report that the
// first of them stored, and only `vigil probe --fresh` probes again.

// DefaultCacheDir holds the cache: /run is a tmpfs that a reboot empties.
const DefaultCacheDir = "/run/vigil"

// Cache file names in the cache directory.
const (
	cacheFile = "probe.json"
	lockFile  = "probe.lock"
)

// cacheFormat changes whenever a check changes what it reports, so that a
// cache written by an older build of the same version is not trusted.
const cacheFormat = 1

// Bounds: a cache file is a few kB; a probe takes a few seconds at most
// (about 10 s under QEMU TCG), so a lock held for longer is a stuck holder.
const (
	maxCacheBytes = 1 << 20
	lockWait      = 60 * time.Second
	lockPoll      = 50 * time.Millisecond
)

// Cache stores one Report per boot, kernel release and Vigil build in a
// root-only directory.
type Cache struct {
	// Dir is the cache directory, created 0700; DefaultCacheDir if empty.
	Dir string
	// BootIDFile names the file holding this boot's id;
	// /proc/sys/kernel/random/boot_id if empty.
	BootIDFile string
	// Version identifies the Vigil build; BuildVersion() if empty.
	Version string
}

// CacheInfo says where a Report came from and what went wrong with the
// cache. The Report is right either way: without a usable cache it is
// probed afresh.
type CacheInfo struct {
	// Hit is true when the report was read from the cache, false when it
	// was probed.
	Hit bool
	// Ignored says why an existing cache file was not used (corrupt, from
	// another boot, kernel or build, wrong owner or mode); it was rewritten
	// unless Err says otherwise.
	Ignored error
	// Err says why the cache could not be used at all, or why the probed
	// report was not stored.
	Err error
}

// cacheKey is what a cached report must match.
type cacheKey struct {
	BootID  string `json:"boot_id"`
	Kernel  string `json:"kernel"`
	Version string `json:"version"`
	Format  int    `json:"format"`
}

type cacheEntry struct {
	Key    cacheKey `json:"key"`
	Report Report   `json:"report"`
}

// BuildVersion identifies the running Vigil build: the module version and,
// where the build recorded them, the VCS revision and whether the tree was
// modified.
func BuildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			v += "+" + s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			v += "+dirty"
		}
	}
	return v
}

// Cached returns this boot's report from the cache, probing and storing it
// when the cache has none for this boot, kernel and build.
func Cached() (Report, CacheInfo) {
	return Cache{}.Report(false)
}

// Report returns the cached report, or probes and stores a new one when
// fresh is set or the cache has no valid report. Concurrent callers
// serialize on a lock file, so that only the first one probes.
func (c Cache) Report(fresh bool) (Report, CacheInfo) {
	key, err := c.key()
	if err != nil {
		return Run(), CacheInfo{Err: err}
	}
	dir := c.dir()
	unlock, err := lockDir(dir)
	if err != nil {
		return Run(), CacheInfo{Err: err}
	}
	defer unlock()
	var info CacheInfo
	if !fresh {
		r, err := readCache(filepath.Join(dir, cacheFile), key)
		if err == nil {
			return r, CacheInfo{Hit: true}
		}
		if !errors.Is(err, os.ErrNotExist) {
			info.Ignored = err
		}
	}
	r := Run()
	if err := storable(); err != nil {
		info.Err = err
	} else {
		info.Err = writeCache(dir, cacheEntry{Key: key, Report: r})
	}
	return r, info
}

func (c Cache) dir() string {
	if c.Dir != "" {
		return c.Dir
	}
	return DefaultCacheDir
}

func (c Cache) key() (cacheKey, error) {
	file := c.BootIDFile
	if file == "" {
		file = "/proc/sys/kernel/random/boot_id"
	}
	b, err := readBounded(file, 64)
	if err != nil {
		return cacheKey{}, fmt.Errorf("probe cache: boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return cacheKey{}, fmt.Errorf("probe cache: boot id: %s is empty", file)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return cacheKey{}, fmt.Errorf("probe cache: uname: %w", err)
	}
	v := c.Version
	if v == "" {
		v = BuildVersion()
	}
	return cacheKey{BootID: id, Kernel: unix.ByteSliceToString(u.Release[:]), Version: v, Format: cacheFormat}, nil
}

// storable refuses to store a report probed without the privileges that
// every other prober has: its failures would be this process's, not the
// kernel's.
func storable() error {
	var caps [2]unix.CapUserData
	if err := unix.Capget(&unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}, &caps[0]); err != nil {
		return fmt.Errorf("probe cache: not stored: capget: %w", err)
	}
	if caps[0].Effective&(1<<unix.CAP_SYS_ADMIN) == 0 {
		return errors.New("probe cache: not stored: probed without CAP_SYS_ADMIN")
	}
	return nil
}

// lockDir creates dir (root-only), checks that nobody else can write to
// it, and takes its lock file, waiting up to lockWait for another prober.
func lockDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("probe cache: %w", err)
	}
	if err := private(dir, true); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, lockFile)
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("probe cache: open %s: %w", name, err)
	}
	for deadline := time.Now().Add(lockWait); ; time.Sleep(lockPoll) {
		err = unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			unix.Close(fd)
			return nil, fmt.Errorf("probe cache: lock %s: %w (waited up to %v)", name, err, lockWait)
		}
	}
}

// private checks that name is a directory (or a regular file) owned by
// this user that nobody else can write to (files: nor read).
func private(name string, isDir bool) error {
	fi, err := os.Lstat(name)
	if err != nil {
		return fmt.Errorf("probe cache: %w", err)
	}
	return privateInfo(name, fi, isDir)
}

func privateInfo(name string, fi os.FileInfo, isDir bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !ok:
		return fmt.Errorf("probe cache: %s: no owner information", name)
	case isDir && !fi.IsDir(), !isDir && !fi.Mode().IsRegular():
		return fmt.Errorf("probe cache: %s is a %v, not a %s", name, fi.Mode().Type(), map[bool]string{true: "directory", false: "regular file"}[isDir])
	case int(st.Uid) != os.Geteuid():
		return fmt.Errorf("probe cache: %s is owned by uid %d, not %d", name, st.Uid, os.Geteuid())
	case isDir && fi.Mode().Perm()&0o022 != 0, !isDir && fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("probe cache: %s has mode %v: others may change it", name, fi.Mode().Perm())
	}
	return nil
}

// readCache returns the cached report if the file is private, well formed
// and matches key.
func readCache(name string, key cacheKey) (Report, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return Report{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Report{}, fmt.Errorf("probe cache: %w", err)
	}
	if err := privateInfo(name, fi, false); err != nil {
		return Report{}, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCacheBytes+1))
	if err != nil {
		return Report{}, fmt.Errorf("probe cache: read %s: %w", name, err)
	}
	e, err := decodeCache(b)
	if err != nil {
		return Report{}, fmt.Errorf("probe cache: %s: %w", name, err)
	}
	if e.Key != key {
		return Report{}, fmt.Errorf("probe cache: %s is for %+v, not %+v", name, e.Key, key)
	}
	return e.Report, nil
}

// decodeCache parses a cache file and checks that its report has one result
// per feature, in report order, each available or explained.
func decodeCache(b []byte) (cacheEntry, error) {
	var e cacheEntry
	if len(b) > maxCacheBytes {
		return e, fmt.Errorf("larger than %d bytes", maxCacheBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("corrupt: %w", err)
	}
	if dec.More() {
		return e, errors.New("corrupt: data after the JSON object")
	}
	got := make([]Feature, len(e.Report.Features))
	for i, res := range e.Report.Features {
		got[i] = res.Feature
		if !res.Available && res.Reason == "" {
			return e, fmt.Errorf("corrupt: features[%d] (%s) is unavailable without a reason", i, res.Feature)
		}
	}
	if !slices.Equal(got, Features()) {
		return e, fmt.Errorf("corrupt: features %v, want %v", got, Features())
	}
	return e, nil
}

// writeCache replaces the cache file atomically with a 0600 file.
func writeCache(dir string, e cacheEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("probe cache: %w", err)
	}
	tmp, err := os.CreateTemp(dir, cacheFile+".*")
	if err != nil {
		return fmt.Errorf("probe cache: %w", err)
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, cacheFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("probe cache: %w", err)
	}
	return nil
}

// readBounded reads at most max bytes of a small file.
func readBounded(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
