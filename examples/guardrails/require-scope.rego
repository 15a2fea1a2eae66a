# require-scope: a policy that kills, signals or denies (Sigkill, Signal,
# Override) must be confined to a namespace (TracingPolicyNamespaced) or to
# pods (spec.podSelector or spec.containerSelector), never every process.
package vigil.guardrails

deny contains msg if {
	input.enforces
	not input.scoped
	used := [a | some a in input.actions; a in {"Sigkill", "Signal", "Override"}]
	msg := sprintf(
		"require-scope: %s %q uses %s on every process; confine it to a namespace (TracingPolicyNamespaced) or to pods (spec.podSelector)",
		[input.policy.kind, input.policy.qualifiedName, concat(", ", used)],
	)
}
