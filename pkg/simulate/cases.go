package simulate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Cases are the reproductions, one per library policy, in the library's
// order of topics. Each is harmless: what it opens for writing it does
// not write, what it asks of the kernel the kernel refuses or undoes
// nothing, and what it makes is in its own folder or namespace.
var Cases = []Case{
	{"reverse-shell-stdio", "a TCP socket made standard input", step("dup-socket")},
	{"shell-connect", "bash connects to 127.0.0.1:9 through /dev/tcp", shellConnect},
	{"exec-from-tmp", "a copy of /bin/true run from a folder under /tmp", execCopy("")},
	{"exec-from-dev-shm", "a copy of /bin/true run from /dev/shm", execCopy("/dev/shm")},
	{"exec-memfd", "/bin/true run from a memfd", step("memfd-exec")},
	{"download-to-tmp", "curl writes file:///etc/hostname to a file under /tmp", download},
	{"chmod-exec-tmp", "a file under /tmp made executable", chmodExec},
	{"read-shadow", "/etc/shadow opened for reading", step("open-read", "/etc/shadow")},
	{"read-ssh-keys", "a made-up ~/.ssh/id_ed25519 read", madeUpThen(".ssh/id_ed25519", "open-read")},
	{"read-cloud-credentials", "a made-up ~/.aws/credentials read", madeUpThen(".aws/credentials", "open-read")},
	{"read-serviceaccount-token", "cat reads a made-up token under /run/secrets (a tmpfs in a mount namespace of its own)",
		readMounted("/run", "secrets/kubernetes.io/serviceaccount/token", "/bin/cat")},
	{"read-kube-credentials", "a made-up /etc/kubernetes/admin.conf read (a tmpfs in a mount namespace of its own)",
		readMounted("/etc", "kubernetes/admin.conf", "")},
	{"write-sudoers", "/etc/sudoers opened for appending, not written", step("open-write", "/etc/sudoers")},
	{"write-cron", "/etc/crontab opened for appending, not written", step("open-write", "/etc/crontab")},
	{"write-systemd-units", "an absent unit under /etc/systemd/system opened for writing (not made)",
		step("open-write", "/etc/systemd/system/vigil-simulate.service")},
	{"write-ld-preload", "/etc/ld.so.preload opened for appending, not written (not made when absent)",
		step("open-write", "/etc/ld.so.preload")},
	{"write-authorized-keys", "a made-up ~/.ssh/authorized_keys written", madeUpThen(".ssh/authorized_keys", "open-write")},
	{"setuid-root", "nobody asks for uid 0 (refused)", asNobody("setuid-0")},
	{"unprivileged-userns", "nobody makes a user namespace", asNobody("unshare-user")},
	{"capability-gain-exec", "nobody raises CAP_SYS_ADMIN from file capabilities, then runs /bin/true", capabilityGain},
	{"container-mount", "a tmpfs mounted in new mount and PID namespaces", containerMount},
	{"setns", "a process joins its own UTS namespace", step("setns-self")},
	{"container-runtime-socket", "a process in new namespaces connects to /run/containerd/containerd.sock",
		inContainer("connect-unix", "/run/containerd/containerd.sock")},
	{"container-sysfs-write", "a process in new namespaces opens /proc/sys/kernel/core_pattern for writing, not written",
		inContainer("open-write", "/proc/sys/kernel/core_pattern")},
	{"kernel-module-load", "finit_module of /dev/null (refused)", step("finit-module")},
	{"bpf-program-load", "an empty BPF_PROG_LOAD (refused), from a program of another name", renamed("bpf-loader", "bpf-prog-load")},
	{"ptrace-attach", "a process attaches to its own sleeping child and detaches", step("ptrace-child")},
	{"kernel-memory-access", "/proc/kcore opened for reading (absent here or not)", step("open-read", "/proc/kcore")},
	{"proc-mem-write", "a process opens its own /proc/self/mem for writing, not written", step("open-write", "/proc/self/mem")},
	{"miner-pool-connect", "a connection to 127.0.0.1:3333", step("connect-tcp", "127.0.0.1:3333")},
	{"miner-exec", "a program named xmrig run", renamed("xmrig", "exit")},
	{"network-scanner", "a program named nmap run", renamed("nmap", "exit")},
	{"log-tampering", "a file of its own under /var/log deleted", logTampering},
	{"history-tampering", "a made-up ~/.bash_history deleted", historyTampering},
	{"package-manager-in-container", "a program named apt-get run in new namespaces", containerRenamed("apt-get", "exit")},
	{"shell-in-container", "a program named runc starts /bin/sh in new namespaces", containerRenamed("runc", "run-shell")},
}

// step runs a step in a process of its own.
func step(name string, args ...string) func(*Env) error {
	return func(e *Env) error { return e.Run(e.Step(name, args...)) }
}

// renamed runs a step from a copy of this program named name.
func renamed(name, stepName string, args ...string) func(*Env) error {
	return func(e *Env) error {
		prog, err := e.SelfAs(name, false)
		if err != nil {
			return err
		}
		return e.Run(e.StepAs(prog, stepName, args...))
	}
}

