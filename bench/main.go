// Command bench measures Vigil's cost side by side with a run without the
// agent and with auditd, configurations alternating in the same run, and
// writes a report (markdown tables and PNG plots) into a folder.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type options struct {
	bin        string
	rounds     int
	execs      int
	opens      int
	throughput time.Duration
	live       int
	churn      int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "vigil", "bin/vigil", "vigil binary")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of each configuration")
	flag.IntVar(&o.execs, "execs", 20000, "fork+exec of /bin/true per storm")
	flag.IntVar(&o.opens, "opens", 1000000, "open+close of a file per syscall loop")
	flag.DurationVar(&o.throughput, "throughput-time", time.Minute, "how long the highest zero-loss rate must hold")
	flag.IntVar(&o.live, "live", 50000, "live processes the agent tracks in the memory measurement")
	flag.IntVar(&o.churn, "churn", 360000, "execs of the churn in the memory measurement (an hour at 100 execs/s)")
	out := flag.String("out", "bench-results/"+time.Now().UTC().Format("20060102-150405"), "folder of the report")
	parts := flag.String("parts", "exec,syscalls,resolved,throughput,memory,size,scale,workload,library",
		"which measurements, comma-separated: exec, syscalls, resolved, throughput, memory, size, scale, workload, library")
	flag.Parse()
	if err := run(o, *out, strings.Split(*parts, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options, out string, parts []string) error {
	runs := map[string]func(*report) error{
		"exec":       func(r *report) error { return execStorm(r, o) },
		"syscalls":   func(r *report) error { return syscallLoops(r, o) },
		"resolved":   func(r *report) error { return resolvedLoops(r, o) },
		"throughput": func(r *report) error { return throughput(r, o) },
		"memory":     func(r *report) error { return memory(r, o) },
		"size":       func(r *report) error { return eventSize(r, o.bin, 2000) },
		"scale":      func(r *report) error { return policyScale(r, o.bin, []int{1, 10, 100}) },
		"workload":   func(r *report) error { return workload(r, o) },
		"library":    func(r *report) error { return libraryCost(r, o) },
	}
	for _, p := range parts {
		if runs[p] == nil {
			return fmt.Errorf("-parts: unknown %q", p)
		}
	}
	r, err := newReport(out)
	if err != nil {
		return err
	}
	defer r.close()
	for _, p := range parts {
		if err := runs[p](r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := r.plot(); err != nil {
		return err
	}
	fmt.Printf("report written to %s\n", out)
	return nil
}

// execStorm times a storm of execs without an agent, with Vigil tracing
// every exec, and with auditd logging every execve, configurations
// alternating.
func execStorm(r *report, o options) error {
	storm := func() (float64, error) { return stormOf(o.execs, "/bin/true") }
	configs := []config{
		{"no agent", storm},
		{"vigil agent (exec tracking)", func() (float64, error) { return underAgent(o.bin, nil, storm) }},
		{"auditd, execve rule", func() (float64, error) {
			return underAuditd([][]string{{"-a", "always,exit", "-F", "arch=b64", "-S", "execve"}}, storm)
		}},
	}
	times, err := alternate(o.rounds, configs)
	if err != nil {
		return err
	}
	r.printf("## Exec storm: fork+exec of /bin/true, %d times, %d rounds\n\n", o.execs, o.rounds)
	r.table(configs, times, []int{0, 0, 0})
	r.printf("\n%.0f execs/s without an agent; %s\n\n", float64(o.execs)/median(times[0]),
		r.versus("exec storm", times[0], times[1], times[2]))
	return nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64) (lo, hi float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[0], s[len(s)-1]
}
