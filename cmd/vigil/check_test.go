package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
)

// `vigil policy check` as the README shows it: per policy, whether it
// loads on this kernel and through which backend, or the YAML path of
// what stops it and the kernel feature it lacks; exit status 0 only when
// every policy loads.
func TestClaimPolicyCheck(t *testing.T) {
	bin := build(t)
	kernel := probe.Run()
	dir := t.TempDir()
	write := func(name, doc string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	check := func(args ...string) (string, int) {
		out, err := exec.Command(bin, append([]string{"policy", "check"}, args...)...).CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		}
		t.Fatalf("vigil policy check %v: %v", args, err)
		return "", 0
	}
	// row is the table line of file's first policy
	row := func(out, file string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, file+" ") {
				return l
			}
		}
		return ""
	}
	// the first of BPF LSM, kprobe, fentry and the open syscalls' exit the
	// kernel has
	openBackend := "open_syscalls_exit"
	switch {
	case kernel.Has(probe.LSM):
		openBackend = "lsm"
	case kernel.Has(probe.Kprobe):
		openBackend = "kprobe"
	case kernel.Has(probe.Fentry):
		openBackend = "fentry"
	}

	valid, err := filepath.Abs("../../examples/policies/kill-shadow-read.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, code := check(valid)
	if r := strings.Fields(row(out, valid)); code != 0 || len(r) != 6 || r[1] != "kill-shadow-read" || r[2] != "true" ||
		r[3] != "file_open" || r[4] != "via" || r[5] != openBackend {
		t.Errorf("valid policy: exit %d, output:\n%s\nwant exit 0 and kill-shadow-read loading via %s", code, out, openBackend)
	}

	for _, c := range []struct {
		name, doc string
		lacks     []probe.Feature // all missing: refused
		loads     bool            // when the kernel has one of lacks
		want      []string        // in the output when refused
	}{
		{"override-syscall", `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: override-syscall
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["/etc/shadow"]}]
      matchActions: [{action: Override, argError: -1}]
`, []probe.Feature{probe.FmodRetSyscall, probe.OverrideReturn}, true,
			[]string{"spec.kprobes[0].selectors[0].matchActions: Override needs", "kernel lacks fmod_ret.syscall", "kernel lacks bpf_override_return"}},
		{"kernel-function", `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: kernel-function
spec:
  kprobes:
  - call: tcp_connect
    syscall: false
    args: [{index: 0, type: sock}]
`, []probe.Feature{probe.Kprobe, probe.Fentry}, true,
			[]string{"spec.kprobes[0].call: kernel function hook tcp_connect", "kernel lacks kprobe", "kernel lacks fentry"}},
		{"lsm-override", `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: lsm-override
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: ["/etc/shadow"]}]
      matchActions: [{action: Override, argError: -1}]
`, []probe.Feature{probe.LSM, probe.Kprobe, probe.Fentry}, kernel.Has(probe.LSM) || kernel.Has(probe.FmodRet) || kernel.Has(probe.OverrideReturn),
			[]string{"spec.lsmhooks[0].selectors: Override on file_open needs BPF LSM", "can kill, not deny", "kernel lacks lsm"}},
	} {
		file := write(c.name+".yaml", c.doc)
		out, code := check(file)
		r := strings.Fields(row(out, file))
		refused := true
		for _, f := range c.lacks {
			refused = refused && !kernel.Has(f)
		}
		switch {
		case refused:
			if code == 0 || len(r) < 4 || r[1] != c.name || r[2] != "false" {
				t.Errorf("%s, on a kernel without %v: exit %d, output:\n%s\nwant a non-zero exit and the policy not loading", c.name, c.lacks, code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: output does not say %q:\n%s", c.name, w, out)
				}
			}
		case c.loads:
			if code != 0 || len(r) < 3 || r[2] != "true" {
				t.Errorf("%s, on a kernel with one of %v: exit %d, output:\n%s\nwant it to load", c.name, c.lacks, code, out)
			}
		}
	}

	// a call the kernel lacks, skipped by ignore.callNotFound: loads, says so
	skips := write("skips.yaml", `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: skips}
spec:
  kprobes:
  - {call: vigil_no_such_function, syscall: false, ignore: {callNotFound: true}}
  - {call: sys_openat}
`)
	out, code = check(skips)
	if code != 0 || !strings.Contains(out, "skipped spec.kprobes[0].call: vigil_no_such_function is not in this kernel (ignore.callNotFound)") {
		t.Errorf("ignore.callNotFound: exit %d, output:\n%s\nwant it to load and name the skipped call", code, out)
	}

	invalid := write("invalid.yaml", `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: invalid
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefx, values: ["/etc/"]}]
`)
	out, code = check(invalid)
	if code == 0 || !strings.HasPrefix(row(out, invalid), invalid+" ") {
		t.Errorf("invalid policy: exit %d, output:\n%s\nwant a non-zero exit and a row for %s", code, out, invalid)
	}
	for _, w := range []string{invalid + ":11: spec.kprobes[0].selectors[0].matchArgs[0].operator", `unknown operator "Prefx"`, `did you mean "Prefix"?`} {
		if !strings.Contains(out, w) {
			t.Errorf("invalid policy: output does not say %q:\n%s", w, out)
		}
	}

	// several files: each judged, and one that does not load fails the run
	cmd := exec.Command(bin, "policy", "check", "-o", "json", valid, invalid)
	stdout, err := cmd.Output()
	var results []struct {
		File     string   `json:"file"`
		Policy   string   `json:"policy"`
		Loads    bool     `json:"loads"`
		Hooks    []string `json:"hooks"`
		Problems []string `json:"problems"`
	}
	if jerr := json.Unmarshal(stdout, &results); err == nil || jerr != nil || len(results) != 2 ||
		!results[0].Loads || results[0].File != valid || len(results[0].Hooks) != 1 ||
		results[1].Loads || results[1].File != invalid || len(results[1].Problems) != 1 ||
		!strings.Contains(results[1].Problems[0], "spec.kprobes[0].selectors[0].matchArgs[0].operator") {
		t.Errorf("check -o json of a valid and an invalid file: %v (json %v), output:\n%s\nwant a non-zero exit, the first loading, the second refused with its YAML path", err, jerr, stdout)
	}
}
