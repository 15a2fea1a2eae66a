package sink

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hecServer answers the first requests with codes, then refuses batches
// with events 3 or 4 (400), and records the batches it took.
type hecServer struct {
	mu      sync.Mutex
	codes   []int
	batches [][]map[string]any
	auth    []string
}

func (h *hecServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.auth = append(h.auth, r.Header.Get("Authorization"))
	if len(h.codes) > 0 || r.URL.Path != "/services/collector/event" {
		w.WriteHeader(h.codes[0])
		h.codes = h.codes[1:]
		return
	}
	var batch []map[string]any
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			panic(err)
		}
		if pid := m["event"].(map[string]any)["process_exec"].(map[string]any)["process"].(map[string]any)["pid"]; pid == 3.0 || pid == 4.0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		batch = append(batch, m)
	}
	h.batches = append(h.batches, batch)
}

func (h *hecServer) taken() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, b := range h.batches {
		n += len(b)
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestHTTPStatuses: 5xx, 408 and 429 are retried, another 4xx drops the
// batch and counts it.
func TestHTTPStatuses(t *testing.T) {
	h := &hecServer{codes: []int{503, 429, 408}}
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := openSink(t, "splunk-hec+"+srv.URL+"?token=secret&index=main", t.TempDir(), Options{MinBackoff: time.Millisecond})
	defer s.Close()
	write(t, s, 0, 3)
	waitFor(t, "the first batch", func() bool { return s.Stats().Delivered == 3 })
	write(t, s, 3, 5) // refused with 400: dropped
	waitFor(t, "the refusal", func() bool { return s.Stats().Rejected == 2 })
	write(t, s, 5, 6)
	waitFor(t, "the next batch", func() bool { return s.Stats().Delivered == 4 })
	st := s.Stats()
	if st.Retries != 3 || st.SpoolRecords != 0 || h.taken() != 4 {
		t.Fatalf("stats %+v, server took %d", st, h.taken())
	}
	ev := h.batches[0][0]
	inner := ev["event"].(map[string]any)
	if h.auth[0] != "Splunk secret" || ev["host"] != node || ev["source"] != "vigil" || ev["sourcetype"] != "_json" ||
		ev["index"] != "main" || inner["node_name"] != node || ev["time"].(float64) < 1e9 {
		t.Fatalf("auth %q, event %v", h.auth[0], ev)
	}
}

func TestWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var hdr, query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var batch []map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &batch); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		got = append(got, batch...)
		hdr, query = r.Header.Get("X-Api-Key"), r.URL.RawQuery
	}))
	defer srv.Close()
	s := openSink(t, "webhook+"+srv.URL+"/hook?header=X-Api-Key:k1&tenant=a", t.TempDir(), Options{})
	defer s.Close()
	write(t, s, 0, 10)
	waitFor(t, "10 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 10 })
	if hdr != "k1" || query != "tenant=a" || got[9]["node_name"] != node {
		t.Fatalf("header %q, query %q, event %v", hdr, query, got[9])
	}
}

func TestParseSpec(t *testing.T) {
	good := map[string]string{
		"syslog+tcp://siem.example":                             "syslog+tcp://siem.example:514",
		"syslog+tls://siem.example?app=x&facility=auth":         "syslog+tls://siem.example:6514",
		"syslog+tls://[::1]:7000?severity=3&server_name=a":      "syslog+tls://[::1]:7000",
		"syslog+relp://siem.example?app=x":                      "syslog+relp://siem.example:2514",
		"splunk-hec+https://h?token=t":                          "splunk-hec+https://h:8088/services/collector/event",
		"splunk-hec+http://h:1/services/collector?token=t":      "splunk-hec+http://h:1/services/collector",
		"webhook+https://h/p?header=A:b&insecure_skip_verify=1": "webhook+https://h/p",
		"otlp+grpc://collector":                                 "otlp+grpc://collector:4317",
		"otlp+grpcs://collector?server_name=c&header=A:b":       "otlp+grpcs://collector:4317",
		"otlp+http://collector":                                 "otlp+http://collector:4318/v1/logs",
		"otlp+https://collector:9/custom/logs":                  "otlp+https://collector:9/custom/logs",
	}
	for spec, name := range good {
		tr, err := ParseSpec(spec, "n")
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if tr.String() != name {
			t.Errorf("%s: named %s, want %s", spec, tr.String(), name)
		}
	}
	bad := map[string]string{
		"siem.example:514":                            "no kind",
		"syslog+udp://h":                              `unknown scheme "syslog+udp"`,
		"syslog+tcp://":                               "no host",
		"syslog+tcp://h?ca=/x":                        "option ca needs TLS",
		"syslog+tls://h?facility=nope":                `option facility="nope"`,
		"syslog+tls://h?severity=9":                   `option severity="9"`,
		"syslog+tls://h?app=a%20b":                    "syslog app",
		"syslog+tls://h?colour=red":                   `unknown option "colour"`,
		"syslog+tls://h?ca=/nonexistent":              "option ca",
		"syslog+tls://h?cert=/x":                      "cert and key go together",
		"splunk-hec+https://h?token=s3cr3t&bogus=1":   `unknown option "bogus"`,
		"splunk-hec+https://h:x?token=s3cr3t":         "s3cr3t",
		"webhook+https://h/p?header=novalue":          "option header",
		"webhook+https://h/p?insecure_skip_verify=ja": "option insecure_skip_verify",
		"syslog+tls://h?ca=/dev/zero":                 "not a regular file",
		"syslog+relp://h?ca=/x":                       "option ca needs TLS",
		"syslog+tcp://h:99999999999999999999":         `port "99999999999999999999"`,
		"otlp+grpc://h?ca=/x":                         "option ca needs TLS",
		"otlp+grpc://h/v1/logs":                       "takes no path",
		"otlp+udp://h":                                `unknown scheme "otlp+udp"`,
		"otlp+http://h?compression=gzip":              `unknown option "compression"`,
	}
	for spec, want := range bad {
		_, err := ParseSpec(spec, "n")
		switch {
		case err == nil:
			t.Errorf("%s: no error", spec)
		case want == "s3cr3t":
			if strings.Contains(err.Error(), want) {
				t.Errorf("%s: the error shows the token: %v", spec, err)
			}
		case !strings.Contains(err.Error(), want):
			t.Errorf("%s: error %q does not say %q", spec, err, want)
		}
	}
}

func TestSyslogFrame(t *testing.T) {
	tr, err := NewSyslog(SyslogOptions{Addr: "h:1", Hostname: "node-1", Facility: 16, Severity: 6})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 23, 14, 53, 49, 123456789, time.UTC)
	b := tr.(*syslogTransport).frame(nil, Record{Time: ts, JSON: []byte(`{"a":1}`)})
	n, msg, _ := bytes.Cut(b, []byte(" "))
	if want := "<134>1 2026-11-23T14:53:49.123456Z node-1 vigil "; !bytes.HasPrefix(msg, []byte(want)) ||
		!bytes.HasSuffix(msg, []byte(` - - {"a":1}`)) || string(n) != itoa(len(msg)) {
		t.Fatalf("frame %q", b)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAppendEpoch(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6007000, time.UTC)
	if got := string(appendEpoch(nil, ts)); got != "1767323045.006007" {
		t.Fatalf("epoch %s", got)
	}
}
