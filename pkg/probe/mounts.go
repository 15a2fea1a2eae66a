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
	go func() {
		// Never unlocked: the thread ends with this goroutine, and its
		// private mount namespace with it.
		runtime.LockOSThread()
		err := unix.Unshare(unix.CLONE_NEWNS)
		if err == nil {
			err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		}
		if err == nil {
			err = unix.Mount(fstype, dir, fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}
		if err != nil {
			done <- fmt.Errorf("%s is not mounted at %s, and mounting it privately failed: %w", fstype, dir, err)
			return
		}
		files, err = readFiles(dir, names)
		done <- err
	}()
	return files, false, <-done
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
