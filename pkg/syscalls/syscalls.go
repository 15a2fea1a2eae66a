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

// CompatBase is added to an ia32 syscall number to make the number that
// hook lists go by (MAX_SYSCALLS in generic.h): a 32-bit process's calls
// (TS_COMPAT) are looked up there, apart from the 64-bit ones.
const CompatBase = 512

// compatNames are the ia32 syscalls that serve an x86_64 one of another
// name with the same arguments.
var compatNames = map[string]string{"mmap": "mmap2"}

// Compat is the hook-list number of the ia32 syscall that serves the
// same call as x86_64 syscall name, with the same arguments in the same
// places; false when ia32 has none.
func Compat(name string) (uint32, bool) {
	base := strings.TrimPrefix(strings.TrimPrefix(name, "__x64_"), "sys_")
	if n, ok := compatNames[base]; ok {
		base = n
	}
	nr, ok := ia32[base]
	return CompatBase + nr, ok
}

// CompatSymbol is the kernel function of ia32 syscall name, as events name
// it.
func CompatSymbol(name string) string {
	return "__ia32_sys_" + strings.TrimPrefix(strings.TrimPrefix(name, "__x64_"), "sys_")
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

// entryNames are the x86_64 syscalls whose entry point has another name
// (arch/x86/entry/syscalls/syscall_64.tbl): the kernel names a syscall's
// tracepoints after its entry point.
var entryNames = map[string]string{
	"stat": "newstat", "fstat": "newfstat", "lstat": "newlstat", "uname": "newuname",
	"umount2": "umount", "sendfile": "sendfile64",
}

// Event is the name of x86_64 syscall nr in its own tracepoints
// (syscalls/sys_enter_NAME, syscalls/sys_exit_NAME); false when nr is not
// a known syscall.
func Event(nr uint32) (string, bool) {
	for name, n := range amd64 {
		if n != nr {
			continue
		}
		if e, ok := entryNames[name]; ok {
			return e, true
		}
		return name, true
	}
	return "", false
}
