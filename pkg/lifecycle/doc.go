// Package lifecycle is the one serialized path of every policy change:
// add, replace, enable, disable, mode and remove, whatever the source
// (files, the policy directory, CRDs, the API). Each policy has one record
// (its state, the version in the kernel, the last error); every operation
// takes the one lock for its whole length, guardrails included, so no two
// changes interleave. An install is all or nothing (tracing.Hooks.Install
// undoes itself), and a failed replace leaves the old version whole.
// With a Store, every loaded or disabled policy is written to disk, so a
// restarted agent installs them again before it lets go of the programs
// its predecessor left pinned.
package lifecycle
