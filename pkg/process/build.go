package process

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unique"

	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// build turns an exec or snapshot record into a process object. The
// strings many processes share (binary, cwd, cgroup) are interned, and the
// parent's exec_id is its own where the cache has it.
func (c *Cache) build(r *tracing.Exec, parent *entry) *event.Process {
	k := &r.Process
	p := &event.Process{
		ExecID:    c.ExecID(k.Ident),
		Pid:       k.Ident.Pid,
		UID:       k.Uid,
		Cwd:       intern(r.Cwd),
		Binary:    intern(r.Binary),
		Arguments: formatArgs(r.Args),
		Flags:     flagString(k.Flags, r.Cwd),
		StartTime: event.FormatTime(tracing.WallTime(k.Ident.Ktime)),
		Auid:      k.Auid,
		Tid:       k.Tid,
		Cgroup:    &event.Cgroup{ID: k.CgroupID, Name: intern(r.Cgroup)},
		NsPid:     k.Nspid,
	}
	switch {
	case parent != nil:
		p.ParentExecID = parent.proc.ExecID
	case k.Parent.Pid != 0:
		p.ParentExecID = c.ExecID(k.Parent)
	}
	if c.opts.Credentials {
		p.Cap = &event.Capabilities{
			Permitted:   event.CapabilityList(k.CapPermitted),
			Effective:   event.CapabilityList(k.CapEffective),
			Inheritable: event.CapabilityList(k.CapInheritable),
		}
		p.Credentials = &event.Credentials{
			UID: k.Uid, GID: k.Gid, EUID: k.Euid, EGID: k.Egid,
			SUID: k.Suid, SGID: k.Sgid, FSUID: k.Fsuid, FSGID: k.Fsgid,
		}
	}
	if c.opts.Namespaces {
		p.Ns = c.namespaces(&k.Ns)
	}
	return p
}

// intern returns the one copy of s that every process shares.
func intern(s string) string { return unique.Make(s).Value() }

// flagNames are Tetragon's process flag words, in the order it prints them.
var flagNames = []struct {
	bit  uint32
	name string
}{
	{tracing.FlagExecve, "execve"},
	{tracing.FlagProcFS, "procFS"},
	{tracing.FlagClone, "clone"},
	{tracing.FlagTruncBinary, "truncFilename"},
	{tracing.FlagTruncArgs, "truncArgs"},
	{tracing.FlagErrorArgs, "errorArgs"},
	{tracing.FlagTruncCwd, "truncCwd"},
	{tracing.FlagNoCwd, "nocwd"},
}

func flagString(flags uint32, cwd string) string {
	var words []string
	for _, f := range flagNames {
		if flags&f.bit != 0 {
			words = append(words, f.name)
		}
	}
	if cwd == "/" {
		words = append(words, "rootcwd")
	}
	return strings.Join(words, " ")
}

func (c *Cache) namespaces(ns *[tracing.NsMax]uint32) *event.Namespaces {
	n := func(i int) *event.Namespace {
		if ns[i] == 0 {
			return nil
		}
		return &event.Namespace{Inum: ns[i], IsHost: ns[i] == c.hostNs[i]}
	}
	return &event.Namespaces{
		Uts: n(tracing.NsUts), Ipc: n(tracing.NsIpc), Mnt: n(tracing.NsMnt),
		Pid: n(tracing.NsPid), PidForChildren: n(tracing.NsPidForChildren),
		Net: n(tracing.NsNet), Time: n(tracing.NsTime),
		TimeForChildren: n(tracing.NsTimeForChildren),
		Cgroup:          n(tracing.NsCgroup), User: n(tracing.NsUser),
	}
}

// hostNamespaces reads init's namespaces from /proc/1/ns; slots it cannot
// read stay 0, and no namespace is then marked as the host's.
func hostNamespaces() [tracing.NsMax]uint32 {
	names := [tracing.NsMax]string{
		tracing.NsUts: "uts", tracing.NsIpc: "ipc", tracing.NsMnt: "mnt",
		tracing.NsPid: "pid", tracing.NsPidForChildren: "pid_for_children",
		tracing.NsNet: "net", tracing.NsTime: "time",
		tracing.NsTimeForChildren: "time_for_children",
		tracing.NsCgroup:          "cgroup", tracing.NsUser: "user",
	}
	var out [tracing.NsMax]uint32
	for i, name := range names {
		var st unix.Stat_t
		if unix.Stat("/proc/1/ns/"+name, &st) == nil {
			out[i] = uint32(st.Ino)
		}
	}
	return out
}

// readCmdline reads a running process's argv from /proc; nil when gone.
func readCmdline(pid uint32) []string {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(string(bytes.TrimSuffix(b, []byte{0})), "\x00")
}

func signalName(sig uint32) string {
	if sig == 0 {
		return ""
	}
	if name := unix.SignalName(syscall.Signal(sig)); name != "" {
		return name
	}
	return "SIG" + strconv.FormatUint(uint64(sig), 10)
}

// privileges are the exec's privilege raises that Tetragon names.
var privileges = []struct {
	bit  uint32
	name string
}{
	{tracing.ExecFileCaps, event.PrivilegesFileCap},
	{tracing.ExecSetuidRoot, event.PrivilegesSetuid},
	{tracing.ExecSetgidRoot, event.PrivilegesSetgid},
}

// binaryProperties is what Tetragon's process_exec tells of its binary:
// the ids that set-user-ID and set-group-ID bits gave, the privileges
// raised, and the inode of a binary that is deleted or only in memory;
// nil when none of these stands out.
func binaryProperties(k *tracing.Process) *event.BinaryProperties {
	b := &event.BinaryProperties{}
	if k.ExecPriv&tracing.ExecSetuid != 0 {
		b.Setuid = &k.Euid
	}
	if k.ExecPriv&tracing.ExecSetgid != 0 {
		b.Setgid = &k.Egid
	}
	for _, p := range privileges {
		if k.ExecPriv&p.bit != 0 {
			b.PrivilegesChanged = append(b.PrivilegesChanged, p.name)
		}
	}
	if k.Ino != 0 && k.Nlink == 0 {
		b.File = &event.FileProperties{Inode: &event.InodeProperties{Number: k.Ino, Links: &k.Nlink}}
	}
	if b.Setuid == nil && b.Setgid == nil && b.PrivilegesChanged == nil && b.File == nil {
		return nil
	}
	return b
}
