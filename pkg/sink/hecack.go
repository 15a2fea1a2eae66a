package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// hecChannelHeader names the HEC channel of a sink's requests: Splunk
// needs one when indexer acknowledgement is on, and ignores it otherwise.
const hecChannelHeader = "X-Splunk-Request-Channel"

// hecAck waits for Splunk's indexer acknowledgement: when the token has it
// on, the answer to a batch carries an ackId, and the batch is delivered
// only once POST /services/collector/ack?channel=C {"acks":[ID]} answers
// {"acks":{"ID":true}}: until then the indexers may still lose it. A batch
// not acknowledged in time is sent again (at least once).
type hecAck struct {
	t       *httpTransport
	url     string
	timeout time.Duration
}

func newHECAck(t *httpTransport, timeout time.Duration) (*hecAck, error) {
	u, err := url.Parse(t.url)
	if err != nil {
		return nil, err
	}
	base := ""
	if i := strings.Index(u.Path, "/services/collector"); i >= 0 {
		base = u.Path[:i]
	}
	u.Path = base + "/services/collector/ack"
	u.RawQuery = "channel=" + url.QueryEscape(t.header.Get(hecChannelHeader))
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	return &hecAck{t: t, url: u.String(), timeout: timeout}, nil
}

// wait returns once the indexers acknowledged the batch whose answer is
// answer; at once when answer has no ackId (acknowledgement off).
func (a *hecAck) wait(ctx context.Context, answer []byte) error {
	var r struct {
		AckID *uint64 `json:"ackId"`
	}
	if json.Unmarshal(answer, &r) != nil || r.AckID == nil {
		return nil
	}
	id := strconv.FormatUint(*r.AckID, 10)
	body := []byte(`{"acks":[` + id + `]}`)
	end := time.Now().Add(a.timeout)
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		ok, err := a.poll(ctx, body, id)
		switch {
		case err != nil || ok:
			return err
		case time.Now().After(end):
			return fmt.Errorf("%w: %s: the indexers did not acknowledge ackId %s in %v", ErrStalled, a.t.name, id, a.timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// poll asks whether ackId id is acknowledged.
func (a *hecAck) poll(ctx context.Context, body []byte, id string) (bool, error) {
	code, msg, err := a.t.post(ctx, a.url, body)
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("%s: indexer acknowledgement: %d %s: %s", a.t.name, code, http.StatusText(code), msg)
	}
	var got struct {
		Acks map[string]bool `json:"acks"`
	}
	if err := json.Unmarshal(msg, &got); err != nil {
		return false, fmt.Errorf("%s: indexer acknowledgement %q: %v", a.t.name, msg, err)
	}
	return got.Acks[id], nil
}
