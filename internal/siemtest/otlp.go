package siemtest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// The collector's file exporter writes OTLP-JSON: one logs request per line.
type otlpLogs struct {
	ResourceLogs []struct {
		Resource struct {
			Attributes []otlpKV `json:"attributes"`
		} `json:"resource"`
		ScopeLogs []struct {
			LogRecords []otlpRecord `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
}

type otlpRecord struct {
	TimeUnixNano string    `json:"timeUnixNano"`
	Body         otlpValue `json:"body"`
	Attributes   []otlpKV  `json:"attributes"`
}

// eachRecord calls fn with each log record the collector wrote so far and
// its resource's string attributes; fromVigil picks those of an OTLP sink
// (service.name "vigil") or the others (the HEC receiver's).
func (e *Env) eachRecord(t testing.TB, fromVigil bool, fn func(res map[string]string, lr otlpRecord)) {
	t.Helper()
	for _, l := range lines(t, e.otelOut) {
		var req otlpLogs
		if err := json.Unmarshal(l, &req); err != nil {
			t.Fatalf("collector wrote %q: %v", l, err)
		}
		for _, rl := range req.ResourceLogs {
			res := stringValues(rl.Resource.Attributes)
			if (res["service.name"] == "vigil") != fromVigil {
				continue
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					fn(res, lr)
				}
			}
		}
	}
}

type otlpKV struct {
	Key   string    `json:"key"`
	Value otlpValue `json:"value"`
}

// otlpValue is an OTLP AnyValue.
type otlpValue struct {
	StringValue *string  `json:"stringValue"`
	BoolValue   *bool    `json:"boolValue"`
	IntValue    *string  `json:"intValue"` // int64 as a string
	DoubleValue *float64 `json:"doubleValue"`
	ArrayValue  *struct {
		Values []otlpValue `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []otlpKV `json:"values"`
	} `json:"kvlistValue"`
}

// plain turns an AnyValue back into the JSON value it came from.
func (v otlpValue) plain() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.IntValue != nil:
		n, _ := strconv.ParseInt(*v.IntValue, 10, 64)
		return n
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.ArrayValue != nil:
		a := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			a[i] = e.plain()
		}
		return a
	case v.KvlistValue != nil:
		m := make(map[string]any, len(v.KvlistValue.Values))
		for _, kv := range v.KvlistValue.Values {
			m[kv.Key] = kv.Value.plain()
		}
		return m
	}
	return nil
}

// stringValues are the string values of kvs, by key.
func stringValues(kvs []otlpKV) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		if kv.Value.StringValue != nil {
			out[kv.Key] = *kv.Value.StringValue
		}
	}
	return out
}

// OTLPRecord is one log record the collector's OTLP receiver took.
type OTLPRecord struct {
	Resource, Attributes map[string]string // their string values
	Time                 time.Time
	Body                 string
}

// OTLPEvents returns the log records the collector's OTLP receiver took so
// far from Vigil (resource service.name "vigil").
func (e *Env) OTLPEvents(t testing.TB) []OTLPRecord {
	t.Helper()
	var out []OTLPRecord
	e.eachRecord(t, true, func(res map[string]string, lr otlpRecord) {
		r := OTLPRecord{Resource: res, Attributes: stringValues(lr.Attributes)}
		if lr.Body.StringValue != nil {
			r.Body = *lr.Body.StringValue
		}
		if n, err := strconv.ParseInt(lr.TimeUnixNano, 10, 64); err == nil {
			r.Time = time.Unix(0, n)
		}
		out = append(out, r)
	})
	return out
}

// HECEvents returns what the collector's Splunk HEC receiver took so far, parsed;
// App is the HEC source.
func (e *Env) HECEvents(t testing.TB) []Received {
	t.Helper()
	var out []Received
	e.eachRecord(t, false, func(res map[string]string, lr otlpRecord) {
		out = append(out, hecReceived(t, res, lr.TimeUnixNano, lr.Body))
	})
	return out
}

func hecReceived(t testing.TB, attrs map[string]string, ns string, body otlpValue) Received {
	js, err := json.Marshal(body.plain())
	if err != nil {
		t.Fatal(err)
	}
	r := Received{Host: attrs["host.name"], App: attrs["com.splunk.source"], JSON: js}
	if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
		r.Time = time.Unix(0, n)
	}
	if err := json.Unmarshal(js, &r.Event); err != nil {
		t.Fatalf("collector event %s: %v", js, err)
	}
	return r
}

// OTLPReceived is OTLPEvents as Received: each body parsed as the event;
// Host is the resource's host.name and App its service.name.
func (e *Env) OTLPReceived(t testing.TB) []Received {
	t.Helper()
	var out []Received
	for _, r := range e.OTLPEvents(t) {
		got := Received{Time: r.Time, Host: r.Resource["host.name"], App: r.Resource["service.name"], JSON: json.RawMessage(r.Body)}
		if err := json.Unmarshal(got.JSON, &got.Event); err != nil {
			t.Fatalf("OTLP body %s: %v", r.Body, err)
		}
		out = append(out, got)
	}
	return out
}
