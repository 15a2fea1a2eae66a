// Package policy reads TracingPolicy documents: the Go API types, YAML
// parsing and strict validation.
//
// Vigil accepts Cilium Tetragon's TracingPolicy and TracingPolicyNamespaced
// resources unchanged, under apiVersion cilium.io/v1alpha1, and the same
// schema under vigil.dev/v1alpha1. Parse and ParseFile decode every document
// of a (multi-document) YAML stream, reject unknown fields, wrong types and
// misspelt names (suggesting the nearest valid one), check the semantics of
// hooks, arguments, selectors and actions, and report every problem found as
// an ErrorList whose entries name the file, line and YAML path.
//
// Where Tetragon's limits come from its BPF implementation, Vigil lifts them:
// see the Max* constants.
package policy
