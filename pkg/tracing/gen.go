package tracing

//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target amd64 -no-global-types -cflags "-O2 -g -Wall -Werror -I../../bpf/include" process ../../bpf/process/process.bpf.c
//go:generate go tool bpf2go -cc clang-19 -strip llvm-strip-19 -target amd64 -no-global-types -cflags "-O2 -g -Wall -Werror -I../../bpf/include" generic ../../bpf/kprobes/generic.bpf.c
