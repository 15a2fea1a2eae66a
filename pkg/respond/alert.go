package respond

import (
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// alert is one event being responded to.
type alert struct {
	ev       *event.Event
	line     []byte
	proc     *event.Process
	policy   string
	workload string
	// budget is the outcome of charging the workload's budget, which
	// happens once per alert, at its first response that needs it.
	budget *bool
}

func newAlert(j job) *alert {
	k := j.ev.Kind()
	return &alert{ev: j.ev, line: j.line, proc: k.Process, policy: k.Policy, workload: workload(k.Process)}
}

// workload names what budgets count: the pod's namespace and workload
// (or the pod when it has none), or the binary of a host process.
func workload(p *event.Process) string {
	switch {
	case p == nil:
		return ""
	case p.Pod == nil:
		return p.Binary
	case p.Pod.Workload != "":
		return p.Pod.Namespace + "/" + p.Pod.Workload
	}
	return p.Pod.Namespace + "/" + p.Pod.Name
}

// charge spends the alert's unit of its workload's budget, once.
func (e *Engine) charge(a *alert) error {
	if a.budget == nil {
		ok := e.budget.take(a.workload, time.Now())
		a.budget = &ok
	}
	if !*a.budget {
		return refusal{budget: true, why: "workload " + a.workload + " is over its response budget"}
	}
	return nil
}
