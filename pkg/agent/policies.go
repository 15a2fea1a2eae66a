package agent

import "github.com/vigil-sec/vigil/pkg/lifecycle"

// The policy lifecycle's types, as the agent's API hands them out.
type (
	// PolicyInfo is a policy as the API lists it.
	PolicyInfo = lifecycle.PolicyInfo
	// HookCount is one loaded hook's counts in the kernel.
	HookCount = lifecycle.HookCount
	// SelectorCount is the matches of a policy's selectors with a label.
	SelectorCount = lifecycle.SelectorCount
	// Load is a policy about to load, as guardrails see it.
	Load = lifecycle.Load
	// Guard decides whether a policy may load.
	Guard = lifecycle.Guard
	// GuardError is a policy that guardrails refused.
	GuardError = lifecycle.GuardError
	// State is where a policy stands.
	State = lifecycle.State
)

// Policy states, as the API lists them.
const (
	StateLoaded   = lifecycle.StateLoaded
	StateDisabled = lifecycle.StateDisabled
	StateError    = lifecycle.StateError
	// StateNotSelected: kept out of the kernel by spec.nodeSelector
	StateNotSelected = lifecycle.StateNotSelected
)
