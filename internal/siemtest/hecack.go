package siemtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// HECAck is a Splunk HEC receiver with indexer acknowledgement, as Splunk
// does it when a token has useACK on: each batch posted to
// /services/collector/event on a channel (header X-Splunk-Request-Channel,
// required) is answered with an ackId, and POST /services/collector/ack
// ?channel=C {"acks":[IDs]} answers {"acks":{"ID":true|false}}. A batch is
// indexed (in Events) when its ack is first asked for; LoseNext makes the
// indexers lose batches, whose acks stay false, as Splunk's do.
type HECAck struct {
	URL string // http://127.0.0.1:PORT

	mu      sync.Mutex
	next    map[string]uint64
	pending map[string]map[uint64][]Received // not indexed yet, by channel and ackId
	indexed map[string]map[uint64]bool
	events  []Received
	lose    int
}

// StartHECAck starts a HECAck receiver, stopped when the test ends.
func StartHECAck(t testing.TB) *HECAck {
	t.Helper()
	h := &HECAck{next: map[string]uint64{}, pending: map[string]map[uint64][]Received{},
		indexed: map[string]map[uint64]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/collector/event", h.event)
	mux.HandleFunc("POST /services/collector/ack", h.ack)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

// LoseNext makes the indexers lose the next n batches.
func (h *HECAck) LoseNext(n int) {
	h.mu.Lock()
	h.lose = n
	h.mu.Unlock()
}

// Events returns the events indexed so far.
func (h *HECAck) Events(testing.TB) []Received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Received(nil), h.events...)
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (h *HECAck) event(w http.ResponseWriter, r *http.Request) {
	ch := r.Header.Get("X-Splunk-Request-Channel")
	if ch == "" {
		reply(w, http.StatusBadRequest, map[string]any{"text": "Data channel is missing", "code": 10})
		return
	}
	batch, err := parseHEC(r)
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"text": err.Error(), "code": 6})
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next[ch]
	h.next[ch]++
	if h.pending[ch] == nil {
		h.pending[ch], h.indexed[ch] = map[uint64][]Received{}, map[uint64]bool{}
	}
	if h.lose > 0 {
		h.lose--
	} else {
		h.pending[ch][id] = batch
	}
	reply(w, http.StatusOK, map[string]any{"text": "Success", "code": 0, "ackId": id})
}

// parseHEC reads one HEC event object per line.
func parseHEC(r *http.Request) ([]Received, error) {
	var out []Received
	sc := bufio.NewScanner(http.MaxBytesReader(nil, r.Body, 64<<20))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m struct {
			Time   float64         `json:"time"`
			Host   string          `json:"host"`
			Source string          `json:"source"`
			Event  json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("event %q: %v", sc.Bytes(), err)
		}
		rec := Received{Time: time.UnixMicro(int64(m.Time * 1e6)), Host: m.Host, App: m.Source, JSON: m.Event}
		if err := json.Unmarshal(m.Event, &rec.Event); err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

func (h *HECAck) ack(w http.ResponseWriter, r *http.Request) {
	ch := r.URL.Query().Get("channel")
	var req struct {
		Acks []uint64 `json:"acks"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&req); err != nil || ch == "" {
		reply(w, http.StatusBadRequest, map[string]any{"text": "Invalid data format", "code": 6})
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]bool{}
	for _, id := range req.Acks {
		if batch, ok := h.pending[ch][id]; ok {
			h.events = append(h.events, batch...)
			delete(h.pending[ch], id)
			h.indexed[ch][id] = true
		}
		out[fmt.Sprint(id)] = h.indexed[ch][id]
	}
	reply(w, http.StatusOK, map[string]any{"acks": out})
}
