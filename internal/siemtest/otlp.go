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
			LogRecords []struct {
				TimeUnixNano string    `json:"timeUnixNano"`
				Body         otlpValue `json:"body"`
			} `json:"logRecords"`
		} `json:"scopeLogs"`
	} `json:"resourceLogs"`
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

// HECEvents returns what the collector's Splunk HEC receiver took so far, parsed;
// App is the HEC source.
func (e *Env) HECEvents(t testing.TB) []Received {
	t.Helper()
	var out []Received
	for _, l := range lines(t, e.otelOut) {
		var req otlpLogs
		if err := json.Unmarshal(l, &req); err != nil {
			t.Fatalf("collector wrote %q: %v", l, err)
		}
		for _, rl := range req.ResourceLogs {
			attrs := map[string]string{}
			for _, kv := range rl.Resource.Attributes {
				if kv.Value.StringValue != nil {
					attrs[kv.Key] = *kv.Value.StringValue
				}
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					out = append(out, hecReceived(t, attrs, lr.TimeUnixNano, lr.Body))
				}
			}
		}
	}
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
