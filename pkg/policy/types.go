package policy

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// API versions and kinds accepted by Parse. Both API versions share one
// schema.
const (
	APIVersionCilium            = "cilium.io/v1alpha1"
	APIVersionVigil             = "vigil.dev/v1alpha1"
	KindTracingPolicy           = "TracingPolicy"
	KindTracingPolicyNamespaced = "TracingPolicyNamespaced"
)

// Policy is one parsed and validated document: a *TracingPolicy or a
// *TracingPolicyNamespaced.
type Policy interface {
	GetAPIVersion() string
	GetKind() string
	GetName() string
	GetNamespace() string
	GetSpec() *TracingPolicySpec
}

// TypeMeta is the apiVersion and kind of a document.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// GetAPIVersion returns the document's apiVersion.
func (m TypeMeta) GetAPIVersion() string { return m.APIVersion }

// GetKind returns the document's kind.
func (m TypeMeta) GetKind() string { return m.Kind }

// ObjectMeta is the subset of Kubernetes object metadata that a policy file
// may carry.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// GetName returns metadata.name.
func (m ObjectMeta) GetName() string { return m.Name }

// GetNamespace returns metadata.namespace, empty for a cluster-scoped policy.
func (m ObjectMeta) GetNamespace() string { return m.Namespace }

// TracingPolicy is a cluster-scoped policy.
//
// +kubebuilder:resource:singular="tracingpolicy",path="tracingpolicies",scope="Cluster"
type TracingPolicy struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       TracingPolicySpec `json:"spec"`
}

// GetSpec returns the policy's spec.
func (p *TracingPolicy) GetSpec() *TracingPolicySpec { return &p.Spec }

