package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-sec/vigil/pkg/guard"
	"github.com/vigil-sec/vigil/pkg/kubewatch"
	"github.com/vigil-sec/vigil/pkg/metrics"
	"github.com/vigil-sec/vigil/pkg/output"
	"github.com/vigil-sec/vigil/pkg/respond"
)

type responseFlags struct {
	rules       []string
	configMap   string
	evidenceDir string
	budget      int
	window      time.Duration
}

func responseFlagsOf(cmd *cobra.Command, f *responseFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.rules, "response-rules", nil, "Rego response rules (a .rego file or a directory; repeatable), evaluated on exported alerts off the event path")
	fl.StringVar(&f.configMap, "response-rules-configmap", "", "namespace/name of a ConfigMap of Rego response rules (file name -> module), followed as it changes; needs --enable-k8s-api")
	fl.StringVar(&f.evidenceDir, "evidence-dir", "/var/lib/vigil/evidence", "where evidence and freeze_and_kill responses write their JSON (0700)")
	fl.IntVar(&f.budget, "response-budget", 3, "responses per workload per --response-window at most (negative: no limit)")
	fl.DurationVar(&f.window, "response-window", time.Minute, "the window of --response-budget")
}

// start loads the response rules, if any, from files and a ConfigMap, and
// starts their worker; its sink responses go to the sinks by name.
func (f *responseFlags) start(ctx context.Context, client *kubewatch.Core, named map[string]output.Exporter) (*respond.Engine, error) {
	if len(f.rules) == 0 && f.configMap == "" {
		return nil, nil
	}
	e, err := respond.Load(f.rules...)
	if err != nil {
		return nil, fmt.Errorf("--response-rules: %w", err)
	}
	if f.configMap != "" {
		if err := watchConfigMap(ctx, client, "--response-rules-configmap", f.configMap, e.Set); err != nil {
			return nil, err
		}
	}
	opts := respond.Options{EvidenceDir: f.evidenceDir, Sinks: named, Budget: f.budget, BudgetWindow: f.window}
	if client != nil { // a nil *Core would make a non-nil PodPatcher
		opts.Client = client
	}
	if err := e.Start(opts); err != nil {
		return nil, err
	}
	return e, nil
}

// regoStats reads the guardrails' and the response rules' numbers.
func regoStats(g *guard.Guard, e *respond.Engine) func() []metrics.RegoStats {
	return func() []metrics.RegoStats {
		var out []metrics.RegoStats
		if g != nil {
			st := g.Stats()
			out = append(out, metrics.RegoStats{Kind: "guardrails", Evaluations: st.Evaluations, Seconds: st.Total.Seconds()})
		}
		if e != nil {
			st := e.Stats()
			out = append(out, metrics.RegoStats{Kind: "responses", Evaluations: st.Evaluations,
				Seconds: st.EvalTotal.Seconds(), Responses: st.Responses,
				Refused: map[string]uint64{"budget": st.RefusedBudget, "never_touch": st.RefusedNeverTouch}})
		}
		return out
	}
}
