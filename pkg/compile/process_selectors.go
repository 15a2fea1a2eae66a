package compile

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"syscall"

	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/policy"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// processSelectors compiles the selectors on the process itself: its
// binary, its parent's binary, its namespaces and its capabilities.
func (c *compiler) processSelectors(path string, sel uint8, s *policy.KProbeSelector, cfg *tracing.HookConfig) error {
	for i := range s.MatchBinaries {
		if err := c.matchBinary(fmt.Sprintf("%s.matchBinaries[%d]", path, i), sel, tracing.SubjBinary, &s.MatchBinaries[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchParentBinaries {
		if err := c.matchBinary(fmt.Sprintf("%s.matchParentBinaries[%d]", path, i), sel, tracing.SubjParentBinary, &s.MatchParentBinaries[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchNamespaces {
		if err := c.matchNamespace(fmt.Sprintf("%s.matchNamespaces[%d]", path, i), sel, &s.MatchNamespaces[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchCapabilities {
		if err := c.matchCapability(fmt.Sprintf("%s.matchCapabilities[%d]", path, i), sel, tracing.SubjCaps, &s.MatchCapabilities[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchCapabilityChanges {
		if err := c.matchCapability(fmt.Sprintf("%s.matchCapabilityChanges[%d]", path, i), sel, tracing.SubjCapsChanged, &s.MatchCapabilityChanges[i], cfg); err != nil {
			return err
		}
	}
	for i := range s.MatchNamespaceChanges {
		if err := c.matchNamespaceChange(fmt.Sprintf("%s.matchNamespaceChanges[%d]", path, i), sel, &s.MatchNamespaceChanges[i], cfg); err != nil {
			return err
		}
	}
	if err := c.matchWorkloads(path+".matchWorkloads", sel, s.MatchWorkloads, cfg); err != nil {
		return err
	}
	return nil
}

// matchNamespaceChange: one of the namespaces named (In), or one of those
// not named (NotIn), differs from the process's at its exec (a forked
// process: its parent's), as in Tetragon.
func (c *compiler) matchNamespaceChange(path string, sel uint8, m *policy.NamespaceChangesSelector, cfg *tracing.HookConfig) error {
	var mask int64
	for i, v := range m.Values {
		kind := slices.Index(policy.NamespaceTypes, v)
		if kind < 0 {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "unknown namespace %q", v)
		}
		mask |= 1 << kind
	}
	if m.Operator == "NotIn" {
		mask ^= 1<<len(policy.NamespaceTypes) - 1
	}
	return c.cond(cfg, path, tracing.Cond{Selector: sel, Subject: tracing.SubjNsChanged, V1: mask})
}

// nsFiles are the /proc/PID/ns entries of policy.NamespaceTypes, in order.
var nsFiles = []string{"uts", "ipc", "mnt", "pid", "pid_for_children", "net", "time", "time_for_children", "cgroup", "user"}

// matchNamespace: the process's namespace of that type is (In) or is not
// (NotIn) one of the values, inode numbers or host_ns (PID 1's).
func (c *compiler) matchNamespace(path string, sel uint8, m *policy.NamespaceSelector, cfg *tracing.HookConfig) error {
	kind := slices.Index(policy.NamespaceTypes, m.Namespace)
	if kind < 0 {
		return unsupported(path+".namespace", "unknown namespace %q", m.Namespace)
	}
	set := c.newSet()
	for i, v := range m.Values {
		inum, err := nsInode(nsFiles[kind], v)
		if err != nil {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "%v", err)
		}
		c.out.Program.Ints = append(c.out.Program.Ints, tracing.IntKey{SetID: set, Value: int64(inum)})
	}
	return c.cond(cfg, path, tracing.Cond{Selector: sel, Subject: tracing.SubjNs, Op: tracing.CondEq,
		Negate: b2u(m.Operator == "NotIn"), SetID: set, V2: int64(kind)})
}

// nsInode reads a namespace value: an inode number, or host_ns.
func nsInode(file, v string) (uint64, error) {
	if v != "host_ns" {
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is neither a namespace inode number nor host_ns", v)
		}
		return n, nil
	}
	fi, err := os.Stat("/proc/1/ns/" + file)
	if err == nil {
		return fi.Sys().(*syscall.Stat_t).Ino, nil
	}
	if ino, ok := initNsInodes[file]; ok {
		return ino, nil
	}
	return 0, fmt.Errorf("host_ns: %w", err)
}

// initNsInodes are the fixed inode numbers of the initial namespaces
// (PROC_*_INIT_INO), for when PID 1's cannot be read. Mount and network
// namespaces have none.
var initNsInodes = map[string]uint64{
	"ipc": 0xEFFFFFFF, "uts": 0xEFFFFFFE, "user": 0xEFFFFFFD, "pid": 0xEFFFFFFC, "pid_for_children": 0xEFFFFFFC,
	"cgroup": 0xEFFFFFFB, "time": 0xEFFFFFFA, "time_for_children": 0xEFFFFFFA,
}

// matchCapability: the process has (In) or has none (NotIn) of the
// capabilities in its effective, inheritable or permitted set; for
// changes, as in Tetragon, one of them differs from its set at exec (In),
// or none of them does but another one does (NotIn). With
// isNamespaceCapability, only a process outside the host's user namespace
// matches.
func (c *compiler) matchCapability(path string, sel, subject uint8, m *policy.CapabilitiesSelector, cfg *tracing.HookConfig) error {
	set := map[string]int64{"": tracing.CapSetEffective, "Effective": tracing.CapSetEffective,
		"Inheritable": tracing.CapSetInheritable, "Permitted": tracing.CapSetPermitted}[m.Type]
	var mask int64
	for i, v := range m.Values {
		n := slices.Index(event.CapabilityNames, v)
		if n < 0 {
			return unsupported(fmt.Sprintf("%s.values[%d]", path, i), "unknown capability %q", v)
		}
		mask |= 1 << n
	}
	if m.IsNamespaceCapability {
		userNs := policy.NamespaceSelector{Namespace: "User", Operator: "NotIn", Values: []string{"host_ns"}}
		if err := c.matchNamespace(path+".isNamespaceCapability", sel, &userNs, cfg); err != nil {
			return err
		}
	}
	if subject == tracing.SubjCapsChanged && m.Operator == "NotIn" {
		// another capability changed: the complement did ...
		others := tracing.Cond{Selector: sel, Subject: subject, V1: mask ^ (1<<len(event.CapabilityNames) - 1), V2: set}
		if err := c.cond(cfg, path, others); err != nil {
			return err
		}
	}
	// ... and none of these (NotIn)
	return c.cond(cfg, path, tracing.Cond{Selector: sel, Subject: subject,
		Negate: b2u(m.Operator == "NotIn"), V1: mask, V2: set})
}
