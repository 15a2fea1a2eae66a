package agent

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Return hooks on a kernel function: the file from the entry and the
// return value, through kretprobe (kprobes) and fexit (fentries).
func TestReturnHooksOnKernelFunctions(t *testing.T) {
	for _, tc := range []struct{ section, backend string }{
		{"kprobes", tracing.AttachKretprobe},
		{"fentries", tracing.AttachFexit},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			requires(t, map[string]probe.Feature{tracing.AttachKretprobe: probe.Kretprobe, tracing.AttachFexit: probe.Fexit}[tc.backend])
			dir, secret, _ := secretFiles(t)
			name := "file-open-return-" + tc.backend
			load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: %s
spec:
  %s:
  - call: security_file_open
    syscall: false
    return: true
    args:
    - {index: 0, type: file}
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [%q]}
      matchReturnArgs:
      - {index: 0, operator: Equal, values: ["0"]}
`, name, tc.section, dir))
			cat := exec.Command("/bin/cat", secret)
			if err := cat.Run(); err != nil {
				t.Fatal(err)
			}
			// some kernels check one open twice: every event must be right
			evs := shared.sink.find(t, 1, 10*time.Second, kprobeOf(cat.Process.Pid, name))
			if len(evs) == 0 {
				t.Fatal("no return event")
			}
			for _, ev := range evs {
				k := ev.ProcessKprobe
				if k.Backend != tc.backend || k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg != 0 ||
					k.Args[0].FileArg == nil || k.Args[0].FileArg.Path != secret {
					t.Errorf("event = %+v return %+v args %+v", k, k.Return, k.Args)
				}
			}
		})
	}
}

// Override of a security_ function: the open fails with the configured
// error, through fmod_ret or bpf_override_return, whichever this kernel has.
// (A syscall's wrapper can be overridden only where the kernel lists it for
// error injection; elsewhere loading says it is not modifiable.)
func TestOverrideReturnsTheError(t *testing.T) {
	if !kernel().Has(probe.FmodRet) && !kernel().Has(probe.OverrideReturn) {
		t.Skipf("needs fmod_ret or bpf_override_return: %v; %v", kernel().Missing(probe.FmodRet), kernel().Missing(probe.OverrideReturn))
	}
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: override-file-open
spec:
  kprobes:
  - call: security_file_open
    syscall: false
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [%q]}
      matchActions:
      - {action: Override, argError: -13}
`, dir+"/secret"))
	cat := exec.Command("/bin/cat", secret)
	out, err := cat.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("cat of the secret: %v %s, want EACCES", err, out)
	}
	evs := shared.sink.find(t, 1, 10*time.Second, kprobeOf(cat.Process.Pid, "override-file-open"))
	if len(evs) == 0 {
		t.Fatal("no override event")
	}
	if k := evs[0].ProcessKprobe; k.Action != event.ActionOverride || (k.Backend != tracing.AttachFmodRet && k.Backend != tracing.AttachKprobeOverride) {
		t.Errorf("event action %s backend %s", k.Action, k.Backend)
	}
	if err := exec.Command("/bin/cat", other).Run(); err != nil {
		t.Errorf("cat of another file: %v", err)
	}
}

// TestOverrideOnAReturnHook: a return hook's Override runs at the entry
// (fmod_ret or a kprobe with bpf_override_return): the open fails with the
// error, and the return program reports it as the return value, as the
// corpus's CVE-2023-2640 policy needs.
func TestOverrideOnAReturnHook(t *testing.T) {
	if !(kernel().Has(probe.FmodRet) && kernel().Has(probe.Fexit)) && !(kernel().Has(probe.OverrideReturn) && kernel().Has(probe.Kretprobe)) {
		t.Skipf("needs fmod_ret and fexit, or bpf_override_return and kretprobe: %v; %v", kernel().Missing(probe.FmodRet), kernel().Missing(probe.OverrideReturn))
	}
	dir, secret, other := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: override-at-return}
spec:
  kprobes:
  - call: security_file_open
    syscall: false
    return: true
    args: [{index: 0, type: file}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: [%q]}]
      matchActions: [{action: Override, argError: -13}]