// TracingPolicyNamespaced is a policy that applies to the pods of one
// Kubernetes namespace.
//
// +kubebuilder:resource:singular="tracingpolicynamespaced",path="tracingpoliciesnamespaced",scope="Namespaced"
type TracingPolicyNamespaced struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`
	Spec       TracingPolicySpec `json:"spec"`
}

// GetSpec returns the policy's spec.
func (p *TracingPolicyNamespaced) GetSpec() *TracingPolicySpec { return &p.Spec }

// TracingPolicySpec says what to hook, what to filter and what to do.
type TracingPolicySpec struct {
	// Kernel functions and syscalls.
	KProbes []KProbeSpec `json:"kprobes,omitempty"`
	// Kernel functions, attached with fentry/fexit.
	Fentries []KProbeSpec `json:"fentries,omitempty"`
	// Kernel tracepoints.
	Tracepoints []TracepointSpec `json:"tracepoints,omitempty"`
	// User-space functions.
	UProbes []UProbeSpec `json:"uprobes,omitempty"`
	// User-space statically defined tracepoints.
	Usdts []UsdtSpec `json:"usdts,omitempty"`
	// BPF LSM hooks.
	LsmHooks []LsmHookSpec `json:"lsmhooks,omitempty"`
	// Emit loader events (executable mappings).
	Loader bool `json:"loader,omitempty"`
	// Named lists of functions or syscalls, referred to as "list:NAME".
	Lists []ListSpec `json:"lists,omitempty"`
	// Calls in which a NotifyEnforcer action takes effect.
	Enforcers []EnforcerSpec `json:"enforcers,omitempty"`
	// Per-policy options.
	Options []OptionSpec `json:"options,omitempty"`
	// Named selectors that hook selectors include through macros.
	SelectorsMacros map[string]KProbeSelector `json:"selectorsMacros,omitempty"`
	// Pods the policy applies to.
	PodSelector *LabelSelector `json:"podSelector,omitempty"`
	// Containers the policy applies to; only the "name" key is supported.
	ContainerSelector *LabelSelector `json:"containerSelector,omitempty"`
	// Host (non-pod) processes: null for none, {} for all.
	HostSelector *LabelSelector `json:"hostSelector,omitempty"`
	// Nodes, by label, on which the policy is loaded.
	NodeSelector *LabelSelector `json:"nodeSelector,omitempty"`
}

// KProbeSpec hooks a kernel function or syscall (kprobes and fentries).
type KProbeSpec struct {
	// Function name, or "list:NAME" for every function of a list.
	Call string `json:"call"`
	// Whether Call is a syscall. Unset means true, as in Tetragon.
	// +kubebuilder:default=true
	Syscall *bool `json:"syscall,omitempty"`
	// Also hook the function's return.
	Return bool `json:"return,omitempty"`
	// Text copied into every event, at most MaxMessageLen bytes.
	Message string `json:"message,omitempty"`
	// Function arguments to read.
	Args []KProbeArg `json:"args,omitempty"`
	// Extra data to read (for example from the current task).
	Data []KProbeArg `json:"data,omitempty"`
	// The return value to read.
	ReturnArg *KProbeArg `json:"returnArg,omitempty"`
	// Action on the return value: Post, TrackSock or UntrackSock.
	ReturnArgAction string `json:"returnArgAction,omitempty"`
	// In-kernel filters, ORed.
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	// Tags copied into every event, at most MaxTags.
	Tags []string `json:"tags,omitempty"`
	// Conditions under which a failure to hook is not an error.
	Ignore *IgnoreSpec `json:"ignore,omitempty"`
}

// IsSyscall reports whether the hooked function is a syscall.
func (k *KProbeSpec) IsSyscall() bool { return k.Syscall == nil || *k.Syscall }

// HooksSyscalls reports whether kprobes entry k of s hooks syscalls: for
// a call of a typed list, the list's type says (as in Tetragon), else
// k.IsSyscall.
func (s *TracingPolicySpec) HooksSyscalls(k *KProbeSpec) bool {
	if name, ok := strings.CutPrefix(k.Call, "list:"); ok {
		for _, l := range s.Lists {
			if l.Name == name && l.Type != "" {
				return l.Type != "generated_ftrace"
			}
		}
	}
	return k.IsSyscall()
}

// IgnoreSpec lists hook failures to tolerate.
type IgnoreSpec struct {
	// Skip the hook when the function does not exist in this kernel.
	CallNotFound bool `json:"callNotFound,omitempty"`
}

// KProbeArg describes one argument (or the return value) to read.
type KProbeArg struct {
	// Argument position; for tracepoints, the format field position.
	Index uint32 `json:"index"`
	// Argument type; empty means "auto" (from BTF).
	// +kubebuilder:default=auto
	Type string `json:"type,omitempty"`
	// BTF member path to follow from the argument, e.g. "mm.owner.comm".
	Resolve string `json:"resolve,omitempty"`
	// Where to read from, for data entries (e.g. "current_task").
	Source string `json:"source,omitempty"`
	// BTF type to cast the argument to before Resolve.
	BTFType string `json:"btfType,omitempty"`
	// Kernel module whose BTF defines BTFType.
	BTFTypeModule string `json:"btfTypeModule,omitempty"`
	// For char_buf and char_iovec: one-based position of the size argument.
	SizeArgIndex uint32 `json:"sizeArgIndex,omitempty"`
	// For char_buf and char_iovec: read the buffer at function return.
	ReturnCopy bool `json:"returnCopy,omitempty"`
	// For char_buf: read up to the maximum size instead of 4096 bytes.
	MaxData bool `json:"maxData,omitempty"`
	// Name of the argument in events.
	Label string `json:"label,omitempty"`
}

// TracepointSpec hooks a kernel tracepoint.
type TracepointSpec struct {
	Subsystem string `json:"subsystem"`
	Event     string `json:"event"`
	// Attach as a raw tracepoint (arguments are the raw TP_PROTO ones).
	Raw       bool             `json:"raw,omitempty"`
	Message   string           `json:"message,omitempty"`
	Args      []KProbeArg      `json:"args,omitempty"`
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	Tags      []string         `json:"tags,omitempty"`
}

// UProbeSpec hooks functions of a user-space binary.
type UProbeSpec struct {
	// Absolute path of the binary or library.
	Path string `json:"path"`
	// Symbols to hook.
	Symbols []string `json:"symbols,omitempty"`
	// Offsets added to the symbols (or, without symbols, file offsets).
	Offsets []uint64 `json:"offsets,omitempty"`
	// Reference counter (semaphore) offsets, one per symbol.
	RefCtrOffsets []uint64 `json:"refCtrOffsets,omitempty"`
	// Addresses to hook, instead of symbols.
	Addrs []uint64 `json:"addrs,omitempty"`
	// Expected digests of the binary.
	BinaryDigests []string `json:"binaryDigests,omitempty"`
	// BTF file describing the binary's types.
	BTFPath string `json:"btfPath,omitempty"`
	// Conditions under which a failure to hook is not an error.
	Ignore *UprobeIgnoreSpec `json:"ignore,omitempty"`
	// Also hook the function's return.
	Return bool `json:"return,omitempty"`
	// The return value to read.
	ReturnArg *KProbeArg       `json:"returnArg,omitempty"`
	Message   string           `json:"message,omitempty"`
	Args      []KProbeArg      `json:"args,omitempty"`
	Data      []KProbeArg      `json:"data,omitempty"`
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	Tags      []string         `json:"tags,omitempty"`
}

// UprobeIgnoreSpec lists uprobe failures to tolerate.
type UprobeIgnoreSpec struct {
	// Hook the binary even when its digest is not one of binaryDigests.
	DigestVerificationFailure bool `json:"digestVerificationFailure,omitempty"`
}

// UsdtSpec hooks a user-space statically defined tracepoint.
type UsdtSpec struct {
	Path      string           `json:"path"`
	Provider  string           `json:"provider"`
	Name      string           `json:"name"`
	BTFPath   string           `json:"btfPath,omitempty"`
	Message   string           `json:"message,omitempty"`
	Args      []KProbeArg      `json:"args,omitempty"`
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	Tags      []string         `json:"tags,omitempty"`
}

// LsmHookSpec hooks a BPF LSM hook.
type LsmHookSpec struct {
	// LSM hook name, without the "security_" prefix (e.g. "file_open").
	Hook      string           `json:"hook"`
	Message   string           `json:"message,omitempty"`
	Args      []KProbeArg      `json:"args,omitempty"`
	Selectors []KProbeSelector `json:"selectors,omitempty"`
	Tags      []string         `json:"tags,omitempty"`
}

// KProbeSelector is one in-kernel filter with its actions. Its match
// fields are ANDed.
type KProbeSelector struct {
	MatchPIDs              []PIDSelector              `json:"matchPIDs,omitempty"`
	MatchArgs              []ArgSelector              `json:"matchArgs,omitempty"`
	MatchData              []ArgSelector              `json:"matchData,omitempty"`
	MatchReturnArgs        []ArgSelector              `json:"matchReturnArgs,omitempty"`
	MatchBinaries          []BinarySelector           `json:"matchBinaries,omitempty"`
	MatchParentBinaries    []BinarySelector           `json:"matchParentBinaries,omitempty"`
	MatchNamespaces        []NamespaceSelector        `json:"matchNamespaces,omitempty"`
	MatchNamespaceChanges  []NamespaceChangesSelector `json:"matchNamespaceChanges,omitempty"`
	MatchCapabilities      []CapabilitiesSelector     `json:"matchCapabilities,omitempty"`
	MatchCapabilityChanges []CapabilitiesSelector     `json:"matchCapabilityChanges,omitempty"`
	MatchActions           []ActionSelector           `json:"matchActions,omitempty"`
	MatchReturnActions     []ActionSelector           `json:"matchReturnActions,omitempty"`
	// Names of spec.selectorsMacros entries merged into this selector.
	Macros []string `json:"macros,omitempty"`
	// Name of the selector in status and metrics.
	Label string `json:"label,omitempty"`
	// Workloads the selector applies to.
	MatchWorkloads *WorkloadSelector `json:"matchWorkloads,omitempty"`
}

// WorkloadSelector selects pods, containers and host processes, as the
// spec's selectors of the same names.
type WorkloadSelector struct {
	PodSelector       *LabelSelector `json:"podSelector,omitempty"`
	ContainerSelector *LabelSelector `json:"containerSelector,omitempty"`
	HostSelector      *LabelSelector `json:"hostSelector,omitempty"`
}

// PIDSelector filters on process IDs.
type PIDSelector struct {
	Operator string   `json:"operator"`
	Values   []uint32 `json:"values"`
	// Values are PIDs in the process's PID namespace.
	IsNamespacePID bool `json:"isNamespacePID,omitempty"`
	// Also match descendants of the matching processes.
	FollowForks bool `json:"followForks,omitempty"`
}

// ArgSelector filters on an argument (matchArgs, matchData) or on the
// return value (matchReturnArgs).
type ArgSelector struct {
	// Argument to filter: for kprobes, uprobes, usdts and LSM hooks the
	// declared args[].index; for tracepoints the position in args.
	Index uint32 `json:"index,omitempty"`
	// Positions in the hook's args list; when set, they take precedence
	// over Index.
	Args     []uint32 `json:"args,omitempty"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// BinarySelector filters on the executable of the process.
