package agent

import (
	"context"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/export"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/probe"
	"github.com/vigil-sec/vigil/pkg/process"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// benchWrite is the size of each write the maxData benchmarks make.
const benchWrite = 100000

// countingSink encodes every event as the JSON exporter does, to nowhere,
// and counts the hook events.
type countingSink struct {
	out   *output.Output
	hooks atomic.Int64
	bytes atomic.Int64 // of their buffer arguments
	last  atomic.Int64 // when the last came, unix ns
}

func (c *countingSink) Write(ev *event.Event) error {
	if k := ev.ProcessKprobe; k != nil && len(k.Args) > 1 {
		c.hooks.Add(1)
		a := k.Args[1]
		n := len(a.BytesArg)
		if a.TruncatedBytesArg != nil {
			n = len(a.TruncatedBytesArg.BytesArg)
		}
		c.bytes.Add(int64(n))
		c.last.Store(time.Now().UnixNano())
	}
	return c.out.Write(ev)
}

func (c *countingSink) Flush() error { return c.out.Flush() }

// BenchmarkMaxDataWrite measures a 100,000-byte write(2) to /dev/null by
// this process while an agent runs: without a policy on it, with a hook
// that cuts the buffer at 4,095 bytes, and with maxData (327,360). ns/op
// is the writer's cost (the BPF program runs in its syscall); events/s the
// agent's end to end, decoded, joined and encoded as JSON; lost what the
// ring buffer could not take (the agent encodes slower than one writer
// writes: the excess is lost, and counted).
func BenchmarkMaxDataWrite(b *testing.B) {
	for _, c := range []struct {
		name    string
		policy  bool
		maxData bool
	}{{"no-hook", false, false}, {"cut-4095", true, false}, {"maxdata", true, true}} {
		b.Run(c.name, func(b *testing.B) { benchWrites(b, c.policy, c.maxData) })
	}
}

func benchWrites(b *testing.B, withPolicy, maxData bool) {
	sink := &countingSink{out: &output.Output{Exported: []output.Exporter{export.New(discard{io.Discard})}}}
	a, err := New(Config{Process: process.Options{NodeName: "bench"}, LossInterval: 20 * time.Millisecond}, sink)
	if err != nil {
		b.Fatal(err)
	}
	r := runAgent(b, a)
	defer r.stop()
	if withPolicy {
		docs, err := policy.Parse([]byte(writePolicy(&testing.T{}, "bench-write", maxData, benchWrite)), "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := a.pols.Apply("bench", docs[0]); err != nil {
			b.Fatal(err)
		}
	}
	fd, err := syscall.Open("/dev/null", syscall.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	buf := dataPattern(benchWrite)
	lost0 := a.Stats().LostKernel.Load()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := syscall.Write(fd, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !withPolicy {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); sink.hooks.Load()+int64(a.Stats().LostKernel.Load()-lost0) < int64(b.N) &&
		time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Unix(0, sink.last.Load()).Sub(start)
	b.ReportMetric(float64(sink.hooks.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(sink.bytes.Load())/float64(max(sink.hooks.Load(), 1)), "bytes/event")
	b.ReportMetric(float64(a.Stats().LostKernel.Load()-lost0), "lost")
}

// runAgent runs a in the background until the returned stop.
func runAgent(tb testing.TB, a *Agent) *running {
	r := &running{agent: a}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	r.stop = func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("agent run: %v", err)
		}
	}
	return r
}

// recordMaxData captures the raw records of one benchWrite-byte write
// under a maxData hook: its data records, its hook record; and the hook.
func recordMaxData(b *testing.B) (data [][]byte, hookRec []byte, hook *compile.Hook) {
	s, err := tracing.Load(tracing.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	docs, err := policy.Parse([]byte(writePolicy(&testing.T{}, "bench-record", true, benchWrite)), "bench")
	if err != nil {
		b.Fatal(err)
	}
	c, err := compile.Compile(docs[0], compile.Target{Kernel: probe.Run()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Hooks().Install(1, tracing.ModeEnforce, c.Program, nil); err != nil {
		b.Fatal(err)
	}
	fd, err := syscall.Open("/dev/null", syscall.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.Write(fd, dataPattern(benchWrite)); err != nil {
		b.Fatal(err)
	}
	for {
		raw, err := s.ReadRaw(time.Now().Add(5 * time.Second))
		if err != nil {
			b.Fatal(err)
		}
		switch must(tracing.Decode(raw)).(type) {
		case *tracing.Data:
			data = append(data, append([]byte(nil), raw...))
		case *tracing.Generic:
			return data, append([]byte(nil), raw...), c.Hooks[0]
		}
	}
}

// BenchmarkMaxDataPipeline measures user space alone on the records of one
// 100,000-byte maxData write (recorded from the kernel): "join" decodes its
// data records and its hook record and joins them; "json" also renders the
// event and encodes it as the JSON exporter does.
func BenchmarkMaxDataPipeline(b *testing.B) {
	recs, g, h := recordMaxData(b)
	b.Logf("%d data records and the hook record", len(recs))
	for _, encode := range []bool{false, true} {
		name := map[bool]string{false: "join", true: "json"}[encode]
		b.Run(name, func(b *testing.B) {
			sink := &output.Output{Exported: []output.Exporter{export.New(discard{io.Discard})}}
			asm := newAssembler(tracing.Config{})
			b.SetBytes(benchWrite)
			b.ReportAllocs()
			for b.Loop() {
				gen := joinRecords(b, asm, recs, g)
				if !encode {
					continue
				}
				if err := sink.Write(&event.Event{ProcessKprobe: h.Event(gen)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// joinRecords decodes data records recs and hook record g, and joins them,
// as the agent does.
func joinRecords(b *testing.B, asm *tracing.Assembler, recs [][]byte, g []byte) *tracing.Generic {
	for _, raw := range recs {
		if err := asm.AddRaw(raw); err != nil {
			b.Fatal(err)
		}
	}
	gen := must(tracing.Decode(g)).(*tracing.Generic)
	asm.Complete(gen)
	if len(gen.Args[1]) != benchWrite {
		b.Fatalf("%d bytes joined", len(gen.Args[1]))
	}
	return gen
}
