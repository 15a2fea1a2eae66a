package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// HECOptions configure a Splunk HTTP Event Collector transport.
type HECOptions struct {
	URL        string // https://host:8088/services/collector/event
	Token      string
	Host       string // "host" of each event
	Source     string // "vigil" when empty
	SourceType string // "_json" when empty
	Index      string // the token's default index when empty
	TLS        *tls.Config
	Timeout    time.Duration // without progress, per request (30 s when 0)
	// AckTimeout bounds the wait for an indexer acknowledgement, when the
	// receiver gives one (60 s when 0).
	AckTimeout time.Duration
}

// WebhookOptions configure a webhook transport.
type WebhookOptions struct {
	URL     string
	Header  http.Header // added to each request
	TLS     *tls.Config
	Timeout time.Duration // without progress, per request (30 s when 0)
}

// httpTransport POSTs a batch of records in one request. The request is
// given up when the receiver makes no progress for timeout: no byte of it
// acknowledged by the receiver's TCP stack, no byte of the answer.
type httpTransport struct {
	name    string
	url     string
	header  http.Header
	client  *http.Client
	timeout time.Duration
	body    func(recs []Record) []byte
	ack     *hecAck // Splunk HEC indexer acknowledgement; nil for webhooks
}

// NewHEC returns a Splunk HEC transport: several events in one request,
// one JSON object per line.
func NewHEC(o HECOptions) (Transport, error) {
	if o.Source == "" {
		o.Source = "vigil"
	}
	if o.SourceType == "" {
		o.SourceType = "_json"
	}
	// the fields every event carries after its time
	meta, err := json.Marshal(struct {
		Host       string `json:"host,omitempty"`
		Source     string `json:"source"`
		SourceType string `json:"sourcetype"`
		Index      string `json:"index,omitempty"`
	}{o.Host, o.Source, o.SourceType, o.Index})
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}, hecChannelHeader: {uuid.NewString()}}
	if o.Token != "" {
		h.Set("Authorization", "Splunk "+o.Token)
	}
	body := func(recs []Record) []byte {
		var b []byte
		for _, r := range recs {
			b = append(b, `{"time":`...)
			b = appendEpoch(b, r.Time)
			b = append(b, ',')
			b = append(b, meta[1:len(meta)-1]...)
			b = append(b, `,"event":`...)
			b = append(b, r.JSON...)
			b = append(b, "}\n"...)
		}
		return b
	}
	t, err := newHTTP("splunk-hec", o.URL, h, o.TLS, o.Timeout, body)
	if err != nil {
		return nil, err
	}
	t.ack, err = newHECAck(t, o.AckTimeout)
	return t, err
}

// NewWebhook returns a webhook transport: a JSON array of events per
// request.
func NewWebhook(o WebhookOptions) (Transport, error) {
	h := o.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	body := func(recs []Record) []byte {
		b := []byte{'['}
		for i, r := range recs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, r.JSON...)
		}
		return append(b, ']')
	}
	return newHTTP("webhook", o.URL, h, o.TLS, o.Timeout, body)
}

func newHTTP(kind, rawURL string, h http.Header, tc *tls.Config, timeout time.Duration,
	body func([]Record) []byte) (*httpTransport, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sink: %s URL %q: want http(s)://host[:port]/path", kind, rawURL)
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &httpTransport{
		name:    kind + "+" + u.Scheme + "://" + u.Host + u.Path,
		url:     rawURL,
		header:  h,
		client:  &http.Client{Transport: tr},
		timeout: timeout,
		body:    body,
	}, nil
}

func (t *httpTransport) String() string { return t.name }

// Send POSTs the batch: 2xx takes it all (once the indexer acknowledged
// it, when the receiver gives an ackId); 408, 429 and 5xx are retried;
// another answer refuses it for good.
func (t *httpTransport) Send(ctx context.Context, recs []Record) (int, error) {
	code, msg, err := t.post(ctx, t.url, t.body(recs))
	switch {
	case err != nil:
		return 0, err
	case code >= 200 && code < 300:
		if t.ack != nil {
			if err := t.ack.wait(ctx, msg); err != nil {
				return 0, err
			}
		}
		return len(recs), nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return 0, fmt.Errorf("%s: %d %s: %s", t.name, code, http.StatusText(code), bytes.TrimSpace(msg))
	default:
		return 0, &PermanentError{fmt.Errorf("%s: %d %s: %s", t.name, code, http.StatusText(code), bytes.TrimSpace(msg))}
	}
}

// post POSTs body and returns the status and the start of the answer. The
// request is cancelled when the receiver makes no progress for t.timeout.
func (t *httpTransport) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	p := newProgress(t.timeout)
	rctx, cancel := context.WithCancelCause(httptrace.WithClientTrace(ctx, p.trace()))
	defer cancel(nil)
	stop := p.watch(cancel)
	defer stop()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, &PermanentError{err}
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, nil, stallCause(rctx, err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(io.LimitReader(resp.Body, 512))
	if err == nil {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	}
	if err != nil {
		return 0, nil, stallCause(rctx, err)
	}
	return resp.StatusCode, msg, nil
}

func (t *httpTransport) Close() error {
	t.client.CloseIdleConnections()
	return nil
}

// appendEpoch appends t as seconds since the epoch with 6 decimals, exact.
func appendEpoch(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := strconv.AppendInt(nil, 1e6+us%1e6, 10) // "1" and 6 digits
	frac[0] = '.'
	return append(b, frac...)
}