`, dir+"/secret"))
	cat := exec.Command("/bin/cat", secret)
	out, err := cat.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("cat of the secret: %v %s, want EACCES", err, out)
	}
	k := shared.sink.one(t, "the overridden open", kprobeOf(cat.Process.Pid, "override-at-return")).ProcessKprobe
	if k.Action != event.ActionOverride || k.Return == nil || k.Return.IntArg == nil || *k.Return.IntArg != -13 {
		t.Errorf("event action %s, return %+v: want Override and -13", k.Action, k.Return)
	}
	if err := exec.Command("/bin/cat", other).Run(); err != nil {
		t.Errorf("cat of another file: %v", err)
	}
}

// cred and capability arguments: setuid(65534) as root passes a
// CAP_SETUID check, then commits the new credentials.
func TestCredAndCapabilityArgs(t *testing.T) {
	if !kernel().Has(probe.Kprobe) && !kernel().Has(probe.Fentry) {
		t.Skipf("needs kprobe or fentry: %v; %v", kernel().Missing(probe.Kprobe), kernel().Missing(probe.Fentry))
	}
	self := resolvedPath(os.Args[0])
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: creds
spec:
  kprobes:
  - call: commit_creds
    syscall: false
    args:
    - {index: 0, type: cred}
    selectors:
    - matchBinaries:
      - {operator: In, values: [%[1]q]}
  - call: cap_capable
    syscall: false
    args:
    - {index: 2, type: capability}
    selectors:
    - matchArgs:
      - {index: 2, operator: Equal, values: ["7"]}
      matchBinaries:
      - {operator: In, values: [%[1]q]}
`, self))
	cmd := setuidHelper(65534)
	if err := cmd.Run(); err != nil {
		t.Fatalf("setuid helper: %v", err)
	}
	of := kprobeOf(cmd.Process.Pid, "creds")
	creds := shared.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
		c := ev.ProcessKprobe
		return of(ev) && c.FunctionName == "commit_creds" && c.Args[0].ProcessCredentialsArg != nil &&
			c.Args[0].ProcessCredentialsArg.UID == 65534
	})
	if len(creds) == 0 {
		t.Error("no commit_creds event with uid 65534")
	} else if c := creds[0].ProcessKprobe.Args[0].ProcessCredentialsArg; c.EUID != 65534 || c.GID != 0 || c.Caps == nil {
		t.Errorf("commit_creds arg = %+v", c)
	}
	caps := shared.sink.find(t, 1, 10*time.Second, func(ev *event.Event) bool {
		return of(ev) && ev.ProcessKprobe.FunctionName == "cap_capable"
	})
	if len(caps) == 0 {
		t.Fatal("no cap_capable event")
	}
	if ca := caps[0].ProcessKprobe.Args[0].CapabilityArg; ca == nil || ca.Value != 7 || ca.Name != "CAP_SETUID" {
		t.Errorf("cap_capable arg = %+v", ca)
	}
}

// returnCopy: the buffer read(2) filled, as many bytes as it returned,
// not the size asked for.
func TestReturnCopyReadsTheFilledBuffer(t *testing.T) {
	_, secret, _ := secretFiles(t)
	load(t, fmt.Sprintf(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: read-copy
spec:
  kprobes:
  - call: sys_read
    syscall: true
    args:
    - {index: 0, type: fd}
    - {index: 1, type: char_buf, returnCopy: true, sizeArgIndex: 3}
    - {index: 2, type: size_t}
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [%q]}
`, secret))
	cat := exec.Command("/bin/cat", secret)
	if err := cat.Run(); err != nil {
		t.Fatal(err)
	}
	evs := shared.sink.find(t, 2, 5*time.Second, kprobeOf(cat.Process.Pid, "read-copy"))
	if len(evs) != 2 { // the read of the data, then the read at the end of the file
		t.Fatalf("want 2 read events, got %d", len(evs))
	}
	k := evs[0].ProcessKprobe
	if string(k.Args[1].BytesArg) != "data\n" || *k.Args[2].SizeArg < 4096 {
		t.Errorf("first read: buffer %q, size asked %d; want the 5 bytes read of a larger request", k.Args[1].BytesArg, *k.Args[2].SizeArg)
	}
	if n := len(evs[1].ProcessKprobe.Args[1].BytesArg); n != 0 {
		t.Errorf("read at the end of the file: %d bytes, want 0", n)
	}
}