type BinarySelector struct {
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
	// Also match the children of matching processes.
	FollowChildren bool `json:"followChildren,omitempty"`
}

// NamespaceSelector filters on the Linux namespaces of the process.
type NamespaceSelector struct {
	Namespace string `json:"namespace"`
	Operator  string `json:"operator"`
	// Namespace inode numbers, or "host_ns".
	Values []string `json:"values"`
}

// NamespaceChangesSelector filters on namespace changes of the process.
type NamespaceChangesSelector struct {
	Operator string `json:"operator"`
	// Namespace types, e.g. "Mnt".
	Values []string `json:"values"`
}

// CapabilitiesSelector filters on capabilities (or capability changes).
type CapabilitiesSelector struct {
	// Effective (default), Inheritable or Permitted.
	// +kubebuilder:default=Effective
	Type     string `json:"type,omitempty"`
	Operator string `json:"operator"`
	// Capabilities of the process's user namespace.
	IsNamespaceCapability bool `json:"isNamespaceCapability,omitempty"`
	// Capability names, e.g. "CAP_SYS_ADMIN".
	Values []string `json:"values"`
}

// ActionSelector is an action taken when its selector matches.
type ActionSelector struct {
	Action string `json:"action"`
	// URL to fetch (GetUrl).
	ArgURL string `json:"argUrl,omitempty"`
	// Name to resolve (DnsLookup).
	ArgFqdn string `json:"argFqdn,omitempty"`
	// Error returned to the caller (Override, NotifyEnforcer).
	ArgError int32 `json:"argError,omitempty"`
	// Signal number (Signal, NotifyEnforcer).
	ArgSig uint32 `json:"argSig,omitempty"`
	// Argument index of the socket (TrackSock, UntrackSock).
	ArgSock uint32 `json:"argSock,omitempty"`
	// Argument index to change (Set).
	ArgIndex uint32 `json:"argIndex,omitempty"`
	// Value to store (Set).
	ArgValue int64 `json:"argValue,omitempty"`
	// Post at most once per period: seconds, or with suffix s, m or h.
	RateLimit string `json:"rateLimit,omitempty"`
	// Rate limit key: thread (default), process or global.
	RateLimitScope string `json:"rateLimitScope,omitempty"`
	// Add the kernel stack to the event (Post).
	KernelStackTrace bool `json:"kernelStackTrace,omitempty"`
	// Add the user stack to the event (Post).
	UserStackTrace bool `json:"userStackTrace,omitempty"`
	// Add the IMA hash of the file to the event (Post, LSM hooks).
	ImaHash bool `json:"imaHash,omitempty"`
	// Override on uprobes: registers to set, as "reg=value".
	ArgRegs []string `json:"argRegs,omitempty"`
	// Override on uprobes: the symbol, address or offset to call instead.
	ArgNewSymbol string `json:"argNewSymbol,omitempty"`
	ArgNewAddr   int64  `json:"argNewAddr,omitempty"`
	ArgNewOffset int64  `json:"argNewOffset,omitempty"`
}

