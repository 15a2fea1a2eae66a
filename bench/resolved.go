package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// stringOpenPolicy kills opens of a file by the string handed to openat.
const stringOpenPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bench-string}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Equal, values: [%q]}]
      matchActions: [{action: Sigkill}]
`

// resolvedOpenPolicy kills opens of a file by the opened object (its
// resolved path, and its identity).
const resolvedOpenPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bench-resolved-open}
spec:
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: %s, values: [%q]}]
      matchActions: [{action: Sigkill}]
`

// resolvedReadPolicy kills reads of a file by the object read.
const resolvedReadPolicy = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bench-resolved-read}
spec:
  lsmhooks:
  - hook: file_permission
    args: [{index: 0, type: file}, {index: 1, type: int}]
    selectors:
    - matchArgs:
      - {index: 0, operator: Equal, values: [%q]}
      - {index: 1, operator: Mask, values: ["4"]}
      matchActions: [{action: Sigkill}]
`

// resolvedLoops measures what the two forms of a path policy cost the
// processes they watch: an open/close loop and a read loop on a file the
// policy does not name, with no agent, the string form, and the resolved
// form (on this kernel through BPF LSM, a kprobe, or the syscall-side
// fallback, whichever it has).
func resolvedLoops(r *report, o options) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	target, secret := filepath.Join(dir, "file"), filepath.Join(dir, "secret")
	for _, f := range []string{target, secret} {
		if err := os.WriteFile(f, []byte("data\n"), 0o600); err != nil {
			return err
		}
	}
	policies := map[string]string{
		"string":    fmt.Sprintf(stringOpenPolicy, secret),
		"equal":     fmt.Sprintf(resolvedOpenPolicy, "Equal", secret),
		"prefix":    fmt.Sprintf(resolvedOpenPolicy, "Prefix", dir+"/sub/"),
		"read":      fmt.Sprintf(resolvedReadPolicy, secret),
		"elsewhere": fmt.Sprintf(resolvedOpenPolicy, "Equal", "/nonexistent/secret"),
	}
	files := map[string]string{}
	for name, text := range policies {
		files[name] = filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(files[name], []byte(text), 0o600); err != nil {
			return err
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		return err
	}
	under := func(policy string, work func() (float64, error), flags ...string) func() (float64, error) {
		return func() (float64, error) {
			return underAgent(o.bin, append([]string{"--tracing-policy", files[policy]}, flags...), work)
		}
	}
	opens := func() (float64, error) { return openLoop(target, o.opens) }
	reads := func() (float64, error) { return readLoop(target, o.opens) }
	ppids := func() (float64, error) { return getppidLoop(o.opens) }
	configs := []config{
		{"open/close, no agent", opens},
		{"open/close, string policy (openat Equal)", under("string", opens)},
		{"open/close, resolved policy (file_open Equal, identity)", under("equal", opens)},
		{"open/close, resolved policy (file_open Equal, no identity)", under("elsewhere", opens)},
		{"open/close, resolved policy (file_open Prefix on a directory)", under("prefix", opens)},
		{"read, no agent", reads},
		{"read, string policy (openat Equal)", under("string", reads)},
		{"read, resolved policy (file_permission Equal)", under("read", reads)},
		{"getppid (unhooked), no agent", ppids},
		{"getppid (unhooked), resolved file_open policy", under("equal", ppids)},
		{"getppid (unhooked), resolved file_permission policy", under("read", ppids)},
		{"getppid (unhooked), floor: empty program on syscalls/sys_enter_ptrace", func() (float64, error) { return underEmptyProgram("sys_enter_ptrace", ppids) }},
		{"getppid (unhooked), resolved file_open policy, --ia32-syscalls=false", under("equal", ppids, "--ia32-syscalls=false")},
		{"getppid (unhooked), resolved file_permission policy, --ia32-syscalls=false", under("read", ppids, "--ia32-syscalls=false")},
	}
	times, err := alternate(o.rounds, configs)
	if err != nil {
		return err
	}
	r.printf("## Path policies: string and resolved forms, %d iterations, %d rounds\n\n", o.opens, o.rounds)
	r.printf("None of the loops' files is the one the policies name: what a watched process pays on every open or read.\n\n")
	r.table(configs, times, []int{0, 0, 0, 0, 0, 5, 5, 5, 8, 8, 8, 8, 8, 8})
	ns := func(i, base int) float64 { return 1e9 * (median(times[i]) - median(times[base])) / float64(o.opens) }
	r.printf("\nper open/close: string %.0f ns, resolved %.0f ns (without identity %.0f ns, Prefix on a directory %.0f ns); per read: string %.0f ns, resolved %.0f ns; "+
		"per unhooked syscall (getppid): %.0f ns under the file_open fallback, %.0f ns under the file_permission one (ia32 syscalls hooked: the raw syscall tracepoint serves them); "+
		"with --ia32-syscalls=false %.0f and %.0f ns, against a floor (an empty program on another syscall's own tracepoint) of %.0f ns\n\n",
		ns(1, 0), ns(2, 0), ns(3, 0), ns(4, 0), ns(6, 5), ns(7, 5), ns(9, 8), ns(10, 8), ns(12, 8), ns(13, 8), ns(11, 8))
	return nil
}

// readLoop reads one byte of path at offset 0, n times.
func readLoop(path string, n int) (float64, error) {
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 1)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := unix.Read(fd, buf); err != nil {
			return 0, err
		}
		if _, err := unix.Seek(fd, 0, 0); err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}
