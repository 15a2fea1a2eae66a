package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// metricsURL is where the agent serves its metrics by default.
const metricsURL = "http://127.0.0.1:2112/metrics"

// memory measures the agent's resident memory idle, after an exec churn
// (o.churn execs, two loops at once), and while o.live processes run.
func memory(r *report, o options) error {
	a, err := startAgent(o.bin, nil, false)
	if err != nil {
		return err
	}
	defer a.stop()
	// row measures the agent once it is quiet, and prints what it found
	row := func(what string) (resident, error) {
		quiet(a.pid())
		m, err := residentOf(a.pid())
		if err == nil {
			r.printf("| %s | %.1f | %.1f | %.1f | %.1f | %s |\n", what, m.total(), m.own, m.binary, m.ring, metric("vigil_process_cache_size"))
		}
		return m, err
	}
	r.printf("## Agent memory\n\nRSS is split into the agent's own memory (heap, stacks), the pages of its binary the kernel mapped in (read-only, shared with the page cache) and the BPF ring buffer it maps (kernel memory, its data pages mapped twice).\n\n")
	r.printf("| state | RSS (MiB) | own | binary | ring buffer | processes cached |\n|---|---|---|---|---|---|\n")
	time.Sleep(5 * time.Second)
	idle, err := row("idle, after start")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := churn(o.churn); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	after, err := row(fmt.Sprintf("after %d execs (%.0f s)", o.churn, secs))
	if err != nil {
		return err
	}
	err = withLive(o.live, func() error {
		_, err := row(fmt.Sprintf("with %d more live processes", o.live))
		return err
	})
	if err != nil {
		return err
	}
	if _, err := row("after they exited"); err != nil {
		return err
	}
	peak, _ := statusKiB(a.pid(), "VmHWM")
	r.printf("\nAfter the churn the agent's RSS is %+.1f%% of idle, its own memory %+.1f%% (target: flat within 10%%); peak RSS %.1f MiB.\n\n",
		100*(after.total()/idle.total()-1), 100*(after.own/idle.own-1), float64(peak)/1024)
	return nil
}

// churn runs n execs of /bin/true in two loops at once.
func churn(n int) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = stormOf(n/2, "/bin/true")
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// withLive starts n sleeping processes, runs f, and kills them. The
// kernel's pid_max is raised for them when it is too low, and restored.
func withLive(n int, f func() error) error {
	const pidMax = "/proc/sys/kernel/pid_max"
	old, err := os.ReadFile(pidMax)
	if err != nil {
		return err
	}
	if cur, _ := strconv.Atoi(strings.TrimSpace(string(old))); cur < 2*n {
		if err := os.WriteFile(pidMax, []byte(strconv.Itoa(2*n)), 0o644); err != nil {
			return err
		}
		defer os.WriteFile(pidMax, old, 0o644)
	}
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do sleep 3600 & i=$((i+1)); done; echo ready; wait`, strconv.Itoa(n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer killGroup(cmd)
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		return fmt.Errorf("starting %d processes failed", n)
	}
	return f()
}

// killGroup kills the process group cmd leads and waits, at most a
// minute, until the last of them is reaped.
func killGroup(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	for i := 0; i < 600 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// quiet waits until pid has used under 2% of a CPU for a second, for at
// most a minute: the agent has handled what happened.
func quiet(pid int) {
	prev := cpuTicks(pid)
	for i := 0; i < 60; i++ {
		time.Sleep(time.Second)
		cur := cpuTicks(pid)
		if cur-prev < 2 { // ticks are 10 ms
			return
		}
		prev = cur
	}
}

// cpuTicks is pid's user and system time in clock ticks.
func cpuTicks(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return utime + stime
}

// resident is a process's resident memory in MiB, by kind of mapping.
type resident struct{ own, binary, ring float64 }

func (m resident) total() float64 { return m.own + m.binary + m.ring }

// residentOf sums the Rss of pid's mappings from /proc/PID/smaps.
func residentOf(pid int) (resident, error) {
	var m resident
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return m, err
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return m, err
	}
	into := &m.own
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-"): // a mapping's first line
			into = &m.own
			if len(f) == 6 && f[5] == exe {
				into = &m.binary
			} else if len(f) == 6 && f[5] == "anon_inode:bpf-map" {
				into = &m.ring
			}
		case len(f) == 3 && f[0] == "Rss:":
			kib, _ := strconv.ParseFloat(f[1], 64)
			*into += kib / 1024
		}
	}
	return m, nil
}

// statusKiB reads a field of /proc/PID/status in KiB.
func statusKiB(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// metric reads one unlabelled value from the agent's metrics, or "?".
func metric(name string) string {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return "?"
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return "?"
}
