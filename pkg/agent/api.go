package agent

import (
	"fmt"
	"time"

	"github.com/vigil-sec/vigil/pkg/beacon"
	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// SourceAPI is the source of the policies added through the API.
const SourceAPI = "api"

// ListPolicies describes every policy the agent has, from any source.
func (a *Agent) ListPolicies() []PolicyInfo { return a.pols.List() }

// Policy describes one policy; false when there is none of that name.
func (a *Agent) Policy(name string) (PolicyInfo, bool) { return a.pols.Policy(name) }

// AddPolicies loads docs from the API for a caller of role, replacing
// earlier API policies of the same names; it stops at the first that does
// not load.
func (a *Agent) AddPolicies(docs []policy.Policy, role string) error {
	for _, p := range docs {
		if err := a.pols.ApplyAs(SourceAPI, role, p); err != nil {
			lifecycle.LogError(SourceAPI, compile.QualifiedName(p), err)
			return fmt.Errorf("policy %s: %w", compile.QualifiedName(p), err)
		}
	}
	return nil
}

// DeletePolicy removes a policy added through the API; the others belong
// to their file or resource.
func (a *Agent) DeletePolicy(name string) error {
	switch src := a.pols.Source(name); src {
	case "":
		return fmt.Errorf("no policy %q", name)
	case SourceAPI:
		return a.pols.Remove(name)
	default:
		return fmt.Errorf("policy %q comes from %s: remove it there (or disable it)", name, src)
	}
}

// EnablePolicy puts a disabled policy back in the kernel, if the guardrails
// allow it for a caller of role.
func (a *Agent) EnablePolicy(name, role string) error { return a.pols.Enable(name, role) }

// DisablePolicy takes a policy out of the kernel; it stays listed.
func (a *Agent) DisablePolicy(name string) error { return a.pols.Disable(name) }

// SetPolicyMode switches a loaded policy to "enforce" or "monitor".
func (a *Agent) SetPolicyMode(name, mode string) error {
	switch mode {
	case "enforce":
		return a.pols.SetMode(name, tracing.ModeEnforce)
	case "monitor":
		return a.pols.SetMode(name, tracing.ModeMonitor)
	}
	return fmt.Errorf("mode %q is neither enforce nor monitor", mode)
}

// Status is the agent's health at a glance.
type Status struct {
	NodeName         string
	Started          time.Time
	Events           uint64
	Lost             map[string]uint64 // by reason, as in lost_events records
	ProcessCacheSize uint64
	Requests         []beacon.Count // GetUrl and DnsLookup requests
}

// Status reports the agent's counters.
func (a *Agent) Status() Status {
	return Status{
		NodeName: a.cfg.Process.NodeName,
		Started:  a.started,
		Events:   a.stats.Events.Load(),
		Lost: map[string]uint64{
			event.LostRingBuffer:    a.stats.LostKernel.Load(),
			event.LostProcessMap:    a.stats.ProcmapFull.Load(),
			event.LostScopeMap:      a.stats.ScopeFull.Load(),
			event.LostReturnMap:     a.stats.ReturnFull.Load(),
			event.LostReturnPending: a.stats.ReturnPending.Load(),
			event.LostStackTrace:    a.stats.StackFailed.Load(),
			event.LostIMAHash:       a.stats.IMAFull.Load(),
			event.LostDecode:        a.stats.DecodeErrors.Load(),
			// events went out, their buffers marked short
			event.LostDataRingBuffer: a.stats.DataFull.Load(),
			event.LostDataRecords:    a.stats.DataDropped.Load(),
		},
		ProcessCacheSize: a.stats.ProcessCache.Load(),
		Requests:         a.beacon.Counts(),
	}
}

// HookCounts lists the counts of every loaded hook.
func (a *Agent) HookCounts() []HookCount { return a.pols.HookCounts() }

// SelectorCounts lists the matches of every loaded selector with a
// label, by policy and label.
func (a *Agent) SelectorCounts() []SelectorCount { return a.pols.SelectorCounts() }
