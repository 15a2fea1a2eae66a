// Package respond evaluates response rules written in Rego on alerts —
// events that passed the in-kernel selectors and the export filters — and
// carries out the responses they decide in user space.
//
// Rules live in package vigil.responses. Each module that defines respond
// must also define match, a set of {"type": T, "policy": P} objects that
// is evaluated once when the rules load, without input: an event whose
// type and policy_name match none of them is dropped before it reaches
// OPA. Events that pass are queued; a worker goroutine evaluates
// data.vigil.responses.respond with the event as input and carries out
// the response objects it returns: kill, freeze_and_kill, evidence,
// annotate, label and sink. Budgets per workload and a never-touch list
// bound what the rules can do.
package respond
