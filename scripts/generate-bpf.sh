#!/bin/sh
# Builds the BPF objects and their Go bindings (bpf2go) in one fixed
# directory, then copies them into the tree. clang-19 orders some BTF types
# (the forward declarations it emits for structs reached through pointers)
# by heap address, and the length of the absolute paths bpf2go passes it
# shifts those addresses: the same sources in two clones gave objects that
# differ in type ids. From one fixed path every clone builds the same bytes.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/vigil-bpf-generate
rm -rf "$work"
mkdir -p "$work/pkg"
cp -r "$root/bpf" "$work/bpf"
cp -r "$root/pkg/tracing" "$work/pkg/tracing"
cp "$root/go.mod" "$root/go.sum" "$work/"
(cd "$work" && go generate ./pkg/tracing/)
cp "$work"/pkg/tracing/*_bpfel*.o "$work"/pkg/tracing/*_bpfel*.go "$root/pkg/tracing/"
rm -rf "$work"
