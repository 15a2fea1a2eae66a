// Package syscalls maps syscall names, in the forms policies use, to the
// x86_64 syscall numbers that the raw syscall tracepoints report.
package syscalls

import (
	"fmt"
	"sort"
	"strings"
)

// Number resolves a syscall name as Tetragon policies write it: "openat",
// "sys_openat" or "__x64_sys_openat".
func Number(name string) (uint32, error) {
	base := strings.TrimPrefix(strings.TrimPrefix(name, "__x64_"), "sys_")
	if nr, ok := amd64[base]; ok {
		return nr, nil
	}
	return 0, fmt.Errorf("unknown syscall %q", name)
}

// Symbol is the kernel function that implements a syscall on x86_64, the
// name events carry in function_name (as Tetragon reports it).
func Symbol(name string) string {
	return "__x64_sys_" + strings.TrimPrefix(strings.TrimPrefix(name, "__x64_"), "sys_")
}

// Names lists every known syscall name, sorted.
func Names() []string {
	out := make([]string, 0, len(amd64))
	for n := range amd64 {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
