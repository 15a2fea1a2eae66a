package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Response is one object the respond rule returns.
type Response struct {
	// Action is kill, freeze_and_kill, evidence, annotate, label or sink.
	Action string `json:"action"`
	// Key and Value of annotate and label.
	Key   string `json:"key,omitempty"`
	Value string `json:"value,omitempty"`
	// Name of the sink.
	Name string `json:"name,omitempty"`
	// AllowPid1 lets kill and freeze_and_kill act on a container's PID 1
	// (never on the host's).
	AllowPid1 bool `json:"allow_pid1,omitempty"`
	// Reason is free text for the log and the evidence.
	Reason string `json:"reason,omitempty"`
}

// Actions.
const (
	ActionKill          = "kill"
	ActionFreezeAndKill = "freeze_and_kill"
	ActionEvidence      = "evidence"
	ActionAnnotate      = "annotate"
	ActionLabel         = "label"
	ActionSink          = "sink"
)

// actionOrder is the order responses to one alert are carried out in:
// what only reads or forwards first, kills last.
var actionOrder = map[string]int{ActionSink: 0, ActionAnnotate: 1, ActionLabel: 2, ActionEvidence: 3,
	ActionFreezeAndKill: 4, ActionKill: 5}

// evaluate runs the respond rule on the alert and decodes its responses.
func (e *Engine) evaluate(j job) ([]Response, error) {
	start := time.Now()
	rs, err := e.eval(j)
	e.stats.evaluated(time.Since(start))
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return decode(rs[0].Expressions[0].Value)
}

func (e *Engine) eval(j job) (rego.ResultSet, error) {
	b, err := json.Marshal(j.ev)
	if err != nil {
		return nil, err
	}
	input, err := ast.ValueFromReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.EvalTimeout)
	defer cancel()
	return j.rules.query.Eval(ctx, rego.EvalParsedInput(input))
}

// decode turns the respond set into responses; objects with unknown
// actions or fields are left out, with an error.
func decode(v any) ([]Response, error) {
	set, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a set of objects, not %T", respondQuery, v)
	}
	out := make([]Response, 0, len(set))
	var errs []error
	for _, x := range set {
		r, err := decodeOne(x)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func decodeOne(x any) (Response, error) {
	var r Response
	b, err := json.Marshal(x)
	if err != nil {
		return r, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("response %s: %w", b, err)
	}
	if err := r.check(); err != nil {
		return r, fmt.Errorf("response %s: %w", b, err)
	}
	return r, nil
}

func (r Response) check() error {
	if _, ok := actionOrder[r.Action]; !ok {
		return fmt.Errorf("unknown action %q", r.Action)
	}
	switch {
	case (r.Action == ActionAnnotate || r.Action == ActionLabel) && r.Key == "":
		return fmt.Errorf("%s needs a key", r.Action)
	case r.Action == ActionSink && r.Name == "":
		return fmt.Errorf("sink needs a name")
	}
	return nil
}