// containerLike puts cmd in new mount, PID, UTS and IPC namespaces, as a
// container runtime does.
func containerLike(cmd *exec.Cmd) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC}
	return cmd
}

func inContainer(stepName string, args ...string) func(*Env) error {
	return func(e *Env) error { return e.Run(containerLike(e.Step(stepName, args...))) }
}

func containerRenamed(name, stepName string) func(*Env) error {
	return func(e *Env) error {
		prog, err := e.SelfAs(name, false)
		if err != nil {
			return err
		}
		return e.Run(containerLike(e.StepAs(prog, stepName)))
	}
}

// asNobody runs a step as uid and gid 65534, without capabilities, from a
// copy of this program in the run's folder (its own may be in a folder
// nobody can enter).
func asNobody(stepName string) func(*Env) error {
	return func(e *Env) error {
		prog, err := e.SelfAs("step", false)
		if err != nil {
			return err
		}
		cmd := e.StepAs(prog, stepName)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		return e.Run(cmd)
	}
}

func shellConnect(e *Env) error {
	bash, err := exec.LookPath("bash")
	if err != nil {
		return fmt.Errorf("needs bash (its /dev/tcp): %w", err)
	}
	return e.Run(exec.Command(bash, "-c", "echo > /dev/tcp/127.0.0.1/9 || true"))
}

// execCopy runs a copy of /bin/true from dir (the run's folder if "").
func execCopy(dir string) func(*Env) error {
	return func(e *Env) error {
		if dir == "" {
			dir = e.Dir
		}
		prog := filepath.Join(dir, fmt.Sprintf("vigil-simulate-%d", os.Getpid()))
		src, err := smallProgram()
		if err != nil {
			return err
		}
		src.Close()
		if err := copyFile(src.Name(), prog); err != nil {
			return err
		}
		defer os.Remove(prog)
		// started by a copy of this program in the run's folder (the
		// library leaves out what go test's programs start)
		launcher, err := e.SelfAs("launcher", false)
		if err != nil {
			return err
		}
		return e.Run(e.StepAs(launcher, "spawn", prog))
	}
}

func download(e *Env) error {
	curl, err := exec.LookPath("curl")
	if err != nil {
		return fmt.Errorf("needs curl: %w", err)
	}
	return e.Run(exec.Command(curl, "-s", "-o", filepath.Join(e.Dir, "download"), "file:///etc/hostname"))
}

func chmodExec(e *Env) error {
	file := filepath.Join(e.Dir, "payload")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		return err
	}
	return e.Run(e.Step("exec", "/bin/chmod", "0755", file))
}

// madeUp writes a made-up file at rel under the run's folder (a home of
// its own) and returns its path.
func madeUp(e *Env, rel string) (string, error) {
	file := filepath.Join(e.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return "", err
	}
	return file, os.WriteFile(file, []byte("made up by vigil simulate\n"), 0o600)
}

// madeUpThen makes a made-up file at rel, then runs stepName on it.
func madeUpThen(rel, stepName string) func(*Env) error {
	return func(e *Env) error {
		file, err := madeUp(e, rel)
		if err != nil {
			return err
		}
		return e.Run(e.Step(stepName, file))
	}
}

// readMounted reads a made-up file at dir/rel, on a tmpfs over dir in a
// mount namespace of its own, with reader ("" for the step itself, from a
// copy of this program named reader: agents' own names are left out).
func readMounted(dir, rel, reader string) func(*Env) error {
	return func(e *Env) error {
		prog, err := e.SelfAs("reader", false)
		if err != nil {
			return err
		}
		cmd := e.StepAs(prog, "read-mounted", dir, rel, "made up by vigil simulate\n", reader)
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS}
		return e.Run(cmd)
	}
}

func containerMount(e *Env) error {
	target := filepath.Join(e.Dir, "mnt")
	if err := os.Mkdir(target, 0o755); err != nil {
		return err
	}
	return e.Run(containerLike(e.Step("mount-tmpfs", target)))
}

func logTampering(e *Env) error {
	file := fmt.Sprintf("/var/log/vigil-simulate-%d.log", os.Getpid())
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		return err
	}
	defer os.Remove(file) // when the step failed
	return e.Run(e.Step("exec", "/bin/rm", "-f", file))
}

func historyTampering(e *Env) error {
	file, err := madeUp(e, ".bash_history")
	if err != nil {
		return err
	}
	return e.Run(e.Step("exec", "/bin/rm", "-f", file))
}

// capabilityGain: a copy of this program with CAP_SYS_ADMIN in its file
// capabilities' permitted set only, run by nobody, raises it into its
// effective set and runs /bin/true.
func capabilityGain(e *Env) error {
	prog, err := e.SelfAs("capgain", true)
	if err != nil {
		return err
	}
	// struct vfs_cap_data, revision 2, no effective bit: permitted only
	caps := make([]byte, 20)
	putLE32(caps[0:], 0x02000000)
	putLE32(caps[4:], 1<<unix.CAP_SYS_ADMIN)
	if err := unix.Setxattr(prog, "security.capability", caps, 0); err != nil {
		return fmt.Errorf("file capabilities on %s: %w", prog, err)
	}
	cmd := e.StepAs(prog, "capset-exec", "/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	return e.Run(cmd)
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
