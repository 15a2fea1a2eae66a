package agent

import (
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// newAssembler holds data records for their event at most dataHold, and
// at most as many bytes as the ring buffer holds (at least two arguments
// of the largest size): an event comes right after its data records, so
// more than that waiting means events were lost.
func newAssembler(cfg tracing.Config) *tracing.Assembler {
	bound := cfg.RingBufferSize
	if bound == 0 {
		bound = tracing.DefaultRingBufferSize
	}
	return tracing.NewAssembler(dataHold, max(bound, 2*tracing.DataMax))
}

// expireData drops the data records that waited too long for their event.
// When the ring buffer is empty (idle), the kernel's clock says how long;
// else only the records read since, which may still bring the events.
func (a *Agent) expireData(idle bool) {
	var now uint64
	if idle {
		now = tracing.Now()
	}
	a.data.Expire(now)
}
