package simulate

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// stepEnv names the step a process started by Env.Step runs.
const stepEnv = "VIGIL_SIMULATE_STEP"

// The exit codes of a step that does not exist, and of one that failed.
const (
	noStep     = 120
	stepFailed = 121
)

// Main runs the step this process was started for, and exits; it returns
// at once in any other process. Call it first thing in main.
func Main() {
	name := os.Getenv(stepEnv)
	if name == "" {
		return
	}
	step, ok := steps[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "simulate: no step %q\n", name)
		os.Exit(noStep)
	}
	if err := step(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "simulate: step %s: %v\n", name, err)
		os.Exit(stepFailed)
	}
	os.Exit(0)
}

// steps are what a reproduction's own processes do. An error is a failed
// reproduction; a call the kernel refuses is not (the policies see calls
// at their entry).
var steps = map[string]func(args []string) error{
	"exit": func([]string) error { return nil },
	// a TCP socket made standard input
	"dup-socket": func([]string) error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		return unix.Dup2(fd, 0)
	},
	"memfd-exec": func([]string) error {
		fd, err := unix.MemfdCreate("vigil-simulate", 0)
		if err != nil {
			return err
		}
		src, err := smallProgram()
		if err != nil {
			return err
		}
		defer src.Close()
		if _, err := io.Copy(os.NewFile(uintptr(fd), "memfd"), src); err != nil {
			return err
		}
		return syscall.Exec("/proc/self/fd/"+strconv.Itoa(fd), []string{"true"}, nil)
	},
	"open-read": func(args []string) error { return openClose(args[0], os.O_RDONLY) },
	// opened for writing, not written: the file is unchanged (absent
	// files are not made: the call is seen at its entry)
	"open-write": func(args []string) error { return openClose(args[0], os.O_WRONLY|os.O_APPEND) },
	"setuid-0": func([]string) error {
		_, _, _ = syscall.RawSyscall(syscall.SYS_SETUID, 0, 0, 0)
		return nil
	},
	"unshare-user": func([]string) error {
		_ = unix.Unshare(unix.CLONE_NEWUSER)
		return nil
	},
	// a module from /dev/null: the kernel refuses it
	"finit-module": func([]string) error {
		f, err := os.Open("/dev/null")
		if err != nil {
			return err
		}
		defer f.Close()
		_ = unix.FinitModule(int(f.Fd()), "", 0)
		return nil
	},
	// BPF_PROG_LOAD of nothing: the kernel refuses it
	"bpf-prog-load": func([]string) error {
		var attr [128]byte
		_, _, _ = unix.Syscall(unix.SYS_BPF, unix.BPF_PROG_LOAD, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
		return nil
	},
	"ptrace-child": ptraceChild,
	// a mount of an empty tmpfs on a folder of the run, in a mount
	// namespace of its own, made private first so nothing propagates
	"mount-tmpfs": func(args []string) error {
		if err := privateMounts(); err != nil {
			return err
		}
		return unix.Mount("vigil-simulate", args[0], "tmpfs", 0, "size=1m")
	},
	"setns-self": func([]string) error {
		f, err := os.Open("/proc/self/ns/uts")
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Setns(int(f.Fd()), unix.CLONE_NEWUTS)
	},
	"connect-unix": func(args []string) error {
		if c, err := net.Dial("unix", args[0]); err == nil {
			c.Close()
		}
		return nil
	},
	"connect-tcp": func(args []string) error {
		if c, err := net.Dial("tcp", args[0]); err == nil {
			c.Close()
		}
		return nil
	},
	// args: folder, then a file under it, its content, and the program
	// that reads it (a path, or "" for this process): a tmpfs on the
	// folder, in a private mount namespace, holds the file
	"read-mounted": func(args []string) error {
		if err := privateMounts(); err != nil {
			return err
		}
		if err := unix.Mount("vigil-simulate", args[0], "tmpfs", 0, "size=1m"); err != nil {
			return err
		}
		file := filepath.Join(args[0], args[1])
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, []byte(args[2]), 0o600); err != nil {
			return err
		}
		if args[3] == "" {
			return openClose(file, os.O_RDONLY)
		}
		return exec.Command(args[3], file).Run()
	},
	// a child that runs a shell: the shell's parent is this program
	"run-shell": func([]string) error { return exec.Command("/bin/sh", "-c", "exit 0").Run() },
	"exec":      func(args []string) error { return syscall.Exec(args[0], args, os.Environ()) },
	// a child running args: its parent is this program
	"spawn":       func(args []string) error { return exec.Command(args[0], args[1:]...).Run() },
	"capset-exec": capsetExec,
}

func openClose(path string, flag int) error {
	f, err := os.OpenFile(path, flag, 0)
	if err == nil {
		f.Close()
	}
	return nil
}

// privateMounts makes every mount of this process's (new) mount namespace
// private, so that what it mounts stays in it.
func privateMounts() error {
	return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
}

// ptraceChild attaches to a sleeping child of its own, then detaches and
// ends it.
func ptraceChild([]string) error {
	runtime.LockOSThread()
	child := exec.Command("/bin/sleep", "10")
	if err := child.Start(); err != nil {
		return err
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	pid := child.Process.Pid
	if err := unix.PtraceAttach(pid); err != nil {
		return nil // refused (Yama): the call was still made
	}
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, unix.WALL, nil)
	return unix.PtraceDetach(pid)
}

// capsetExec raises CAP_SYS_ADMIN from its permitted set into its
// effective one (its file capabilities gave it permitted only), then runs
// a program.
func capsetExec(args []string) error {
	runtime.LockOSThread()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	if data[0].Permitted&(1<<unix.CAP_SYS_ADMIN) == 0 {
		return fmt.Errorf("no CAP_SYS_ADMIN in the permitted set (file capabilities not applied?)")
	}
	data[0].Effective |= 1 << unix.CAP_SYS_ADMIN
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return err
	}
	return syscall.Exec(args[0], args, nil)
}

// smallProgram opens a small program that exits 0 (/bin/true), or else
// this one.
func smallProgram() (*os.File, error) {
	if f, err := os.Open("/bin/true"); err == nil {
		return f, nil
	}
	return os.Open("/proc/self/exe")
}
