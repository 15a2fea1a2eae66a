package probe

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

const (
	securityFS = "/sys/kernel/security"
	traceFS    = "/sys/kernel/tracing"
)

// readPseudoFS reads files of the pseudo file system fstype (securityfs,
// tracefs) at its canonical mount point dir. Where it is not mounted there
// (some hosts, containers), it mounts it in a mount namespace of its own, on
// a thread of its own, so that nothing changes for the rest of the system;
// mountedHere then is false. It returns what it could read and the first
// error.
func readPseudoFS(fstype, dir string, magic int64, names ...string) (files map[string]string, mountedHere bool, err error) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) == nil && int64(st.Type) == magic {
		files, err = readFiles(dir, names)
		return files, true, err
	}
	done := make(chan error)
	go offMainThread(func() {
		files, err = readPrivately(fstype, dir, names)
		done <- err
	})
	return files, false, <-done
}

// offMainThread runs f locked to a thread other than the main one, a
// thread that ends with f: Go never ends the main thread, whose namespaces
// and cwd are those /proc/self shows and the task iterator reports for the
// whole process. Where the caller's goroutine gets the main thread, it
// keeps it locked while f runs in a goroutine started then, which
// therefore runs on another thread.
func offMainThread(f func()) {
	runtime.LockOSThread()
	if unix.Gettid() != unix.Getpid() {
		f() // never unlocked: the thread ends with this goroutine
		return
	}
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		f()
		close(done)
	}()
	<-done
	runtime.UnlockOSThread()
}

// readPrivately mounts fstype at dir in a new mount namespace of the
// calling (locked) thread and reads the files.
func readPrivately(fstype, dir string, names []string) (map[string]string, error) {
	err := unix.Unshare(unix.CLONE_NEWNS)
	if err == nil {
		err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	}
	if err == nil {
		err = unix.Mount(fstype, dir, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if err != nil {
		return nil, fmt.Errorf("%s is not mounted at %s, and mounting it privately failed: %w", fstype, dir, err)
	}
	return readFiles(dir, names)
}

func readFiles(dir string, names []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%s: not present on this kernel", filepath.Join(dir, n))
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[n] = string(b)
	}
	return out, errors.Join(errs...)
}
