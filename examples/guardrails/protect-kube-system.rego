# protect-kube-system: nothing may kill, signal or deny (Sigkill, Signal,
# Override) in kube-system: not a TracingPolicyNamespaced there, not a
# podSelector that names kube-system, not a policy on every pod.
package vigil.guardrails

deny contains msg if {
	used := [a | some a in input.actions; a in {"Sigkill", "Signal", "Override"}]
	count(used) > 0
	some where in kube_system_reach
	msg := sprintf(
		"protect-kube-system: %s %q uses %s %s; nothing may kill, signal or deny in kube-system",
		[input.policy.kind, input.policy.qualifiedName, concat(", ", used), where],
	)
}

kube_system_reach contains "in namespace kube-system" if {
	"kube-system" in input.namespaces
}

kube_system_reach contains "on pods its spec.podSelector selects by \"kube-system\"" if {
	some v in input.policy.spec.podSelector.matchLabels
	v == "kube-system"
}

kube_system_reach contains "on pods its spec.podSelector selects by \"kube-system\"" if {
	some e in input.policy.spec.podSelector.matchExpressions
	"kube-system" in e.values
}

kube_system_reach contains "on every pod, kube-system's included" if {
	not input.scoped
	not input.host
}
