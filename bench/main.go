// Command bench measures Vigil's cost side by side with a run without the
// agent, alternating the two in the same run, and prints a table.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 3, "rounds of each configuration")
	execs := flag.Int("execs", 20000, "fork+exec of /bin/true per storm")
	bin := flag.String("vigil", "bin/vigil", "vigil binary")
	opens := flag.Int("opens", 1000000, "open+close of a file per syscall loop")
	parts := flag.String("parts", "exec,syscalls,size", "which measurements, comma-separated: exec, syscalls, size")
	flag.Parse()
	runs := map[string]func() error{
		"exec":     func() error { return execStorm(*bin, *rounds, *execs) },
		"syscalls": func() error { return syscallLoops(*bin, *rounds, *opens) },
		"size":     func() error { return eventSize(*bin, 2000) },
	}
	for _, p := range strings.Split(*parts, ",") {
		run := runs[p]
		if run == nil {
			fmt.Fprintf(os.Stderr, "bench: -parts: unknown %q\n", p)
			os.Exit(2)
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

// execStorm times a storm of execs without an agent, with Vigil tracing
// every exec, and with auditd logging every execve, configurations
// alternating.
func execStorm(bin string, rounds, execs int) error {
	configs := []config{
		{"no agent", func() (float64, error) { return storm(execs) }},
		{"vigil agent (exec tracking)", func() (float64, error) { return withAgent(bin, execs) }},
		{"auditd, execve rule", func() (float64, error) {
			return underAuditd([][]string{{"-a", "always,exit", "-F", "arch=b64", "-S", "execve"}},
				func() (float64, error) { return storm(execs) })
		}},
	}
	times, err := alternate(rounds, configs)
	if err != nil {
		return err
	}
	fmt.Printf("## Exec storm: fork+exec of /bin/true, %d times, %d rounds\n\n", execs, rounds)
	report(configs, times, []int{0, 0, 0})
	fmt.Printf("\n%.0f execs/s without an agent; %s\n\n", float64(execs)/median(times[0]),
		versus(times[0], times[1], times[2]))
	return nil
}

// report prints each configuration's median and spread against its
// baseline (the index in base), as a markdown table.
func report(configs []config, times [][]float64, base []int) {
	fmt.Println("| configuration | median (s) | overhead | rounds |")
	fmt.Println("|---|---|---|---|")
	for i, c := range configs {
		b := median(times[base[i]])
		lo, hi := spread(times[i])
		fmt.Printf("| %s | %.3f | %+.1f%% | %.3f to %.3f |\n", c.name, median(times[i]), 100*(median(times[i])/b-1), lo, hi)
	}
}

// versus compares Vigil's overhead with auditd's over the same baseline.
func versus(none, vigil, auditd []float64) string {
	v, a := median(vigil)-median(none), median(auditd)-median(none)
	if v <= 0 {
		return fmt.Sprintf("Vigil's overhead is within noise; auditd's %+.1f%%", 100*a/median(none))
	}
	return fmt.Sprintf("auditd costs %.1fx Vigil's overhead", a/v)
}

func spread(xs []float64) (lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[0], s[len(s)-1]
}

func storm(n int) (float64, error) { return stormOf(n, "/bin/true") }

// stormOf runs the shell command line n times in a loop.
func stormOf(n int, line string) (float64, error) {
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", `i=0; while [ $i -lt "$0" ]; do `+line+`; i=$((i+1)); done`, strconv.Itoa(n))
	err := cmd.Run()
	return time.Since(start).Seconds(), err
}

// withAgent runs a storm while `vigil agent` writes every event to
// /dev/null through its stdout exporter.
func withAgent(bin string, n int) (float64, error) {
	return underAgent(bin, nil, func() (float64, error) { return storm(n) })
}

// underAgent runs work while `vigil agent` runs with args, its events going
// to /dev/null.
func underAgent(bin string, args []string, work func() (float64, error)) (float64, error) {
	agent := exec.Command(bin, append([]string{"agent"}, args...)...)
	stderr, err := agent.StderrPipe()
	if err != nil {
		return 0, err
	}
	if err := agent.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = agent.Process.Signal(syscall.SIGTERM)
		_ = agent.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "snapshot of running processes done") {
			break
		}
	}
	go func() { // keep draining the agent's log
		for sc.Scan() {
		}
	}()
	return work()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
