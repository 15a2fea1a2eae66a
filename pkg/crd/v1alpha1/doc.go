// Package v1alpha1 is the Kubernetes API of Vigil's TracingPolicy and
// TracingPolicyNamespaced custom resources, from which controller-gen writes
// crds/ (make generate). The spec is pkg/policy's; the status is each
// node's own entry.
//
// +groupName=vigil.dev
// +versionName=v1alpha1
package v1alpha1
