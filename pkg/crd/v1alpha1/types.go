package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// TracingPolicy says what to hook on every node, what to select in the
// kernel and what to do.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=tracingpolicies,singular=tracingpolicy,shortName={tp,tps},categories=vigil
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.options[?(@.name=="policy-mode")].value`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TracingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              policy.TracingPolicySpec `json:"spec"`
	Status            PolicyStatus             `json:"status,omitempty"`
}

// TracingPolicyNamespaced is a TracingPolicy that applies only to the pods
// of its namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,path=tracingpoliciesnamespaced,singular=tracingpolicynamespaced,shortName={tpn,tpsn},categories=vigil
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.options[?(@.name=="policy-mode")].value`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TracingPolicyNamespaced struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              policy.TracingPolicySpec `json:"spec"`
	Status            PolicyStatus             `json:"status,omitempty"`
}

// PolicyStatus is where each node's agent reports the policy.
type PolicyStatus struct {
	// Nodes holds one entry per node, written by that node's agent (with
	// server-side apply, so that each owns its own entry).
	// +listType=map
	// +listMapKey=node
	Nodes []NodeStatus `json:"nodes,omitempty"`
}

// NodeStatus is one node's state of a policy.
type NodeStatus struct {
	Node string `json:"node"`
	// State is loaded, error, or not_selected (the node's labels do not
	// match spec.nodeSelector).
	// +kubebuilder:validation:Enum=loaded;error;not_selected
	State string `json:"state"`
	// Message says why the policy does not load, or what serves it.
	Message string `json:"message,omitempty"`
	// Backends are the kernel mechanisms that serve the policy's hooks.
	Backends []string `json:"backends,omitempty"`
	// Events and Actions count the policy's events and enforcement actions
	// on the node.
	Events  uint64      `json:"events,omitempty"`
	Actions uint64      `json:"actions,omitempty"`
	Updated metav1.Time `json:"updated,omitempty"`
}
