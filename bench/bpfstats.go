package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// statsOpens is how many open/close iterations each in-kernel measurement
// makes.
const statsOpens = 200000

// inKernelCost reports, from the kernel's BPF statistics (bpf_stats), what
// each syscall program costs a run in the kernel: an empty program on
// syscalls/sys_enter_openat (the floor of a hooked syscall), one that only
// reads the path's first bytes (the floor of a string check), and Vigil's
// with an openat policy that misses (integer filter, string Prefix) and one
// that matches. bpf_stats' own clock reads are in every figure alike.
func inKernelCost(r *report, o options, dir, target string) error {
	stats, err := ebpf.EnableStats(0) // BPF_STATS_RUN_TIME
	if err != nil {
		return fmt.Errorf("enabling bpf_stats: %w", err)
	}
	defer stats.Close()
	r.printf("### In the kernel, per run (bpf_stats, %d open/close iterations)\n\n| configuration | program | runs | ns per run |\n|---|---|---|---|\n", statsOpens)
	for _, f := range []struct {
		name string
		body asm.Instructions
	}{
		{"floor: empty program on syscalls/sys_enter_openat", nil},
		{"floor of a string check: a program that reads the path's first 8 bytes", userRead},
	} {
		floor, err := floorCost(target, f.body)
		if err != nil {
			return err
		}
		r.printf("| %s | (floor) | %d | %.0f |\n", f.name, floor.RunCount, perRun(floor))
	}
	shadow, err := os.ReadFile("examples/policies/kill-shadow-read.yaml")
	if err != nil {
		return err
	}
	for _, c := range []struct{ name, policy string }{
		{"openat policy, integer filter that never matches", intMissPolicy},
		{"openat policy, Prefix that never matches", fmt.Sprintf(openPolicy, "/nonexistent/")},
		{"openat policy, every open matches", fmt.Sprintf(openPolicy, filepath.Dir(target))},
		{"kill-shadow-read (example), by a binary that is not cat or less", string(shadow)},
	} {
		pol := filepath.Join(dir, "stats.yaml")
		if err := os.WriteFile(pol, []byte(c.policy), 0o600); err != nil {
			return err
		}
		var progs map[string]*ebpf.ProgramStats
		_, err := underAgent(o.bin, []string{"--tracing-policy", pol}, func() (float64, error) {
			if _, err := openLoop(target, statsOpens); err != nil {
				return 0, err
			}
			progs, err = syscallProgramStats()
			return 0, err
		})
		if err != nil {
			return err
		}
		for name, s := range progs {
			r.printf("| %s | %s | %d | %.0f |\n", c.name, name, s.RunCount, perRun(s))
		}
	}
	r.printf("\n")
	return nil
}

// intMissPolicy hooks openat with a filter on its flags that never holds:
// no string is read.
const intMissPolicy = `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-openat-int
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 2, type: int}
    selectors:
    - matchArgs:
      - {index: 2, operator: Equal, values: ["12345"]}
`

func perRun(s *ebpf.ProgramStats) float64 {
	return float64(s.Runtime.Nanoseconds()) / float64(max(s.RunCount, 1))
}

// floorCost runs the open loop with a program of body alone on openat's
// own tracepoint and returns its statistics.
func floorCost(target string, body asm.Instructions) (*ebpf.ProgramStats, error) {
	prog, detach, err := attachProgram("sys_enter_openat", body)
	if err != nil {
		return nil, err
	}
	defer detach()
	if _, err := openLoop(target, statsOpens); err != nil {
		return nil, err
	}
	return prog.Stats()
}

// syscallProgramStats are the statistics of the agent's syscall programs
// that ran, by name.
func syscallProgramStats() (map[string]*ebpf.ProgramStats, error) {
	out := map[string]*ebpf.ProgramStats{}
	for id := ebpf.ProgramID(0); ; {
		next, err := ebpf.ProgramGetNextID(id)
		if err != nil {
			return out, nil // no more
		}
		id = next
		prog, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone meanwhile
		}
		info, ierr := prog.Info()
		s, serr := prog.Stats()
		prog.Close()
		if ierr == nil && serr == nil && strings.HasPrefix(info.Name, "generic_sys") && s.RunCount > 0 {
			out[fmt.Sprintf("%s (id %d)", info.Name, id)] = s
		}
	}
}
