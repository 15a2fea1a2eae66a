// Package probe finds out which kernel features Vigil can use on the running
// kernel. It never trusts a version number: every answer comes from really
// loading a tiny BPF program, attaching it to a hook and, where the hook can
// be triggered from here, seeing it run. The agent logs the Report and picks
// a backend per policy hook from it; `vigil probe` prints it.
//
// Run needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) and takes well under a
// second on a usual kernel.
package probe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Feature names one kernel feature. The values are stable: they appear in
// logs, JSON output and test skip messages.
type Feature string

// The features Vigil uses, in the order Run reports them.
const (
	BTF           Feature = "btf"        // kernel BTF readable, BTF blobs load
	RingBuf       Feature = "ringbuf"    // BPF ring buffer map, written and read
	Tracepoint    Feature = "tracepoint" // perf-event tracepoint (raw_syscalls:sys_enter)
	RawTracepoint Feature = "raw_tp"     // raw tracepoint (sys_enter)
	TPBTF         Feature = "tp_btf"     // BTF-typed raw tracepoint (sys_enter)
	// SyscallTracepoint: a syscall's own tracepoint (syscalls/sys_enter_NAME)
	// runs a program that reads the task's saved registers.
	SyscallTracepoint Feature = "syscall_tracepoint"
	IA32              Feature = "ia32"                // the kernel runs ia32 code (32-bit processes, int 0x80)
	TaskIter          Feature = "iter/task"           // task iterator
	Kprobe            Feature = "kprobe"              // kprobe on a kernel function
	Kretprobe         Feature = "kretprobe"           // kretprobe on a kernel function
	KprobeMulti       Feature = "kprobe.multi"        // kprobe_multi link
	Fentry            Feature = "fentry"              // BPF trampoline at function entry
	Fexit             Feature = "fexit"               // BPF trampoline at function exit
	FmodRet           Feature = "fmod_ret"            // BPF trampoline that may change a return value
	FmodRetSyscall    Feature = "fmod_ret.syscall"    // fmod_ret on a syscall's function (on the error-injection list)
	LSM               Feature = "lsm"                 // BPF LSM program that runs (bpf in the active LSM list)
	SendSignal        Feature = "bpf_send_signal"     // signal the current task from a BPF program
	OverrideReturn    Feature = "bpf_override_return" // make a kernel function return early, from a kprobe
	Uprobe            Feature = "uprobe"              // uprobe on a user-space function
	UprobeMulti       Feature = "uprobe.multi"        // uprobe_multi link
	CgroupSockAddr    Feature = "cgroup_sock_addr"    // cgroup socket address hooks (cgroup/connect4)
	StrNStr           Feature = "bpf_strnstr"         // the substring kfunc (Linux 6.17)
	// IMAFileHash: a sleepable BPF LSM program hashes a file through IMA
	// (bpf_ima_file_hash, Linux 6.1), for imaHash.
	IMAFileHash Feature = "bpf_ima_file_hash"
	// ProbeWriteUser: programs may write a process's memory
	// (bpf_probe_write_user), for the Set action; lockdown forbids it.
	ProbeWriteUser Feature = "bpf_probe_write_user"
)

// Features lists every Feature in report order.
func Features() []Feature {
	out := make([]Feature, len(checks))
	for i, c := range checks {
		out[i] = c.feature
	}
	return out
}

// Result is the answer for one Feature.
type Result struct {
	Feature   Feature `json:"name"`
	Available bool    `json:"available"`
	// Reason says why the feature is unavailable: the step that failed and
	// the kernel's error. Empty when available.
	Reason string `json:"reason,omitempty"`
	// Note is a caveat about an available feature: something the
	// environment must provide for Vigil to use it.
	Note string `json:"note,omitempty"`
}

