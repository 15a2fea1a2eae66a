package probe_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/probe/probetest"
)

// testKernel says which kernel the tests run on: "" on the build host (6.18
// hardened: kprobes compiled out, trampolines and LSM refused at load), or
// the Debian kernel that scripts/vmtest.sh booted. "other" (a developer's own
// kernel) checks everything except the known answers.
var testKernel = os.Getenv("VIGIL_TEST_KERNEL")

// known holds the answers measured on each kernel of the matrix.
var known = func() map[string]map[probe.Feature]bool {
	all := func(diff map[probe.Feature]bool) map[probe.Feature]bool {
		m := map[probe.Feature]bool{}
		for _, f := range probe.Features() {
			m[f] = true
		}
		for f, v := range diff {
			m[f] = v
		}
		return m
	}
	// Debian's kernels do not list syscall functions for error injection;
	// before 6.12 a program on a syscall's own tracepoint has no
	// bpf_task_pt_regs (5.10) or gets the user's registers (6.1)
	debian := map[probe.Feature]bool{probe.KprobeMulti: false, probe.UprobeMulti: false, probe.OverrideReturn: false,
		probe.FmodRetSyscall: false, probe.SyscallTracepoint: false, probe.StrNStr: false}
	without := func(m map[probe.Feature]bool, f probe.Feature) map[probe.Feature]bool {
		m = maps.Clone(m)
		m[f] = false
		return m
	}
	return map[string]map[probe.Feature]bool{
		"": all(map[probe.Feature]bool{
			probe.Kprobe: false, probe.Kretprobe: false, probe.KprobeMulti: false,
			probe.Fentry: false, probe.Fexit: false, probe.FmodRet: false, probe.FmodRetSyscall: false, probe.LSM: false,
			probe.OverrideReturn: false, probe.IMAFileHash: false, probe.ProbeWriteUser: false,
		}),
		// BPF LSM because scripts/vmrun.sh boots it with lsm=...,bpf; Linux
		// 6.1 added bpf_ima_file_hash
		"5.10": all(without(debian, probe.IMAFileHash)),
		"6.1":  all(debian),
		"6.12": all(map[probe.Feature]bool{probe.OverrideReturn: false, probe.FmodRetSyscall: false, probe.StrNStr: false}),
	}
}()

var knownLockdown = map[string]string{"": "integrity", "5.10": "none", "6.1": "none", "6.12": "none"}

func TestKnownAnswers(t *testing.T) {
	want, ok := known[testKernel]
	if !ok {
		if testKernel != "other" {
			t.Fatalf("VIGIL_TEST_KERNEL=%q: want 5.10, 6.1, 6.12, other, or unset on the build host", testKernel)
		}
		t.Logf("VIGIL_TEST_KERNEL=other: known answers not checked; available: %v", probetest.Report().Available())
		return
	}
	r := probetest.Report()
	for _, f := range probe.Features() {
		res, _ := r.Result(f)
		if res.Available != want[f] {
			t.Errorf("%s on kernel %q (%s): available=%v, want %v; reason: %s", f, testKernel, r.Kernel, res.Available, want[f], res.Reason)
		}
	}
	if got := r.Lockdown; got != knownLockdown[testKernel] {
		t.Errorf("lockdown = %q (%s), want %q", got, r.LockdownError, knownLockdown[testKernel])
	}
}

// The kernel that vmtest.sh says it booted is the one running.
func TestKernelIsTheOneNamed(t *testing.T) {
	if _, ok := known[testKernel]; !ok || testKernel == "" {
		return
	}
	if r := probetest.Report(); !strings.HasPrefix(r.Kernel, testKernel+".") {
		t.Fatalf("VIGIL_TEST_KERNEL=%s but the running kernel is %s", testKernel, r.Kernel)
	}
}

func TestReportIsComplete(t *testing.T) {
	r := probetest.Report()
	if r.Kernel == "" {
		t.Error("no kernel release")
	}
	if len(r.Features) != len(probe.Features()) {
		t.Fatalf("%d results for %d features", len(r.Features), len(probe.Features()))
	}
	for i, f := range probe.Features() {
		res := r.Features[i]
		switch {
		case res.Feature != f:
			t.Errorf("result %d is %s, want %s", i, res.Feature, f)
		case res.Available && res.Reason != "":
			t.Errorf("%s is available with a reason: %s", f, res.Reason)
		case !res.Available && res.Reason == "":
			t.Errorf("%s is unavailable without a reason", f)
		}
		if err := r.Missing(f); (err == nil) != res.Available || (err != nil && !strings.Contains(err.Error(), string(f))) {
			t.Errorf("Missing(%s) = %v with available=%v", f, err, res.Available)
		}
		if r.Has(f) != res.Available {
			t.Errorf("Has(%s) = %v, want %v", f, r.Has(f), res.Available)
		}
	}
	if r.Has("no-such-feature") || r.Missing("no-such-feature") == nil {
		t.Error("an unknown feature counts as available")
	}
	if r.Lockdown == "" && r.LockdownError == "" {
		t.Error("lockdown neither read nor explained")
	}
	if r.Has(probe.LSM) && r.LSMs != nil && !slices.Contains(r.LSMs, "bpf") {
		t.Errorf("BPF LSM available while bpf is not an active LSM: %v", r.LSMs)
	}
}

func TestOutputs(t *testing.T) {
	r := probetest.Report()
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back probe.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("JSON round trip changed the report:\n%s", js.String())
	}
	var tab bytes.Buffer
	if err := r.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	text := tab.String()
	rows := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			rows[f[0]] = f[1]
		}
	}
	for _, res := range r.Features {
		want := map[bool]string{true: "yes", false: "no"}[res.Available]
		if rows[string(res.Feature)] != want {
			t.Errorf("table row %s: %q, want %q\n%s", res.Feature, rows[string(res.Feature)], want, text)
		}
	}
	t.Logf("\n%s", text)
}

// Run leaves nothing behind: no child cgroup, no mount (it mounts securityfs
// and tracefs only in a private namespace), no program attached.
func TestRunLeavesNothingBehind(t *testing.T) {
	before := mounts(t)
	r := probe.Run()
	if r.Has(probe.CgroupSockAddr) {
		root := cgroup2(t)
		left, _ := filepath.Glob(filepath.Join(root, "vigil-probe-*"))
		if len(left) > 0 {
			t.Errorf("child cgroups left behind: %v", left)
		}
	}
	if after := mounts(t); after != before {
		t.Errorf("mounts changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := probetest.Report(); !reflect.DeepEqual(r.Available(), got.Available()) {
		t.Errorf("a second run found %v, the first %v", r.Available(), got.Available())
	}
}

func TestRequireSkipsExactlyTheMissing(t *testing.T) {
	r := probetest.Report()
	for _, f := range probe.Features() {
		rec := &skipRecorder{TB: t}
		probetest.Require(rec, probe.BTF, f)
		if skipped := rec.msg != ""; skipped == r.Has(f) {
			t.Errorf("Require(%s): skipped=%v with available=%v", f, skipped, r.Has(f))
		} else if skipped && !strings.Contains(rec.msg, string(f)) {
			t.Errorf("Require(%s) skip message does not name it: %s", f, rec.msg)
		}
	}
}

type skipRecorder struct {
	testing.TB
	msg string
}

func (s *skipRecorder) Helper() {}
func (s *skipRecorder) Skipf(format string, args ...any) {
	s.msg = fmt.Sprintf(format, args...)
}

func mounts(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func cgroup2(t *testing.T) string {
	for _, line := range strings.Split(mounts(t), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	t.Fatal("no cgroup2 mount")
	return ""
}
