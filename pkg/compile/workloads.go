package compile

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// matchWorkloads makes selector sel hold only for the workloads its
// matchWorkloads names, as Tetragon's: a podSelector alone covers every
// container of its pods, a containerSelector alone those containers in
// every pod, hostSelector {} the host's processes; all of them null, or all
// {}, leave the selector for every process. The scope goes to
// Compiled.Workloads, and a condition checks it by its index there until
// PointWorkloads gives it the id the scope has in the kernel.
func (c *compiler) matchWorkloads(path string, sel uint8, w *policy.WorkloadSelector, cfg *tracing.HookConfig) error {
	if w == nil {
		return nil
	}
	all := func(s *policy.LabelSelector) bool {
		return s != nil && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
	}
	if all(w.PodSelector) && all(w.ContainerSelector) && all(w.HostSelector) {
		return nil
	}
	sc, err := c.newScope(path, w.PodSelector, w.ContainerSelector, w.HostSelector, "")
	if sc == nil || err != nil {
		return err
	}
	idx, ok := c.workloads[path]
	if !ok {
		idx = len(c.out.Workloads)
		c.workloads[path] = idx
		c.out.Workloads = append(c.out.Workloads, sc)
	}
	return c.cond(cfg, path, tracing.Cond{Selector: sel, Subject: tracing.SubjWorkload, V1: int64(idx)})
}

// PointWorkloads points the conditions of c's matchWorkloads at the ids
// their scopes have in the kernel: ids[i] is Workloads[i]'s.
func (c *Compiled) PointWorkloads(ids []uint32) error {
	if len(ids) != len(c.Workloads) {
		return fmt.Errorf("%d workload ids for %d workload scopes", len(ids), len(c.Workloads))
	}
	point := func(cfg *tracing.HookConfig) {
		for i := range cfg.NConds {
			if cd := &cfg.Conds[i]; cd.Subject == tracing.SubjWorkload {
				cd.V1 = int64(ids[cd.V1])
			}
		}
	}
	for i := range c.Program.Hooks {
		point(&c.Program.Hooks[i].Config)
	}
	for i := range c.Program.Funcs {
		point(&c.Program.Funcs[i].Config)
	}
	return nil
}
