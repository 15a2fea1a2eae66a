package sink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	common "go.opentelemetry.io/proto/otlp/common/v1"
	logs "go.opentelemetry.io/proto/otlp/logs/v1"
	resource "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// OTLPOptions configure an OpenTelemetry logs transport (OTLP/gRPC or
// OTLP/HTTP with protobuf bodies).
type OTLPOptions struct {
	Addr     string // host:port of the receiver
	HTTP     bool   // OTLP/HTTP (POST Path); else OTLP/gRPC
	Path     string // OTLP/HTTP: /v1/logs when empty
	NodeName string // the resource's host.name
	Header   http.Header
	TLS      *tls.Config
	Timeout  time.Duration // without progress, per request (30 s when 0)
}

// newOTLPBody returns the protobuf ExportLogsServiceRequest of a batch:
// one resource (service.name vigil, host.name the node), one scope, and a
// log record per event, its body the event's JSON, its attributes what a
// collector routes and indexes by (attributes).
func newOTLPBody(node string) func([]Record) *collogs.ExportLogsServiceRequest {
	res := &resource.Resource{Attributes: []*common.KeyValue{str("service.name", "vigil"), str("host.name", node)}}
	scope := &common.InstrumentationScope{Name: "vigil"}
	return func(recs []Record) *collogs.ExportLogsServiceRequest {
		now := uint64(time.Now().UnixNano())
		out := make([]*logs.LogRecord, len(recs))
		for i, r := range recs {
			out[i] = &logs.LogRecord{TimeUnixNano: uint64(r.Time.UnixNano()), ObservedTimeUnixNano: now,
				SeverityNumber: logs.SeverityNumber_SEVERITY_NUMBER_INFO, SeverityText: "INFO",
				Body:       &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: string(r.JSON)}},
				Attributes: attributes(r.JSON, node)}
		}
		return &collogs.ExportLogsServiceRequest{ResourceLogs: []*logs.ResourceLogs{{Resource: res,
			ScopeLogs: []*logs.ScopeLogs{{Scope: scope, LogRecords: out}}}}}
	}
}

// bodyHead is what attributes reads of an event's body, whichever kind
// it is.
type bodyHead struct {
	Process *struct {
		Pod *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"pod"`
	} `json:"process"`
	PolicyName string `json:"policy_name"`
}

// attributes are an event's vigil.event_type (its body's name), node,
// and, when it has them, k8s.namespace.name, k8s.pod.name and
// vigil.policy_name.
func attributes(line []byte, node string) []*common.KeyValue {
	var all map[string]json.RawMessage
	_ = json.Unmarshal(line, &all) // the sink's own records are valid JSON
	kv := []*common.KeyValue{}
	var head bodyHead
	for k, v := range all {
		switch k {
		case "node_name":
			_ = json.Unmarshal(v, &node)
		case "time":
		default:
			kv = append(kv, str("vigil.event_type", k))
			_ = json.Unmarshal(v, &head)
		}
	}
	kv = append(kv, str("vigil.node_name", node))
	if p := head.Process; p != nil && p.Pod != nil {
		kv = append(kv, str("k8s.namespace.name", p.Pod.Namespace), str("k8s.pod.name", p.Pod.Name))
	}
	if head.PolicyName != "" {
		kv = append(kv, str("vigil.policy_name", head.PolicyName))
	}
	return kv
}

func str(k, v string) *common.KeyValue {
	return &common.KeyValue{Key: k, Value: &common.AnyValue{Value: &common.AnyValue_StringValue{StringValue: v}}}
}

// NewOTLP returns an OTLP logs transport.
func NewOTLP(o OTLPOptions) (Transport, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	build := newOTLPBody(o.NodeName)
	if o.HTTP {
		return newOTLPHTTP(o, build)
	}
	creds := insecure.NewCredentials()
	scheme := "grpc"
	if o.TLS != nil {
		creds, scheme = credentials.NewTLS(o.TLS), "grpcs"
	}
	conn, err := grpc.NewClient(o.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("sink: otlp+%s://%s: %w", scheme, o.Addr, err)
	}
	return &otlpGRPC{name: "otlp+" + scheme + "://" + o.Addr, conn: conn, client: collogs.NewLogsServiceClient(conn),
		build: build, header: o.Header, timeout: o.Timeout}, nil
}

func newOTLPHTTP(o OTLPOptions, build func([]Record) *collogs.ExportLogsServiceRequest) (Transport, error) {
	scheme, path := "http", o.Path
	if o.TLS != nil {
		scheme = "https"
	}
	if path == "" || path == "/" {
		path = "/v1/logs"
	}
	h := o.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/x-protobuf")
	body := func(recs []Record) []byte {
		b, _ := proto.Marshal(build(recs)) // of messages built here: cannot fail
		return b
	}
	return newHTTP("otlp", scheme+"://"+o.Addr+path, h, o.TLS, o.Timeout, body)
}

// otlpGRPC exports a batch in one Export call, given up after timeout.
type otlpGRPC struct {
	name    string
	conn    *grpc.ClientConn
	client  collogs.LogsServiceClient
	build   func([]Record) *collogs.ExportLogsServiceRequest
	header  http.Header
	timeout time.Duration
}

func (t *otlpGRPC) String() string { return t.name }
func (t *otlpGRPC) Close() error   { return t.conn.Close() }

// Send exports the batch. As the OTLP specification says, Unavailable,
// ResourceExhausted, Aborted, OutOfRange, DataLoss and DeadlineExceeded
// are retried; another error refuses the batch for good, as does a
// partial success that rejected records.
func (t *otlpGRPC) Send(ctx context.Context, recs []Record) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	for k, vs := range t.header {
		for _, v := range vs {
			ctx = metadata.AppendToOutgoingContext(ctx, k, v)
		}
	}
	resp, err := t.client.Export(ctx, t.build(recs))
	switch code := status.Code(err); {
	case err == nil:
		if ps := resp.GetPartialSuccess(); ps.GetRejectedLogRecords() > 0 {
			return 0, &PermanentError{fmt.Errorf("%s: %d of %d records rejected: %s", t.name, ps.GetRejectedLogRecords(), len(recs), ps.GetErrorMessage())}
		}
		return len(recs), nil
	case code == codes.DeadlineExceeded && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return 0, fmt.Errorf("%w for %v: %s: %v", ErrStalled, t.timeout, t.name, err)
	case retried[code]:
		return 0, fmt.Errorf("%s: %w", t.name, err)
	default:
		return 0, &PermanentError{fmt.Errorf("%s: %w", t.name, err)}
	}
}

var retried = map[codes.Code]bool{codes.Unavailable: true, codes.ResourceExhausted: true, codes.Aborted: true,
	codes.OutOfRange: true, codes.DataLoss: true, codes.DeadlineExceeded: true, codes.Canceled: true}
