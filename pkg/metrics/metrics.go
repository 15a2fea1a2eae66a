// Package metrics serves the agent's Prometheus metrics: events by type,
// losses by where they happened, policy states, per-hook hits and
// enforcement actions, the process cache, and each sink's delivery lag and
// spool. Labels stay few by default: pods and binaries only when asked.
// client_golang is Prometheus' own library, the standard for Go exporters.
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/agent"
)

// Labels an operator may add to vigil_events_total.
const (
	LabelNamespace = "namespace"
	LabelPod       = "pod"
	LabelBinary    = "binary"
)

// Agent is what the metrics read at each scrape.
type Agent interface {
	Status() agent.Status
	ListPolicies() []agent.PolicyInfo
	HookCounts() []agent.HookCount
	SelectorCounts() []agent.SelectorCount
}

// SinkStats are one sink's delivery numbers.
type SinkStats struct {
	Name       string
	Delivered  uint64
	SpoolFull  uint64 // events refused by a full spool
	Rejected   uint64 // events the receiver refused for good
	Corrupt    uint64 // spool records found corrupt and skipped
	Stalls     uint64 // deliveries given up after no progress for the sink's timeout
	SpoolBytes uint64
	LagSeconds float64 // age of the oldest undelivered event
}

// Reasons of vigil_sink_events_lost_total.
const (
	SinkLostSpoolFull = "spool_full"
	SinkLostRejected  = "rejected"
	SinkLostCorrupt   = "spool_corrupt"
)

// RegoStats are one kind of Rego decision's numbers (guardrails, responses).
type RegoStats struct {
	Kind        string
	Evaluations uint64
	Seconds     float64 // total evaluation time
	Responses   map[string]uint64
	Refused     map[string]uint64 // responses refused, by why (budget, never_touch)
}

// Source gives more losses, sinks and Rego decisions at each scrape.
type Source struct {
	Losses func() map[string]uint64 // user-space losses by reason (queues, filters)
	Sinks  func() []SinkStats
	Rego   func() []RegoStats
}

// Registry holds the agent's metrics.
type Registry struct {
	reg    *prometheus.Registry
	Events *EventCounter
}

// New builds the registry; extra names the event labels to add (namespace,
// pod, binary).
func New(a Agent, src Source, extra []string) *Registry {
	events := newEventCounter(extra)
	reg := prometheus.NewRegistry()
	reg.MustRegister(events.vec, &collector{agent: a, src: src},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg, Events: events}
}

// Serve serves /metrics, and more's handlers by path, on addr until the
// listener fails.
func (r *Registry) Serve(addr string, more map[string]http.Handler) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics address: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	for path, h := range more {
		mux.Handle(path, h)
	}
	go func() {
		// a slow or idle client holds only its own connection, for a while
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
		if err := srv.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
			logrus.WithError(err).Error("metrics server stopped")
		}
	}()
	logrus.WithField("address", l.Addr().String()).Info("metrics on /metrics")
	return l, nil
}

// ParseLabels checks a comma-separated list of extra event labels.
func ParseLabels(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, l := range strings.Split(s, ",") {
		switch l = strings.TrimSpace(l); l {
		case LabelNamespace, LabelPod, LabelBinary:
			out = append(out, l)
		default:
			return nil, fmt.Errorf("metrics label %q: use %s, %s or %s", l, LabelNamespace, LabelPod, LabelBinary)
		}
	}
	return out, nil
}
