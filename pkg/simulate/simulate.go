// Package simulate reproduces, harmlessly, what each policy of the
// detection library (policies/library) detects, and checks that the
// agent's events say so: an event of the policy, with the tags of one of
// its hooks, from a process the reproduction started.
//
// A reproduction that needs a process of its own (other credentials, new
// namespaces, a binary of a given name) runs this same binary as a step:
// Main, called first thing in main (or TestMain), runs the step its
// environment names and exits.
package simulate

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/pkg/event"
)

// A Case reproduces the behaviour one library policy detects.
type Case struct {
	Policy string // the library policy's metadata.name
	Does   string // what the reproduction does, for the report
	Run    func(*Env) error
}

// Env is what a reproduction runs with: a folder of its own, and the
// processes it started (not this one), which the check looks for in events.
type Env struct {
	Dir  string
	mu   sync.Mutex
	pids map[uint32]bool
}

// Start starts cmd and remembers its process.
func (e *Env) Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	e.mu.Lock()
	e.pids[uint32(cmd.Process.Pid)] = true
	e.mu.Unlock()
	return nil
}

// Run starts cmd, remembers its process and waits for it. Its exit status
// is not an error (most reproductions try what the kernel refuses), but a
// step's own failure is.
func (e *Env) Run(cmd *exec.Cmd) error {
	if err := e.Start(cmd); err != nil {
		return err
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		if code := ee.ExitCode(); code != stepFailed && code != noStep {
			return nil
		}
		return fmt.Errorf("%s: %w (its error is above)", cmd.Path, err)
	}
	return err
}

// Step is a command that runs step with args in a process of its own:
// this program again (see Main).
func (e *Env) Step(step string, args ...string) *exec.Cmd {
	return e.StepAs("/proc/self/exe", step, args...)
}

// StepAs is Step run from program, a copy of this one (SelfAs).
func (e *Env) StepAs(program, step string, args ...string) *exec.Cmd {
	cmd := exec.Command(program, args...)
	cmd.Env = append(os.Environ(), stepEnv+"="+step)
	cmd.Stderr = os.Stderr
	return cmd
}

// SelfAs puts this program at Dir/name (a hard link, or a copy across
// file systems or with copy set: file capabilities belong to the inode)
// and returns its path.
func (e *Env) SelfAs(name string, copy bool) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(e.Dir, name)
	if !copy && os.Link(self, dst) == nil {
		return dst, nil
	}
	return dst, copyFile(self, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// owns says whether the reproduction started pid (or is it).
func (e *Env) owns(pid uint32) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pids[pid]
}

// Result is one case's outcome: the event that shows it, or why none did.
type Result struct {
	Policy, Does string
	Event        *event.Event
	Tags         []string // the event's
	Err          error
}

// Options say how a run checks its cases.
type Options struct {
	// Tags are each policy's hooks' tags: an event must carry one hook's.
	Tags map[string][][]string
	// Wait is how long a case waits for its event.
	Wait time.Duration
}

// Run runs each case in turn and waits for its event among events (every
// event the agent writes, from before the first case starts).
func Run(ctx context.Context, cases []Case, events <-chan *event.Event, o Options) []Result {
	var out []Result
	for _, c := range cases {
		out = append(out, runOne(ctx, c, events, o))
	}
	return out
}

func runOne(ctx context.Context, c Case, events <-chan *event.Event, o Options) Result {
	r := Result{Policy: c.Policy, Does: c.Does}
	tags, ok := o.Tags[c.Policy]
	if !ok {
		r.Err = fmt.Errorf("no library policy named %s", c.Policy)
		return r
	}
	dir, err := os.MkdirTemp("", "vigil-simulate-")
	if err == nil {
		err = os.Chmod(dir, 0o755) // steps that run as nobody exec from it
	}
	if err != nil {
		r.Err = err
		return r
	}
	defer os.RemoveAll(dir)
	env := &Env{Dir: dir, pids: map[uint32]bool{}}
	if err := c.Run(env); err != nil {
		r.Err = fmt.Errorf("the reproduction failed: %w", err)
		return r
	}
	r.Event, r.Err = await(ctx, c.Policy, tags, env, events, o.Wait)
	if r.Event != nil {
		_, r.Tags, _, _ = policyOf(r.Event)
	}
	return r
}

// await returns the first event of policy from env's processes; an event
// of policy with tags other than its hooks' is an error.
func await(ctx context.Context, policy string, tags [][]string, env *Env, events <-chan *event.Event, wait time.Duration) (*event.Event, error) {
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		select {
		case ev := <-events:
			name, got, proc, parent := policyOf(ev)
			if name != policy || !(env.owns(pid(proc)) || env.owns(pid(parent))) {
				continue
			}
			if !slices.ContainsFunc(tags, func(t []string) bool { return slices.Equal(t, got) }) {
				return ev, fmt.Errorf("the event's tags %q are none of the policy's hooks' %q", got, tags)
			}
			return ev, nil
		case <-timeout.C:
			return nil, fmt.Errorf("no event of policy %s from the reproduction's processes within %v", policy, wait)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func pid(p *event.Process) uint32 {
	if p == nil {
		return 0
	}
	return p.Pid
}

// policyOf is a policy event's policy name, tags, process and parent.
func policyOf(ev *event.Event) (string, []string, *event.Process, *event.Process) {
	switch {
	case ev.ProcessKprobe != nil:
		e := ev.ProcessKprobe
		return e.PolicyName, e.Tags, e.Process, e.Parent
	case ev.ProcessLsm != nil:
		e := ev.ProcessLsm
		return e.PolicyName, e.Tags, e.Process, e.Parent
	case ev.ProcessTracepoint != nil:
		e := ev.ProcessTracepoint
		return e.PolicyName, e.Tags, e.Process, e.Parent
	}
	return "", nil, nil, nil
}