// ListSpec is a named list of functions or syscalls.
type ListSpec struct {
	Name string `json:"name"`
	// syscalls, generated_syscalls or generated_ftrace.
	Type   string   `json:"type,omitempty"`
	Values []string `json:"values,omitempty"`
	// Regular expression selecting functions (generated_ftrace).
	Pattern *string `json:"pattern,omitempty"`
	// The list was checked against the kernel already.
	Validated bool `json:"validated,omitempty"`
}

// EnforcerSpec names the calls where NotifyEnforcer actions take effect.
type EnforcerSpec struct {
	Calls []string `json:"calls"`
}

// OptionSpec is one per-policy option.
type OptionSpec struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// LabelSelector selects objects by label, as Kubernetes' LabelSelector.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one matchExpressions entry.
type LabelSelectorRequirement struct {
	Key string `json:"key"`
	// In, NotIn, Exists or DoesNotExist.
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// Selector is the Kubernetes label selector s describes.
func (s *LabelSelector) Selector() (labels.Selector, error) {
	ls := &metav1.LabelSelector{MatchLabels: s.MatchLabels}
	for _, e := range s.MatchExpressions {
		ls.MatchExpressions = append(ls.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: e.Key, Operator: metav1.LabelSelectorOperator(e.Operator), Values: e.Values})
	}
	return metav1.LabelSelectorAsSelector(ls)
}
