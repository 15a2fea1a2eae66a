// Package guard evaluates guardrails written in Rego whenever a
// TracingPolicy is about to load, from any source; their deny messages
// refuse it.
//
// Guardrails are Rego v1 modules (files, or the values of a ConfigMap)
// compiled together. Each adds messages to the set
// data.vigil.guardrails.deny:
//
//	package vigil.guardrails
//
//	deny contains msg if {
//		input.enforces
//		not input.scoped
//		msg := sprintf("require-scope: %s kills or denies on every process", [input.policy.name])
//	}
//
// A policy is refused when the set is not empty; the messages, sorted, are
// the reasons of the *agent.GuardError that Check returns. A guardrail that
// fails to evaluate (a runtime error, a deny that is not a set or array)
// refuses the policy too. A Guard with no modules allows everything.
//
// # Input
//
// Guardrails see this input document (Input returns it as JSON, for
// `opa eval -i` or `opa test`):
//
//	{
//	  "policy": {
//	    "apiVersion":  "vigil.dev/v1alpha1" or "cilium.io/v1alpha1",
//	    "kind":        "TracingPolicy" or "TracingPolicyNamespaced",
//	    "name":        metadata.name,
//	    "namespace":   metadata.namespace ("" for a TracingPolicy),
//	    "qualifiedName": the name in the agent and its events:
//	                   "namespace/name" for a TracingPolicyNamespaced,
//	    "labels":      metadata.labels ({} when none),
//	    "annotations": metadata.annotations ({} when none),
//	    "spec":        the spec as the YAML or CRD wrote it (camelCase keys;
//	                   fields left out are absent, e.g. a kprobe's "syscall")
//	  },
//	  "source":     where the policy comes from: a file path, "api", or
//	                "crd:<group>/<name>",
//	  "role":       the API caller's role: "admin", "operator", "readonly";
//	                "" for files and CRDs,
//	  "enforces":   whether any selector (or selectorsMacros entry) has a
//	                Sigkill, Signal or Override action,
//	  "actions":    the distinct actions of all selectors and
//	                selectorsMacros entries, sorted, e.g. ["Post", "Sigkill"],
//	  "hooks":      one object per hooked function, see below,
//	  "scoped":     whether the policy is limited to pods: a
//	                TracingPolicyNamespaced, or spec.podSelector or
//	                spec.containerSelector set,
//	  "host":       whether spec.hostSelector is set (host processes, alone
//	                or besides pods),
//	  "namespaces": the namespace of a TracingPolicyNamespaced; [] otherwise
//	}
//
// Each entry of "hooks" is {"type", "name", "path", "actions"}:
//
//	type        name                                path
//	kprobe      the call, e.g. "sys_openat"         -
//	fentry      the call                            -
//	tracepoint  "subsystem/event"                   -
//	lsmhook     the hook, e.g. "file_open"          -
//	uprobe      a symbol (one entry per symbol; ""  the binary
//	            for offsets)
//	usdt        "provider:name"                     the binary
//
// A call "list:NAME" of a list in spec.lists with values gives one entry
// per value; a list without values (a generated_ftrace pattern) stays
// "list:NAME". "path" is absent unless the hook has one. "actions" are the
// distinct actions of the hook's selectors, their macros included.
//
// A podSelector of a TracingPolicy matches pod labels in every namespace:
// "namespaces" says only which namespace a TracingPolicyNamespaced is
// confined to. The input has no policy mode: spec.options policy-mode
// switches without a reload, so guardrails do not see it.
package guard
