// Package compile turns a validated TracingPolicy into what the kernel
// runs: entries of the generic hook's maps and the programs to attach,
// choosing for each hook the best backend this kernel offers (kprobe,
// fentry, BPF LSM, the raw syscall tracepoint, tracepoints, uprobes), and
// into the per-hook metadata user space needs to render events.
//
// A policy Compile cannot run returns an *UnsupportedError naming the YAML
// path and why: what this kernel lacks, or what Vigil does not implement.
// Which fields of Tetragon's schema are implemented is policy.Fields.
package compile
