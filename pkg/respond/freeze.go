package respond

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// freezeWait bounds the wait for a cgroup to report frozen.
const freezeWait = 2 * time.Second

// freezeAndKill answers {"action": "freeze_and_kill"}: freeze the
// process's cgroup, capture evidence, kill the tree, thaw. Every process
// of the cgroup pauses meanwhile. Without a freezable cgroup the evidence
// and the kill still happen, and the result says why it did not freeze.
func (e *Engine) freezeAndKill(a *alert, r Response, res *Result) error {
	t, err := e.openGuarded(a, r)
	if err != nil {
		return err
	}
	defer t.close()
	if err := e.charge(a); err != nil {
		return err
	}
	var errs []error
	dir, err := freeze(t.pid)
	if err != nil {
		errs = append(errs, fmt.Errorf("freeze: %w", err))
	} else {
		res.Frozen = dir
		if e.opts.AfterFreeze != nil {
			e.opts.AfterFreeze(dir)
		}
	}
	res.Evidence, err = e.capture(a, r, t.pid, dir)
	errs = append(errs, err)
	res.Killed, err = killTree(t, e.guard)
	errs = append(errs, err)
	if dir != "" {
		errs = append(errs, thaw(dir))
	}
	return errors.Join(errs...)
}

// freeze freezes pid's cgroup v2 and waits until it reports frozen,
// refusing the root cgroup and any that holds the agent.
func freeze(pid int) (string, error) {
	rel, err := cgroupOf(pid)
	if err != nil {
		return "", err
	}
	self, err := cgroupOf(os.Getpid())
	if err != nil {
		return "", err
	}
	switch {
	case rel == "/":
		return "", errors.New("the process is in the root cgroup")
	case self == rel || strings.HasPrefix(self, rel+"/"):
		return "", fmt.Errorf("cgroup %s holds the agent", rel)
	}
	mnt, err := cgroup2Mount()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(mnt, rel)
	if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("1"), 0); err != nil {
		return "", err
	}
	if err := waitFrozen(dir); err != nil {
		return "", errors.Join(err, thaw(dir))
	}
	return dir, nil
}

func waitFrozen(dir string) error {
	deadline := time.Now().Add(freezeWait)
	for time.Now().Before(deadline) {
		if frozen(dir) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("%s did not report frozen within %v", dir, freezeWait)
}

// frozen reads the cgroup's cgroup.events.
func frozen(dir string) bool {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	for _, line := range strings.Split(string(b), "\n") {
		if line == "frozen 1" {
			return true
		}
	}
	return false
}

func thaw(dir string) error {
	err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte("0"), 0)
	if err != nil {
		logrus.WithError(err).WithField("cgroup", dir).Error("could not thaw a cgroup")
	}
	return err
}

// cgroupOf returns pid's cgroup v2 path, from the "0::" line of
// /proc/PID/cgroup.
func cgroupOf(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			return rel, nil
		}
	}
	return "", fmt.Errorf("process %d has no cgroup v2", pid)
}

// cgroup2Mount is where cgroup v2 is mounted, from /proc/mounts.
var cgroup2Mount = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "cgroup2" {
			return f[1], nil
		}
	}
	return "", errors.New("cgroup v2 is not mounted")
})
