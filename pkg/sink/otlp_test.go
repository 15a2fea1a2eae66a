package sink

import (
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/siemtest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// policyEvent is a process_kprobe of a process in a pod, by a policy.
func policyEvent() *event.Event {
	now := event.FormatTime(time.Now())
	return &event.Event{
		ProcessKprobe: &event.ProcessKprobe{Process: &event.Process{ExecID: "cG9kOjE=", Pid: 1000, Binary: "/usr/bin/cat",
			Pod: &event.Pod{Namespace: "shop", Name: "web-1"}}, FunctionName: "security_file_open",
			Action: event.ActionPost, PolicyName: "watch-shadow"},
		NodeName: node, Time: now,
	}
}

// Every event arrives at the OpenTelemetry Collector's OTLP receiver, over
// gRPC and over HTTP, once and in order, as a log record with the event's
// JSON as its body, its time, and attributes for node, namespace, pod,
// policy and event type.
func TestOTLP(t *testing.T) {
	e := siemtest.Start(t, siemtest.Otelcol)
	for i, spec := range []string{"otlp+grpc://" + e.OTLPGRPC, "otlp+http://" + e.OTLPHTTP} {
		s := openSink(t, spec, t.TempDir(), Options{})
		from := i * 100
		write(t, s, from, from+50)
		if err := s.Write(policyEvent()); err != nil {
			t.Fatal(err)
		}
		s.Flush()
		got := siemtest.Wait(t, e.OTLPReceived, (i+1)*51, 20*time.Second)
		checkRun(t, seqs(got[i*51:]), from, from+50)
		recs := e.OTLPEvents(t)
		first, last := recs[i*51], recs[len(recs)-1]
		if first.Resource["host.name"] != node || first.Attributes["vigil.event_type"] != "process_exec" ||
			first.Attributes["vigil.node_name"] != node || first.Time.IsZero() {
			t.Errorf("%s: first record %+v", spec, first)
		}
		if a := last.Attributes; a["vigil.event_type"] != "process_kprobe" || a["k8s.namespace.name"] != "shop" ||
			a["k8s.pod.name"] != "web-1" || a["vigil.policy_name"] != "watch-shadow" {
			t.Errorf("%s: the policy event's attributes %v", spec, a)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// The OTLP sink keeps every event through an outage of the collector, as
// the other sinks do.
func TestOTLPOutage(t *testing.T) {
	e := siemtest.Start(t, siemtest.Otelcol)
	outage(t, siemtest.Otelcol, "otlp+grpc://"+e.OTLPGRPC, e, e.OTLPReceived)
}
