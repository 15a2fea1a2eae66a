package agent

import (
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/export"
	"github.com/vigil-sec/vigil/pkg/process"
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
		a := &Agent{cache: process.New(process.Options{NodeName: "bench"}), sink: export.New(discard{io.Discard})}
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
