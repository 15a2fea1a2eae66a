package sink

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/siemtest"
)

// TestHECIndexerAck: the indexers lose the first two batches; their acks
// never come, so they are sent again, and every event is indexed once.
func TestHECIndexerAck(t *testing.T) {
	h := siemtest.StartHECAck(t)
	h.LoseNext(2)
	tr, err := NewHEC(HECOptions{URL: h.URL + "/services/collector/event", Token: "t", Host: node,
		AckTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tr, Options{Dir: t.TempDir(), NodeName: node, BatchRecords: 10, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, 0, 50)
	got := siemtest.Wait(t, h.Events, 50, 30*time.Second)
	checkRun(t, seqs(got), 0, 50)
	waitFor(t, "the sink to count the deliveries", func() bool { return s.Stats().Delivered == 50 })
	if st := s.Stats(); st.Stalls < 1 || got[0].Host != node {
		t.Fatalf("stats %+v, host %q", st, got[0].Host)
	}
}

// TestWebhookSlowReceiver: a receiver reading 1 KB per 100 ms takes a
// batch in more than two timeouts; it keeps taking, so the batch goes
// through.
func TestWebhookSlowReceiver(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(siemtest.SlowReader(r.Body, 1024, 100*time.Millisecond))
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
	}))
	srv.Listener.Close()
	srv.Listener = siemtest.SmallWindowListener(t)
	srv.Start()
	defer srv.Close()
	tr, err := NewWebhook(WebhookOptions{URL: srv.URL + "/hook", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tr, Options{Dir: t.TempDir(), NodeName: node})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const total = 300
	write(t, s, 0, total) // batches of 256 and 44 events: 72 KB, 7 s at 10 KB/s, and 12 KB
	for end := time.Now().Add(60 * time.Second); s.Stats().Delivered < total && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := s.Stats(); st.Delivered != total || st.Stalls != 0 {
		t.Fatalf("stats %+v; the receiver read %d bytes", st, len(got))
	}
	t.Logf("slow webhook receiver read %d bytes; stats %+v", len(got), s.Stats())
}
