package beacon

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/beacon/beacontest"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func count(b *Beacon, action, result string) uint64 {
	for _, c := range b.Counts() {
		if c.Action == action && c.Result == result {
			return c.N
		}
	}
	return 0
}

func TestRequestsAreMadeAndCounted(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	dns, err := beacontest.StartDNS()
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	b := New(Config{DNSServer: dns.Addr, Timeout: 2 * time.Second, Workers: 2, Queue: 8})
	defer b.Close()
	b.Send(Request{GetURL, srv.URL + "/token"})
	b.Send(Request{DNSLookup, "canary.example.test"})
	b.Send(Request{GetURL, "http://127.0.0.1:1/closed"})
	waitFor(t, "three requests", func() bool {
		return count(b, GetURL, Done)+count(b, GetURL, Failed)+count(b, DNSLookup, Done) == 3
	})
	if hits.Load() != 1 || dns.Queries("canary.example.test") < 1 || count(b, GetURL, Failed) != 1 {
		t.Errorf("%d hits, %d DNS queries, counts %+v", hits.Load(), dns.Queries("canary.example.test"), b.Counts())
	}
}

// A server that never answers costs a worker the timeout, no more, and
// requests beyond the queue are dropped and counted.
func TestSlowServerIsBounded(t *testing.T) {
	block := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { arrived.Add(1); <-block }))
	defer srv.Close()
	defer close(block)
	b := New(Config{DNSServer: "127.0.0.1:1", Timeout: 300 * time.Millisecond, Workers: 1, Queue: 2})
	defer b.Close()
	b.Send(Request{GetURL, srv.URL})
	waitFor(t, "the first request at the server", func() bool { return arrived.Load() == 1 })
	for range 9 {
		b.Send(Request{GetURL, srv.URL})
	}
	waitFor(t, "the queued requests to time out", func() bool { return count(b, GetURL, Failed) == 3 })
	if d := count(b, GetURL, Dropped); d != 7 {
		t.Errorf("%d dropped, want 7 (one worker, a queue of 2, 10 requests): %+v", d, b.Counts())
	}
}
