package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// openPolicy hooks openat with one Prefix filter on the path.
const openPolicy = `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-openat
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: [%q]}
`

// otherPolicy hooks a syscall the loops never make: their syscalls pay
// only for the syscall tracing the kernel then turns on.
const otherPolicy = `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-ptrace
spec:
  kprobes:
  - call: sys_ptrace
    syscall: true
    args:
    - {index: 0, type: int}
`

// syscallLoops measures an open/close loop and a getppid loop without the
// agent, with a policy on a syscall the loops never make, with an openat
// policy that never matches, and (open/close only) with one that matches
// every open, which gives the cost of a hit.
func syscallLoops(r *report, o options) error {
	bin, rounds, n := o.bin, o.rounds, o.opens
	dir, target, err := scratchFile()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	miss, hit := filepath.Join(dir, "miss.yaml"), filepath.Join(dir, "hit.yaml")
	if err := os.WriteFile(miss, []byte(fmt.Sprintf(openPolicy, "/nonexistent/")), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(hit, []byte(fmt.Sprintf(openPolicy, dir)), 0o600); err != nil {
		return err
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte(otherPolicy), 0o600); err != nil {
		return err
	}
	opens := func() (float64, error) { return openLoop(target, n) }
	configs := []config{
		{"no agent", func() (float64, error) { return opens() }},
		{"policy on ptrace only (open/close unhooked)", func() (float64, error) { return underAgent(bin, []string{"--tracing-policy", other}, opens) }},
		{"floor: empty program on syscalls/sys_enter_ptrace", func() (float64, error) { return underEmptyProgram("sys_enter_ptrace", opens) }},
		{"empty program on tp_btf/sys_enter", func() (float64, error) { return underEmptyProgram("", opens) }},
		{"policy on ptrace only, --ia32-syscalls=false", func() (float64, error) {
			return underAgent(bin, []string{"--tracing-policy", other, "--ia32-syscalls=false"}, opens)
		}},
		{"openat policy, no match", func() (float64, error) { return underAgent(bin, []string{"--tracing-policy", miss}, opens) }},
		{"openat policy, every open matches", func() (float64, error) { return underAgent(bin, []string{"--tracing-policy", hit}, opens) }},
		{"auditd, openat rule that never matches", func() (float64, error) {
			return underAuditd([][]string{{"-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "uid=65534"}}, opens)
		}},
		{"getppid, no agent", func() (float64, error) { return getppidLoop(n) }},
		{"getppid, openat policy loaded", func() (float64, error) {
			return underAgent(bin, []string{"--tracing-policy", miss}, func() (float64, error) { return getppidLoop(n) })
		}},
	}
	times, err := alternate(rounds, configs)
	if err != nil {
		return err
	}
	r.printf("## Syscall loops, %d iterations, %d rounds\n\n", n, rounds)
	r.table(configs, times, []int{0, 0, 0, 0, 0, 0, 0, 0, 8, 8})
	med := make([]float64, len(times))
	for i := range times {
		med[i] = median(times[i])
	}
	ns := func(a, b float64) float64 { return 1e9 * (a - b) / float64(n) }
	pp := func(i int) float64 { return 100 * (med[i] - med[0]) / med[0] }
	r.printf("\nunhooked open/close: the floor (an empty program on another syscall's own tracepoint) %+.1f%%; Vigil with a policy on ptrace only %+.1f%% (%.1f points above the floor; ia32 syscalls hooked: the raw syscall tracepoint serves them), with --ia32-syscalls=false %+.1f%% (%.1f points above the floor); an empty tp_btf/sys_enter program %+.1f%%\n",
		pp(2), pp(1), pp(1)-pp(2), pp(4), pp(4)-pp(2), pp(3))
	r.printf("\nper open/close iteration: a policy on another syscall %.0f ns; an openat hook miss %.0f ns more; a hit (event built and sent) %.0f ns more than a miss; openat policy that never matches: %s\n\n",
		ns(med[1], med[0]), ns(med[5], med[1]), ns(med[6], med[5]), r.versus("open/close loop", times[0], times[5], times[7]))
	return inKernelCost(r, o, dir, target)
}

func openLoop(path string, n int) (float64, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		fd, err := unix.Open(path, unix.O_RDONLY, 0)
		if err != nil {
			return 0, err
		}
		unix.Close(fd)
	}
	return time.Since(start).Seconds(), nil
}

func getppidLoop(n int) (float64, error) {
	start := time.Now()
	for i := 0; i < n; i++ {
		unix.Getppid()
	}
	return time.Since(start).Seconds(), nil
}

// scratchFile makes an empty file to open in a folder of its own, which
// the caller removes.
func scratchFile() (dir, file string, err error) {
	if dir, err = os.MkdirTemp("", "vigil-bench-"); err != nil {
		return "", "", err
	}
	file = filepath.Join(dir, "file")
	return dir, file, os.WriteFile(file, nil, 0o600)
}
