package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// TestSinksSpoolApart: two sinks whose specs differ only in their query
// string get a spool each, and both deliver. A spool directory of the old
// naming (the receiver only) is left alone.
func TestSinksSpoolApart(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []json.RawMessage
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &batch); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		mu.Lock()
		got[r.URL.Query().Get("tenant")] += len(batch)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	old := filepath.Join(dir, "webhook_http_"+srv.Listener.Addr().String())
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	f := &sinkFlags{spoolDir: dir, maxBytes: 1 << 20,
		specs: []string{"webhook+" + srv.URL + "/hook?tenant=a", "webhook+" + srv.URL + "/hook?tenant=b"}}
	sinks, _, err := f.open("node-1", false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeSinks(sinks)
	for i := 0; i < 10; i++ {
		for _, s := range sinks {
			ev := &event.Event{NodeName: "node-1", Time: event.FormatTime(time.Now())}
			if err := s.Export(ev, []byte(`{"n":1}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		a, b := got["a"], got["b"]
		mu.Unlock()
		if a == 10 && b == 10 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	entries, _ := os.ReadDir(dir)
	if got["a"] != 10 || got["b"] != 10 || len(entries) != 3 {
		t.Fatalf("delivered %v; spool directories %v", got, entries)
	}
}
