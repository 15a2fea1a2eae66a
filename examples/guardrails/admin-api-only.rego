# admin-api-only: a policy that sends signals or overrides return values
# (Signal, Override) loads only through the API ("api") by an admin, never
# from a file, a CRD, or an operator.
package vigil.guardrails

deny contains msg if {
	used := [a | some a in input.actions; a in {"Signal", "Override"}]
	count(used) > 0
	not admin_through_api
	msg := sprintf(
		"admin-api-only: %s %q uses %s but comes from %q with role %q; Signal and Override load only through the API by an admin",
		[input.policy.kind, input.policy.qualifiedName, concat(", ", used), input.source, input.role],
	)
}

admin_through_api if {
	input.source == "api"
	input.role == "admin"
}
