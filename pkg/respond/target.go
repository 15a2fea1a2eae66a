package respond

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// startSlack is how far the start time /proc gives may be from the
// alert's for the process to be the same: /proc's boot time is in
// seconds.
const startSlack = 2 * time.Second

// target is a process pinned by a pidfd, so that signals reach it and not
// a process that later reuses its pid.
type target struct {
	pid int
	fd  int
}

// open pins the alert's process, checking that its pid was not reused
// since the alert.
func (e *Engine) open(a *alert) (*target, error) {
	if a.proc == nil || a.proc.Pid == 0 {
		return nil, skipped("the alert names no process")
	}
	t, err := pin(int(a.proc.Pid))
	if err != nil {
		return nil, err
	}
	if err := t.startedAt(a.proc.StartTime); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

// openGuarded is open for kills and freezes: the guard must allow the
// process.
func (e *Engine) openGuarded(a *alert, r Response) (*target, error) {
	t, err := e.open(a)
	if err != nil {
		return nil, err
	}
	if why := e.guard.target(a, r.AllowPid1); why != "" {
		t.close()
		return nil, refusal{why: why}
	}
	return t, nil
}

func pin(pid int) (*target, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	return &target{pid: pid, fd: fd}, nil
}

// startedAt checks the process started when the alert says, when it says.
func (t *target) startedAt(start string) error {
	want, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return nil
	}
	st, err := readStat(t.pid)
	if err != nil {
		return fmt.Errorf("process %d: %w", t.pid, err)
	}
	if d := startTime(st).Sub(want).Abs(); d > startSlack {
		return fmt.Errorf("pid %d is another process now: it started %v away from the alert's", t.pid, d)
	}
	return nil
}

func (t *target) signal(sig unix.Signal) error {
	if err := unix.PidfdSendSignal(t.fd, sig, nil, 0); err != nil {
		return fmt.Errorf("pid %d: %s: %w", t.pid, unix.SignalName(sig), err)
	}
	return nil
}

func (t *target) close() { unix.Close(t.fd) }
