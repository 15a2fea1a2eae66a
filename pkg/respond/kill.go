package respond

import (
	"errors"

	"golang.org/x/sys/unix"
)

// stopRounds bounds the scans for children forked while the tree stops.
const stopRounds = 16

// kill answers {"action": "kill"}: SIGKILL to the process and its
// descendants.
func (e *Engine) kill(a *alert, r Response, res *Result) error {
	t, err := e.openGuarded(a, r)
	if err != nil {
		return err
	}
	defer t.close()
	if err := e.charge(a); err != nil {
		return err
	}
	res.Killed, err = killTree(t, e.guard)
	return err
}

// killTree stops root and its descendants with SIGSTOP, parents first,
// until no new child appears, then sends SIGKILL deepest first, root last.
// Stopped processes cannot fork, and their pids cannot be reused.
func killTree(root *target, g *guard) ([]int, error) {
	members, err := stopTree(root, g)
	defer closeAll(members[1:])
	if err != nil {
		return nil, err
	}
	var killed []int
	var errs []error
	for i := len(members) - 1; i >= 0; i-- {
		if err := members[i].signal(unix.SIGKILL); err != nil {
			errs = append(errs, err)
			continue
		}
		killed = append(killed, members[i].pid)
	}
	return killed, errors.Join(errs...)
}

// stopTree stops root and every descendant, pinned, root first; if the
// guard refuses one, all are resumed.
func stopTree(root *target, g *guard) ([]*target, error) {
	members := []*target{root}
	for _, pid := range tree(root.pid, parents())[1:] {
		if why := g.member(pid); why != "" {
			return members, refusal{why: "a descendant is " + why}
		}
	}
	if err := root.signal(unix.SIGSTOP); err != nil {
		return members, err
	}
	in := map[int]bool{root.pid: true}
	for range stopRounds {
		fresh, err := stopNew(root.pid, in, g)
		members = append(members, fresh...)
		if err != nil {
			resume(members)
			return members, err
		}
		if len(fresh) == 0 {
			break
		}
	}
	return members, nil
}

// stopNew pins and stops the descendants of root not in yet.
func stopNew(root int, in map[int]bool, g *guard) ([]*target, error) {
	var fresh []*target
	for _, pid := range tree(root, parents())[1:] {
		if in[pid] {
			continue
		}
		m, err := pin(pid)
		if err != nil {
			continue // gone
		}
		// pinned, it is still the child of a stopped member
		if st, err := readStat(pid); err != nil || !in[st.ppid] {
			m.close()
			continue
		}
		if why := g.member(pid); why != "" {
			m.close()
			return fresh, refusal{why: "a descendant is " + why}
		}
		in[pid] = true
		fresh = append(fresh, m)
		_ = m.signal(unix.SIGSTOP)
	}
	return fresh, nil
}

func resume(members []*target) {
	for _, m := range members {
		_ = m.signal(unix.SIGCONT)
	}
}

func closeAll(ts []*target) {
	for _, t := range ts {
		t.close()
	}
}
