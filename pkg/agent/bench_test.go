package agent

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/export"
	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/scope"
	"github.com/vigil-sec/vigil/pkg/syscalls"
	"github.com/vigil-sec/vigil/pkg/tracefs"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

type discard struct{ io.Writer }

func (discard) Close() error { return nil }

// record captures the raw kernel records of an exec storm.
func record(b *testing.B, execs int) [][]byte {
	s, err := tracing.Load(tracing.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do /bin/true; i=$((i+1)); done`, itoa(execs))
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	var recs [][]byte
	for {
		raw, err := s.ReadRaw(time.Now().Add(5 * time.Second))
		if err != nil {
			b.Fatal(err)
		}
		recs = append(recs, append([]byte(nil), raw...))
		if x, ok := must(tracing.Decode(raw)).(*tracing.Exit); ok && x.Ident.Pid == uint32(cmd.Process.Pid) {
			return recs // the storm's shell exited: its records are all in
		}
	}
}

// BenchmarkPipeline measures user space alone on a recorded stream: records
// decoded, tied to the process cache, encoded as JSON lines.
func BenchmarkPipeline(b *testing.B) {
	recs := record(b, 2000)
	b.Logf("recorded %d kernel records", len(recs))
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		a := &Agent{cache: process.New(process.Options{NodeName: "bench"}), sink: &output.Output{Exported: []output.Exporter{export.New(discard{io.Discard})}},
			data: newAssembler(tracing.Config{}), stacks: newStackTraces(nil, false)}
		a.out = startWriter(a.sink, nil, &a.stats.Events)
		for _, raw := range recs {
			rec, err := tracing.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			a.handle(rec)
		}
		if err := a.out.close(); err != nil {
			b.Fatal(err)
		}
		n += len(recs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func must(rec any, err error) any {
	if err != nil {
		panic(err)
	}
	return rec
}

// benchPolicies loads a sensor with cfg and the policy lifecycle on it,
// closed when the benchmark ends.
func benchPolicies(b *testing.B, cfg tracing.Config, kernel probe.Report) (*tracing.Sensor, *lifecycle.Policies) {
	s, err := tracing.Load(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	scopes, err := scope.New(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, lifecycle.New(s, scopes, compile.Target{Kernel: kernel}, nil, nil)
}

// manyHooksPolicy hooks n syscalls, each with an integer filter.
func manyHooksPolicy(n int) string {
	var b strings.Builder
	b.WriteString("apiVersion: vigil.dev/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: many-hooks\nspec:\n  kprobes:\n")
	for _, name := range syscalls.Names()[:n] {
		fmt.Fprintf(&b, `  - call: sys_%s
    syscall: true
    args: [{index: 0, type: int}]
    selectors: [{matchArgs: [{index: 0, operator: Equal, values: ["-424242"]}]}]
`, name)
	}
	return b.String()
}

// BenchmarkLoad300SyscallHooks measures the time from a policy with 300
// syscall hooks to its hooks being live: the first load (which loads the
// generic program), then each replacement of the policy by itself.
func BenchmarkLoad300SyscallHooks(b *testing.B) {
	docs, err := policy.Parse([]byte(manyHooksPolicy(300)), "bench")
	if err != nil {
		b.Fatal(err)
	}
	_, ps := benchPolicies(b, tracing.Config{}, probe.Run())
	start := time.Now()
	if err := ps.Apply("bench", docs[0]); err != nil {
		b.Fatal(err)
	}
	first := time.Since(start)
	b.ResetTimer()
	for b.Loop() {
		if err := ps.Apply("bench", docs[0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(first.Milliseconds()), "ms-first-load")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/replace")
}

// functionsPolicy hooks n kernel functions (LSM stubs and security_
// functions, which kprobes and kprobe_multi can both attach to) with one
// kprobes entry on a list, filtered on a PID no process has.
func functionsPolicy(b *testing.B, n int) policy.Policy {
	dir, err := tracefs.Dir()
	if err != nil {
		b.Skipf("needs tracefs: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "available_filter_functions"))
	if err != nil {
		b.Skipf("needs available_filter_functions: %v", err)
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		if (strings.HasPrefix(line, "bpf_lsm_") || strings.HasPrefix(line, "security_")) && !strings.Contains(line, " ") &&
			!slices.Contains(names, line) && len(names) < n {
			names = append(names, line)
		}
	}
	if len(names) < n {
		b.Skipf("the kernel lists %d LSM functions, the benchmark needs %d", len(names), n)
	}
	docs, err := policy.Parse([]byte(fmt.Sprintf(`apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata: {name: many-functions}
spec:
  lists: [{name: fns, values: [%s]}]
  kprobes:
  - call: list:fns
    selectors: [{matchPIDs: [{operator: In, values: [2147483646]}]}]
`, strings.Join(names, ", "))), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return docs[0]
}

// programsMemlock sums the kernel memory (memlock) of the system's BPF
// programs.
func programsMemlock(b *testing.B) uint64 {
	var sum uint64
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return sum
		}
		id = next
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone since
		}
		if info, err := p.Info(); err == nil {
			if m, ok := info.Memlock(); ok {
				sum += m
			}
		}
		p.Close()
	}
}

// BenchmarkLoad300FunctionHooks: a policy on 300 kernel functions by
// kprobe, attached function by function (a program and a link each) and
// through kprobe_multi (one program and one link): the time until the
// hooks are live, the programs loaded, and their kernel memory.
func BenchmarkLoad300FunctionHooks(b *testing.B) {
	kernel := probe.Run()
	if err := kernel.Missing(probe.Kprobe); err != nil {
		b.Skipf("needs kprobes: %v", err)
	}
	doc := functionsPolicy(b, 300)
	for _, multi := range []bool{false, true} {
		b.Run(map[bool]string{false: "kprobe", true: "kprobe_multi"}[multi], func(b *testing.B) {
			if err := kernel.Missing(probe.KprobeMulti); multi && err != nil {
				b.Skipf("needs kprobe.multi: %v", err)
			}
			s, ps := benchPolicies(b, tracing.Config{KprobeMulti: multi}, kernel)
			var live time.Duration
			var mem, loads uint64
			for b.Loop() {
				mem0, loads0 := programsMemlock(b), s.Hooks().Loads()
				start := time.Now()
				if err := ps.Apply("bench", doc); err != nil {
					b.Fatal(err)
				}
				live += time.Since(start)
				mem += programsMemlock(b) - mem0
				loads += s.Hooks().Loads() - loads0
				if err := ps.Remove("many-functions"); err != nil {
					b.Fatal(err)
				}
			}
			n := uint64(b.N)
			b.ReportMetric(float64(live.Milliseconds())/float64(n), "ms-until-live")
			b.ReportMetric(float64(loads/n), "programs")
			b.ReportMetric(float64(mem/n)/1024, "KiB-programs")
		})
	}
}
