package main

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is one configuration of a side-by-side measurement: run does the
// work under it and returns the seconds it took.
type config struct {
	name string
	run  func() (float64, error)
}

// alternate runs every configuration once per round, rotating the order,
// and returns each one's times.
func alternate(rounds int, configs []config) ([][]float64, error) {
	times := make([][]float64, len(configs))
	for r := 0; r < rounds; r++ {
		for j := range configs {
			i := (j + r) % len(configs)
			t, err := configs[i].run()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", configs[i].name, err)
			}
			times[i] = append(times[i], t)
		}
	}
	return times, nil
}

// stormOf runs the shell command line n times in a loop.
func stormOf(n int, line string) (float64, error) {
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do `+line+`; i=$((i+1)); done`, strconv.Itoa(n))
	err := cmd.Run()
	return time.Since(start).Seconds(), err
}

// underAgent runs work while `vigil agent` runs with args, its events going
// to /dev/null.
func underAgent(bin string, args []string, work func() (float64, error)) (float64, error) {
	a, err := startAgent(bin, args, false)
	if err != nil {
		return 0, err
	}
	defer a.stop()
	return work()
}

// agent is a running `vigil agent`.
type agent struct {
	cmd *exec.Cmd
	out io.ReadCloser // its stdout, when asked for
}

// startAgent starts `vigil agent` with args and returns once it has taken
// its snapshot of running processes. With pipe set, its events can be read
// from out; they go to /dev/null otherwise.
func startAgent(bin string, args []string, pipe bool) (*agent, error) {
	a := &agent{cmd: exec.Command(bin, append([]string{"agent", "--api-socket", ""}, args...)...)}
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if pipe {
		if a.out, err = a.cmd.StdoutPipe(); err != nil {
			return nil, err
		}
	}
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(stderr)
	var log []string
	for sc.Scan() {
		if strings.Contains(sc.Text(), "snapshot of running processes done") {
			go func() { // keep draining the agent's log
				for sc.Scan() {
				}
			}()
			return a, nil
		}
		log = append(log, sc.Text())
	}
	_ = a.cmd.Wait()
	return nil, fmt.Errorf("the agent stopped before it was ready: %s", strings.Join(log, "\n"))
}

func (a *agent) pid() int { return a.cmd.Process.Pid }

// terminate asks the agent to stop: it drains what the kernel wrote,
// writes its last events and exits. A caller reading out reads to its end
// before calling wait.
func (a *agent) terminate() { _ = a.cmd.Process.Signal(syscall.SIGTERM) }

func (a *agent) wait() error { return a.cmd.Wait() }

// stop stops an agent whose events nobody reads.
func (a *agent) stop() error {
	a.terminate()
	return a.wait()
}
