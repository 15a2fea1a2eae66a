package export

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// FileOptions configure a rotated export file.
type FileOptions struct {
	Path       string
	MaxSizeMB  int  // rotate when the file reaches this size
	MaxBackups int  // rotated files kept (0: all)
	Compress   bool // gzip rotated files
	// AllowShared accepts an existing file that another user owns, or
	// that group or others may open, or that has other hard links
	// (refused by default: see openFile).
	AllowShared bool
}

// rotFile is the export file, rotated by size. Every file it opens is
// opened without following a symbolic link and checked (openFile); the
// files it creates are 0600, owned by the agent. A write is all or
// nothing: a short write is cut back off.
//
// Why not lumberjack (used before): it follows symbolic links when it
// opens, rotates and chowns, and gives new files the mode and owner of the
// file it rotates, so a link or a file planted in a writable directory
// redirects events or keeps them readable.
type rotFile struct {
	o    FileOptions
	max  int64
	f    *os.File
	size int64
	torn bool // a short write could not be cut off: end its line first

	mill     chan struct{} // wakes the compressing and pruning goroutine
	millDone chan struct{}
	millOnce sync.Once
}

func newRotFile(o FileOptions) (*rotFile, error) {
	if o.MaxSizeMB < 0 || o.MaxBackups < 0 {
		return nil, fmt.Errorf("export file: max size (%d MB) and backups (%d) must not be negative", o.MaxSizeMB, o.MaxBackups)
	}
	r := &rotFile{o: o, max: int64(o.MaxSizeMB) << 20, mill: make(chan struct{}, 1), millDone: make(chan struct{})}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// openFile opens path for appending, creating it 0600. It refuses a
// symbolic link (O_NOFOLLOW), anything but a regular file (opened
// non-blocking, so that a FIFO does not hang the agent), and unless
// shared is set, a file that another user owns, that group or others may
// open, or that has other hard links.
func openFile(path string, shared bool) (*os.File, int64, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW|
		unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, 0, fmt.Errorf("export file %s: is a symbolic link: refused", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("export file %s: %w", path, err)
	}
	var st unix.Stat_t
	if err = unix.Fstat(fd, &st); err == nil {
		err = checkFile(&st, shared)
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err != nil {
		unix.Close(fd)
		return nil, 0, fmt.Errorf("export file %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), st.Size, nil
}

func checkFile(st *unix.Stat_t, shared bool) error {
	const hint = " (--export-file-allow-shared accepts it)"
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("not a regular file (mode %#o): refused", st.Mode)
	case shared:
		return nil
	case st.Uid != uint32(os.Geteuid()):
		return fmt.Errorf("owned by uid %d, not the agent's uid %d: refused"+hint, st.Uid, os.Geteuid())
	case st.Mode&0o077 != 0:
		return fmt.Errorf("mode %04o lets group or others open it: refused"+hint, st.Mode&0o7777)
	case st.Nlink > 1:
		return fmt.Errorf("has %d hard links: refused"+hint, st.Nlink)
	}
	return nil
}

func (r *rotFile) open() error {
	f, size, err := openFile(r.o.Path, r.o.AllowShared)
	if err != nil {
		return err
	}
	r.f, r.size = f, size
	return nil
}

// Write appends p whole, or not at all where the file can be cut back:
// opening the file again first if it is closed, rotating it first if p
// would take it past its size.
func (r *rotFile) Write(p []byte) error {
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.max > 0 && r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	if r.torn {
		p = append([]byte{'\n'}, p...)
	}
	n, err := r.f.Write(p)
	if err == nil {
		r.size += int64(n)
		r.torn = false
		return nil
	}
	if n > 0 {
		if terr := r.f.Truncate(r.size); terr != nil {
			r.size += int64(n)
			r.torn = true
		}
	}
	return err
}

// rotate renames the file to a backup and opens a new one.
func (r *rotFile) rotate() error {
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("export file: %w", err)
	}
	if err := os.Rename(r.o.Path, r.backupName(time.Now())); err != nil {
		return fmt.Errorf("export file: rotate: %w", err)
	}
	r.millOnce.Do(func() { go r.runMill() })
	select {
	case r.mill <- struct{}{}:
	default:
	}
	r.torn = false
	return r.open()
}

// backupName is PATH without its extension, the time, and the extension:
// events-2026-12-06T01-02-03.456.log, as lumberjack named them.
func (r *rotFile) backupName(t time.Time) string {
	ext := filepath.Ext(r.o.Path)
	name := fmt.Sprintf("%s-%s%s", strings.TrimSuffix(r.o.Path, ext), t.UTC().Format("2006-01-02T15-04-05.000"), ext)
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = fmt.Sprintf("%s-%s.%d%s", strings.TrimSuffix(r.o.Path, ext), t.UTC().Format("2006-01-02T15-04-05.000"), i, ext)
	}
}

// runMill compresses and prunes backups after each rotation, away from
// the event path, until Close.
func (r *rotFile) runMill() {
	defer close(r.millDone)
	for range r.mill {
		backups, err := r.backups()
		if err == nil && r.o.Compress {
			backups, err = compressAll(backups)
		}
		if err == nil {
			err = prune(backups, r.o.MaxBackups)
		}
		if err != nil {
			logf("export file backups: %v", err)
		}
	}
}

// backups lists the rotated files, oldest first.
func (r *rotFile) backups() ([]string, error) {
	ext := filepath.Ext(r.o.Path)
	names, err := filepath.Glob(globEscape(strings.TrimSuffix(r.o.Path, ext)) + "-????-??-??T??-??-??.???*" + globEscape(ext) + "*")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, nil
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

func compressAll(names []string) ([]string, error) {
	out := names[:0]
	for _, n := range names {
		if strings.HasSuffix(n, ".gz") {
			out = append(out, n)
			continue
		}
		if err := compress(n); err != nil {
			return nil, err
		}
		out = append(out, n+".gz")
	}
	return out, nil
}

// compress gzips name into name.gz (created 0600, never through a link)
// and removes name.
func compress(name string) (err error) {
	in, err := os.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(name+".gz", os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(name + ".gz")
		}
	}()
	gz := gzip.NewWriter(out)
	if _, err = io.Copy(gz, in); err != nil {
		return err
	}
	if err = gz.Close(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	return os.Remove(name)
}

// prune removes all but the keep newest backups (none when keep is 0).
func prune(names []string, keep int) error {
	if keep == 0 || len(names) <= keep {
		return nil
	}
	var errs []error
	for _, n := range names[:len(names)-keep] {
		errs = append(errs, os.Remove(n))
	}
	return errors.Join(errs...)
}

// Close closes the file and waits for the backups' compression.
func (r *rotFile) Close() error {
	close(r.mill)
	r.millOnce.Do(func() { close(r.millDone) })
	<-r.millDone
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}
