package respond

import (
	"fmt"
	"os"
	"regexp"
)

// guard keeps kills and freezes off the processes that must live: PID 1,
// the agent, binaries on the never-touch list, and, unless the response
// allows it, a container's PID 1.
type guard struct {
	self  int
	never []*regexp.Regexp
}

func newGuard(patterns []string) (*guard, error) {
	g := &guard{self: os.Getpid()}
	if exe, err := os.Executable(); err == nil {
		patterns = append([]string{"^" + regexp.QuoteMeta(exe) + "$"}, patterns...)
	}
	for _, p := range patterns {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("never-touch pattern %q: %w", p, err)
		}
		g.never = append(g.never, re)
	}
	return g, nil
}

// target says why the alert's process may not be touched, or "".
func (g *guard) target(a *alert, allowPid1 bool) string {
	pid := int(a.proc.Pid)
	if why := g.binary(a.proc.Binary); why != "" {
		return why
	}
	if c := a.proc.Pod; !allowPid1 && c != nil && c.Container != nil && c.Container.Pid == 1 {
		return "a container's PID 1 (allow_pid1 not set)"
	}
	if !allowPid1 && pid != 1 && nsPid(pid) == 1 {
		return "a container's PID 1 (allow_pid1 not set)"
	}
	return g.member(pid)
}

// member says why a process of the tree to kill may not be touched, or "".
func (g *guard) member(pid int) string {
	switch pid {
	case 1:
		return "PID 1"
	case g.self:
		return "the agent itself"
	}
	return g.binary(exePath(pid))
}

func (g *guard) binary(path string) string {
	if path == "" {
		return ""
	}
	for _, re := range g.never {
		if re.MatchString(path) {
			return fmt.Sprintf("binary %s is on the never-touch list (%s)", path, re)
		}
	}
	return ""
}
