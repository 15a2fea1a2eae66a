package agent

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// TestStalledStatusWriteHoldsNothing: an API server that never answers a
// status write delays only that write, for at most its timeout; another
// resource's policy loads meanwhile (before it gives up).
func TestStalledStatusWriteHoldsNothing(t *testing.T) {
	stall := make(chan struct{})
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // the status write hangs until the test ends
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)
	client, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	// the timeout leaves a loaded kernel-matrix guest time to load the
	// other policy while the write hangs
	const timeout = 15 * time.Second
	c := &crdPolicies{node: "stalled", applied: map[string]int64{}, loaded: map[string]*unstructured.Unstructured{},
		ps: shared.agent.pols, client: client, statusTimeout: timeout}
	resource := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": vigilGroup + "/v1alpha1", "kind": "TracingPolicy",
			"metadata": map[string]any{"name": name, "generation": int64(1)},
			"spec":     map[string]any{"tracepoints": []any{map[string]any{"subsystem": "syscalls", "event": "sys_enter_nanosleep"}}},
		}}
		t.Cleanup(func() { _ = shared.agent.pols.Remove(name) })
		return u
	}
	reported := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		c.apply(resource("status-stalled")) // loads, then writes its status: stalls
		reported <- time.Since(start)
	}()
	select {
	case <-arrived: // the first write is hanging now
	case <-time.After(time.Minute):
		t.Fatal("the first resource's status write never reached the API server")
	}
	if changed, err := c.applyLocked(resource("status-other")); !changed || err != nil {
		t.Fatalf("another resource during a stalled status write: %v %v", changed, err)
	}
	select {
	case <-reported:
		t.Error("another resource loaded only once the stalled status write gave up")
	default:
	}
	select {
	case d := <-reported:
		t.Logf("the stalled status write gave up after %v", d)
	case <-time.After(2 * timeout):
		t.Fatal("the stalled status write did not give up")
	}
}
