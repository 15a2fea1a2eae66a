package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-sec/vigil/pkg/agent"
)

type idleAgent struct{}

func (idleAgent) Status() agent.Status                  { return agent.Status{} }
func (idleAgent) ListPolicies() []agent.PolicyInfo      { return nil }
func (idleAgent) HookCounts() []agent.HookCount         { return nil }
func (idleAgent) SelectorCounts() []agent.SelectorCount { return nil }

// TestSinkLostLabels: a sink's losses carry the sink in "sink" and the
// reason in "reason", spool-full and rejected apart; the sink's name is in
// no reason label.
func TestSinkLostLabels(t *testing.T) {
	c := &collector{agent: idleAgent{}, src: Source{Sinks: func() []SinkStats {
		return []SinkStats{{Name: "syslog+tls://siem:6514", Delivered: 10, SpoolFull: 3, Rejected: 2, Corrupt: 1, Stalls: 4}}
	}}}
	want := `
# HELP vigil_sink_events_lost_total Events a sink lost, by sink and reason (spool_full, rejected, spool_corrupt).
# TYPE vigil_sink_events_lost_total counter
vigil_sink_events_lost_total{reason="rejected",sink="syslog+tls://siem:6514"} 2
vigil_sink_events_lost_total{reason="spool_corrupt",sink="syslog+tls://siem:6514"} 1
vigil_sink_events_lost_total{reason="spool_full",sink="syslog+tls://siem:6514"} 3
# HELP vigil_sink_stalls_total Deliveries a sink gave up after its receiver made no progress for the sink's timeout.
# TYPE vigil_sink_stalls_total counter
vigil_sink_stalls_total{sink="syslog+tls://siem:6514"} 4
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"vigil_sink_events_lost_total", "vigil_sink_stalls_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "vigil_events_lost_total"); n != 0 {
		t.Fatalf("vigil_events_lost_total has %d sink series: the sink's name would be a reason", n)
	}
}
