package respond

import (
	"os"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// BenchmarkEvaluate is the evaluation of the shipped rules on one alert
// each of them answers (input conversion included), with its p99.
func BenchmarkEvaluate(b *testing.B) {
	e := must(Load("../../examples/responses"))
	e.opts = Options{}.withDefaults()
	pod := &event.Pod{Namespace: "mining", Name: "miner-1", Workload: "miner",
		Container: &event.Container{ID: "containerd://abc", Name: "miner", Pid: 7}}
	alerts := []*event.Event{
		kprobeAlert(b, os.Getpid(), "kill-crypto-miners", pod),
		kprobeAlert(b, os.Getpid(), "setuid-root", pod),
		kprobeAlert(b, os.Getpid(), "connect-port", nil),
	}
	alerts[2].ProcessKprobe.Action = event.ActionSigkill
	rs := e.rules.Load()
	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		resps, err := e.evaluate(job{ev: alerts[i%len(alerts)], rules: rs})
		durations = append(durations, time.Since(start))
		if err != nil || len(resps) == 0 {
			b.Fatalf("evaluate: %v %v", resps, err)
		}
	}
	b.ReportMetric(float64(percentile(durations, 0.99).Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkExportNonMatching is what an event no rule wants costs on the
// agent's path: no evaluation.
func BenchmarkExportNonMatching(b *testing.B) {
	e := must(Load("../../examples/responses"))
	if err := e.Start(Options{}); err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	evs := []*event.Event{nonMatching(0), nonMatching(1), nonMatching(2), nonMatching(3)}
	line := []byte(`{"process_exec":{}}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Export(evs[i%len(evs)], line)
	}
	if s := e.Stats(); s.Evaluations != 0 || s.Queued != 0 {
		b.Fatalf("stats %+v: a non-matching event was evaluated", s)
	}
}

// BenchmarkExportMatching is what an alert costs on the agent's path:
// copied and queued (or dropped when the queue is full), never evaluated
// there.
func BenchmarkExportMatching(b *testing.B) {
	e := must(Load("../../examples/responses"))
	ev := kprobeAlert(b, 1, "setuid-root", nil)
	line := make([]byte, 600)
	b.ReportAllocs()
	for b.Loop() {
		e.Export(ev, line)
	}
}
