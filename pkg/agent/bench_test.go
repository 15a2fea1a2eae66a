package agent

import (
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/export"
	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/scope"
	"github.com/vigil-sec/vigil/pkg/syscalls"
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
			data: newAssembler(tracing.Config{})}
		for _, raw := range recs {
			rec, err := tracing.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			a.handle(rec)
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
	s, err := tracing.Load(tracing.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	scopes, err := scope.New(s, nil)
	if err != nil {
		b.Fatal(err)
	}
	ps := lifecycle.New(s, scopes, compile.Target{Kernel: probe.Run()}, nil, nil)
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
