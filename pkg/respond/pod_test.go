package respond

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/output"
)

// recorder is an output.Exporter that keeps the lines.
type recorder struct{ lines []string }

func (r *recorder) Export(_ *event.Event, line []byte) error {
	r.lines = append(r.lines, string(line))
	return nil
}

func (r *recorder) Flush() error { return nil }

var _ output.Exporter = (*recorder)(nil)

// fakePods patches the pods of a fake clientset.
type fakePods struct{ *fake.Clientset }

func (f fakePods) PatchPod(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error {
	_, err := f.CoreV1().Pods(ns).Patch(ctx, name, pt, data, metav1.PatchOptions{FieldManager: "vigil"})
	return err
}

// The shipped setuid-root rules annotate the pod and keep the evidence.
func TestAnnotateAndEvidence(t *testing.T) {
	client := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "api-1"}})
	mods := example("setuid-root.rego")
	e, results := started(t, Options{Client: fakePods{client}, EvidenceDir: t.TempDir()}, mods)
	pid := sleeper(t)
	pod := &event.Pod{Namespace: "web", Name: "api-1", Container: &event.Container{Name: "api", Pid: 12}}
	ev := kprobeAlert(t, pid, "setuid-root", pod)
	ev.ProcessKprobe.FunctionName = "__x64_sys_setuid"
	export(t, e, ev)
	for range 2 {
		if r := result(t, results); !r.OK {
			t.Errorf("%s: %+v", r.Action, r)
		} else if r.Action == ActionEvidence {
			if got := readEvidence(t, r.Evidence); got.Process.Pid != pid || got.Process.SHA256 == "" {
				t.Errorf("evidence %+v", got.Process)
			}
		}
	}
	got, err := client.CoreV1().Pods("web").Get(context.Background(), "api-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Annotations["vigil.dev/setuid-root"]; !strings.HasPrefix(a, "/usr/bin/sleep called __x64_sys_setuid at ") {
		t.Errorf("annotation %q", a)
	}
	mustAlive(t, pid)
}

func TestLabelSkipsWithoutPod(t *testing.T) {
	client := fake.NewClientset()
	e, results := started(t, Options{Client: fakePods{client}}, testModules)
	export(t, e, testAlert(t, 1, nil, Response{Action: ActionLabel, Key: "k", Value: "v"}))
	if r := result(t, results); r.Skipped != "the alert's process runs in no pod" {
		t.Errorf("label without a pod: %+v", r)
	}
}

// The shipped forward-to-soc rules hand the exported line to the named
// sink, whatever the budget.
func TestSink(t *testing.T) {
	rec := &recorder{}
	mods := example("forward-to-soc.rego")
	e, results := started(t, Options{Sinks: map[string]output.Exporter{"soc": rec}, Budget: 1}, mods)
	ev := &event.Event{ProcessKprobe: &event.ProcessKprobe{Process: &event.Process{Pid: 4242, Binary: "/usr/bin/nc"},
		PolicyName: "connect-port", Action: event.ActionSigkill}}
	for range 3 {
		if err := e.Export(ev, []byte(`{"filtered":true}`)); err != nil {
			t.Fatal(err)
		}
		if r := result(t, results); !r.OK {
			t.Errorf("sink: %+v", r)
		}
	}
	if len(rec.lines) != 3 || rec.lines[0] != `{"filtered":true}` {
		t.Errorf("sink got %q", rec.lines)
	}
}
