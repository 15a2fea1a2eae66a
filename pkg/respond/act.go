package respond

import (
	"errors"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
)

// Result is what became of one response; it is logged and handed to
// Options.OnResult.
type Result struct {
	Time     time.Time
	Action   string
	Reason   string // the rule's
	Policy   string
	Workload string
	Pid      uint32
	OK       bool
	// Refused says why a guard refused the response: the budget or the
	// never-touch list. Skipped says why it could not apply (no pod, no
	// client, no evidence directory).
	Refused, Skipped string
	Error            string
	// Evidence is the evidence file written; Frozen the cgroup frozen;
	// Killed the processes sent SIGKILL, the alert's process last.
	Evidence string
	Frozen   string
	Killed   []int
}

// refusal is a response a guard refused.
type refusal struct {
	budget bool
	why    string
}

func (r refusal) Error() string { return r.why }

// skipped is a response that does not apply to the alert.
type skipped string

func (s skipped) Error() string { return string(s) }

// act carries out one alert's responses, reads and forwards first.
func (e *Engine) act(a *alert, resps []Response) {
	slices.SortStableFunc(resps, func(x, y Response) int { return actionOrder[x.Action] - actionOrder[y.Action] })
	for _, r := range resps {
		res := Result{Time: time.Now(), Action: r.Action, Reason: r.Reason, Policy: a.policy,
			Workload: a.workload}
		if a.proc != nil {
			res.Pid = a.proc.Pid
		}
		e.report(&res, e.do(a, r, &res))
	}
}

func (e *Engine) do(a *alert, r Response, res *Result) error {
	switch r.Action {
	case ActionSink:
		return e.sink(a, r)
	case ActionAnnotate, ActionLabel:
		return e.patchPod(a, r)
	case ActionEvidence:
		return e.evidence(a, r, res)
	case ActionKill:
		return e.kill(a, r, res)
	case ActionFreezeAndKill:
		return e.freezeAndKill(a, r, res)
	}
	return nil
}

// report records, logs and hands on the result of a response.
func (e *Engine) report(res *Result, err error) {
	var ref refusal
	var skip skipped
	switch {
	case errors.As(err, &ref):
		res.Refused = ref.why
		if ref.budget {
			e.stats.refusedBudget.Add(1)
		} else {
			e.stats.refusedNever.Add(1)
		}
	case errors.As(err, &skip):
		res.Skipped = string(skip)
	default:
		res.OK = err == nil
		if err != nil {
			res.Error = err.Error()
		}
		e.stats.responded(res.Action, res.OK)
	}
	e.log(res)
	if e.opts.OnResult != nil {
		e.opts.OnResult(*res)
	}
}

func (e *Engine) log(res *Result) {
	l := logrus.WithFields(logrus.Fields{"action": res.Action, "policy": res.Policy, "workload": res.Workload,
		"pid": res.Pid})
	switch {
	case res.Refused != "":
		l.WithField("refused", res.Refused).Warn("response refused")
	case res.Skipped != "":
		l.WithField("skipped", res.Skipped).Info("response skipped")
	case !res.OK:
		l.WithError(errors.New(res.Error)).WithField("killed", res.Killed).Warn("response failed")
	default:
		l.WithFields(logrus.Fields{"evidence": res.Evidence, "killed": res.Killed, "frozen": res.Frozen,
			"reason": res.Reason}).Info("response carried out")
	}
}
