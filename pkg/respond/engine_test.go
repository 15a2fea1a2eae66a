package respond

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/output"
)

// nonMatching are events no shipped rule wants.
func nonMatching(i int) *event.Event {
	p := &event.Process{Pid: uint32(1000 + i), Binary: "/usr/bin/ls"}
	switch i % 4 {
	case 0:
		return &event.Event{ProcessKprobe: &event.ProcessKprobe{Process: p, PolicyName: "observe-etc-writes"}}
	case 1:
		return &event.Event{ProcessExec: &event.ProcessExec{Process: p}}
	case 2:
		return &event.Event{ProcessLsm: &event.ProcessKprobe{Process: p, PolicyName: "kill-crypto-miners"}}
	}
	return &event.Event{LostEvents: &event.LostEvents{Count: 1}}
}

func TestPrefilterNeverEvaluates(t *testing.T) {
	e := must(Load("../../examples/responses"))
	if err := e.Start(Options{}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const n = 10000
	for i := range n {
		if err := e.Export(nonMatching(i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if s := e.Stats(); s.Evaluations != 0 || s.Queued != 0 || s.Prefiltered != n {
		t.Errorf("stats %+v, want %d prefiltered and no evaluation", s, n)
	}
}

// A worker stuck on a response does not stop Export: the queue overflows,
// counted.
func TestQueueOverflow(t *testing.T) {
	block := make(chan struct{})
	e, results := started(t, Options{QueueSize: 2, Sinks: map[string]output.Exporter{"s": &recorder{}}},
		testModules)
	e.opts.OnResult = func(r Result) { <-block; results <- r }
	ev := testAlert(t, 1, nil, Response{Action: ActionSink, Name: "s"})
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { // while the responses block: an export that waited would never return
		for range 100 {
			if err := e.Export(ev, line); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("exports wait for a full queue")
	}
	close(block)
	for range 100 - e.Stats().QueueDrops {
		result(t, results)
	}
	if s := e.Stats(); s.QueueDrops < 97 || s.Queued+s.QueueDrops != 100 {
		t.Errorf("stats %+v, want 97 or more dropped", s)
	}
}

func TestExportBeforeStartAndAfterClose(t *testing.T) {
	e := must(Load("../../examples/responses"))
	ev := kprobeAlert(t, 1, "kill-crypto-miners", nil)
	export(t, e, ev)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.QueueDrops != 1 {
		t.Errorf("stats %+v, want the alert before Start dropped", s)
	}
}

// A response object the engine does not know is left out and counted;
// the others are carried out.
func TestBadResponse(t *testing.T) {
	rec := &recorder{}
	e, results := started(t, Options{Sinks: map[string]output.Exporter{"s": rec}}, map[string]string{
		"r.rego": `package vigil.responses

match contains {"type": "process_kprobe", "policy": "test"}

respond contains {"action": "kill", "alow_pid1": true}
respond contains {"action": "reboot"}
respond contains {"action": "sink", "name": "s"}
`})
	export(t, e, kprobeAlert(t, 1, "test", nil))
	if r := result(t, results); !r.OK || r.Action != ActionSink || len(rec.lines) != 1 {
		t.Errorf("sink: %+v", r)
	}
	if s := e.Stats(); s.EvalErrors != 1 || s.RefusedNeverTouch != 0 {
		t.Errorf("stats %+v", s)
	}
}