// Report is what Run found on the running kernel.
type Report struct {
	// Kernel is the kernel release (uname -r), for information only.
	Kernel string `json:"kernel"`
	// Lockdown is the kernel lockdown mode: none, integrity or
	// confidentiality; empty when it could not be read (see LockdownError).
	Lockdown      string `json:"lockdown"`
	LockdownError string `json:"lockdown_error,omitempty"`
	// LSMs is the active LSM list (/sys/kernel/security/lsm), nil when it
	// could not be read.
	LSMs     []string `json:"lsms"`
	Features []Result `json:"features"`
}

// Has reports whether feature f is available.
func (r Report) Has(f Feature) bool {
	res, ok := r.Result(f)
	return ok && res.Available
}

// Result returns the result for feature f; false when f was not probed.
func (r Report) Result(f Feature) (Result, bool) {
	for _, res := range r.Features {
		if res.Feature == f {
			return res, true
		}
	}
	return Result{}, false
}

// Missing returns nil when feature f is available, otherwise an error that
// names the feature and says why the kernel lacks it.
func (r Report) Missing(f Feature) error {
	res, ok := r.Result(f)
	switch {
	case !ok:
		return fmt.Errorf("kernel feature %s was not probed", f)
	case !res.Available:
		return fmt.Errorf("kernel lacks %s: %s", f, res.Reason)
	}
	return nil
}

// Available lists the available features, in report order.
func (r Report) Available() []Feature {
	var out []Feature
	for _, res := range r.Features {
		if res.Available {
			out = append(out, res.Feature)
		}
	}
	return out
}

// WriteTable writes the report as an aligned text table.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	lockdown := r.Lockdown
	if lockdown == "" {
		lockdown = "unknown (" + r.LockdownError + ")"
	}
	lsms := strings.Join(r.LSMs, ",")
	if r.LSMs == nil {
		lsms = "unknown"
	}
	fmt.Fprintf(tw, "kernel\t%s\nlockdown\t%s\nlsm\t%s\n\nFEATURE\tAVAILABLE\tREASON OR NOTE\n", r.Kernel, lockdown, lsms)
	for _, res := range r.Features {
		yes, why := "yes", res.Note
		if !res.Available {
			yes, why = "no", res.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", res.Feature, yes, oneLine(why))
	}
	return tw.Flush()
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Run probes every feature on the running kernel. It raises the memlock
// limit where the kernel still charges BPF memory to it (before 5.11).
func Run() Report {
	var r Report
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	sec, _, err := readPseudoFS("securityfs", securityFS, unix.SECURITYFS_MAGIC, "lsm", "lockdown")
	if lsm, ok := sec["lsm"]; ok {
		r.LSMs = strings.Split(strings.TrimSpace(lsm), ",")
	}
	if r.Lockdown = lockdownMode(sec["lockdown"]); r.Lockdown == "" {
		r.LockdownError = "cannot read /sys/kernel/security/lockdown"
		if err != nil {
			r.LockdownError = err.Error()
		}
	}
	memlockErr := rlimit.RemoveMemlock()
	defer holdSysEnter()()
	for _, c := range checks {
		p := &prober{lsms: r.LSMs, lockdown: r.Lockdown}
		res := Result{Feature: c.feature, Available: true}
		if err := c.run(p); err != nil {
			res.Available, res.Reason = false, err.Error()
			if errors.Is(err, unix.EPERM) {
				// The library's hint for EPERM: right only when memlock could not be raised.
				res.Reason = strings.Replace(res.Reason, " (MEMLOCK may be too low, consider rlimit.RemoveMemlock)", "", 1)
				if memlockErr != nil {
					res.Reason += " (raising RLIMIT_MEMLOCK failed: " + memlockErr.Error() + ")"
				}
			}
		}
		res.Note = p.note
		r.Features = append(r.Features, res)
	}
	return r
}

// lockdownMode picks the selected mode out of "none [integrity] confidentiality".
func lockdownMode(s string) string {
	if i := strings.IndexByte(s, '['); i >= 0 {
		if j := strings.IndexByte(s[i:], ']'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
