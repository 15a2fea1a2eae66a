package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-sec/vigil/pkg/agent"
	"github.com/vigil-sec/vigil/pkg/event"
)

// Where a loss happened, by lost_events reason.
var lossWhere = map[string]string{
	event.LostRingBuffer:    "kernel",
	event.LostProcessMap:    "kernel",
	event.LostScopeMap:      "kernel",
	event.LostReturnMap:     "kernel",
	event.LostStackTrace:    "kernel",
	event.LostIMAHash:       "kernel",
	event.LostAgentDown:     "kernel",
	event.LostReturnPending: "user",
	event.LostDecode:        "user",
	// events went out, their buffer arguments marked short
	event.LostDataRingBuffer: "kernel",
	event.LostDataRecords:    "user",
}

var (
	lostDesc = prometheus.NewDesc("vigil_events_lost_total",
		"Events lost, by where (kernel, user, sink) and reason.", []string{"where", "reason"}, nil)
	policiesDesc = prometheus.NewDesc("vigil_policies",
		"Policies by state (loaded, disabled, error).", []string{"state"}, nil)
	hookHitsDesc = prometheus.NewDesc("vigil_hook_hits_total",
		"Selector matches of loaded hooks in the kernel, posted or not.", []string{"policy", "function"}, nil)
	hookActionsDesc = prometheus.NewDesc("vigil_hook_actions_total",
		"Enforcement actions (signals, overrides) of loaded hooks.", []string{"policy", "function"}, nil)
	selectorHitsDesc = prometheus.NewDesc("vigil_selector_hits_total",
		"Matches of loaded selectors with a label, posted or not, by policy and label.", []string{"policy", "selector"}, nil)
	cacheDesc = prometheus.NewDesc("vigil_process_cache_size",
		"Process images in the agent's cache.", nil, nil)
	requestsDesc = prometheus.NewDesc("vigil_action_requests_total",
		"Requests of the GetUrl and DnsLookup actions, by result: done, failed, or dropped (queue full).", []string{"action", "result"}, nil)
	sinkDeliveredDesc = prometheus.NewDesc("vigil_sink_delivered_total",
		"Events a sink delivered.", []string{"sink"}, nil)
	sinkLostDesc = prometheus.NewDesc("vigil_sink_events_lost_total",
		"Events a sink lost, by sink and reason (spool_full, rejected, spool_corrupt).", []string{"sink", "reason"}, nil)
	sinkStallsDesc = prometheus.NewDesc("vigil_sink_stalls_total",
		"Deliveries a sink gave up after its receiver made no progress for the sink's timeout.", []string{"sink"}, nil)
	sinkLagDesc = prometheus.NewDesc("vigil_sink_lag_seconds",
		"Age of a sink's oldest undelivered event.", []string{"sink"}, nil)
	sinkSpoolDesc = prometheus.NewDesc("vigil_sink_spool_bytes",
		"Bytes in a sink's disk spool.", []string{"sink"}, nil)
	regoEvalsDesc = prometheus.NewDesc("vigil_rego_evaluations_total",
		"Rego evaluations (guardrails per policy load, responses per alert).", []string{"kind"}, nil)
	regoSecondsDesc = prometheus.NewDesc("vigil_rego_evaluation_seconds_total",
		"Time spent evaluating Rego.", []string{"kind"}, nil)
	responsesDesc = prometheus.NewDesc("vigil_responses_total",
		"Responses carried out, by action.", []string{"action"}, nil)
	refusedDesc = prometheus.NewDesc("vigil_responses_refused_total",
		"Responses refused, by why (budget, never_touch).", []string{"why"}, nil)
)

// collector reads the agent's state at each scrape: nothing on the event
// path.
type collector struct {
	agent Agent
	src   Source
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{lostDesc, policiesDesc, hookHitsDesc, hookActionsDesc, selectorHitsDesc, cacheDesc,
		sinkDeliveredDesc, sinkLostDesc, sinkStallsDesc, sinkLagDesc, sinkSpoolDesc, regoEvalsDesc, regoSecondsDesc, responsesDesc, refusedDesc, requestsDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.agent.Status()
	for reason, n := range st.Lost {
		ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(n), lossWhere[reason], reason)
	}
	if c.src.Losses != nil {
		for reason, n := range c.src.Losses() {
			ch <- prometheus.MustNewConstMetric(lostDesc, prometheus.CounterValue, float64(n), "user", reason)
		}
	}
	ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.GaugeValue, float64(st.ProcessCacheSize))
	for _, r := range st.Requests {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(r.N), r.Action, r.Result)
	}
	c.collectPolicies(ch)
	c.collectSinks(ch)
	c.collectRego(ch)
}

func (c *collector) collectRego(ch chan<- prometheus.Metric) {
	if c.src.Rego == nil {
		return
	}
	for _, r := range c.src.Rego() {
		ch <- prometheus.MustNewConstMetric(regoEvalsDesc, prometheus.CounterValue, float64(r.Evaluations), r.Kind)
		ch <- prometheus.MustNewConstMetric(regoSecondsDesc, prometheus.CounterValue, r.Seconds, r.Kind)
		for a, n := range r.Responses {
			ch <- prometheus.MustNewConstMetric(responsesDesc, prometheus.CounterValue, float64(n), a)
		}
		for why, n := range r.Refused {
			ch <- prometheus.MustNewConstMetric(refusedDesc, prometheus.CounterValue, float64(n), why)
		}
	}
}

func (c *collector) collectPolicies(ch chan<- prometheus.Metric) {
	states := map[agent.State]int{agent.StateLoaded: 0, agent.StateDisabled: 0, agent.StateError: 0}
	for _, p := range c.agent.ListPolicies() {
		states[p.State]++
	}
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(policiesDesc, prometheus.GaugeValue, float64(n), string(s))
	}
	for _, h := range c.agent.HookCounts() {
		ch <- prometheus.MustNewConstMetric(hookHitsDesc, prometheus.CounterValue, float64(h.Hits), h.Policy, h.Function)
		ch <- prometheus.MustNewConstMetric(hookActionsDesc, prometheus.CounterValue, float64(h.Actions), h.Policy, h.Function)
	}
	for _, s := range c.agent.SelectorCounts() {
		ch <- prometheus.MustNewConstMetric(selectorHitsDesc, prometheus.CounterValue, float64(s.Hits), s.Policy, s.Label)
	}
}

func (c *collector) collectSinks(ch chan<- prometheus.Metric) {
	if c.src.Sinks == nil {
		return
	}
	for _, s := range c.src.Sinks() {
		ch <- prometheus.MustNewConstMetric(sinkDeliveredDesc, prometheus.CounterValue, float64(s.Delivered), s.Name)
		ch <- prometheus.MustNewConstMetric(sinkLostDesc, prometheus.CounterValue, float64(s.SpoolFull), s.Name, SinkLostSpoolFull)
		ch <- prometheus.MustNewConstMetric(sinkLostDesc, prometheus.CounterValue, float64(s.Rejected), s.Name, SinkLostRejected)
		ch <- prometheus.MustNewConstMetric(sinkLostDesc, prometheus.CounterValue, float64(s.Corrupt), s.Name, SinkLostCorrupt)
		ch <- prometheus.MustNewConstMetric(sinkStallsDesc, prometheus.CounterValue, float64(s.Stalls), s.Name)
		ch <- prometheus.MustNewConstMetric(sinkLagDesc, prometheus.GaugeValue, s.LagSeconds, s.Name)
		ch <- prometheus.MustNewConstMetric(sinkSpoolDesc, prometheus.GaugeValue, float64(s.SpoolBytes), s.Name)
	}
}
