#!/bin/sh
# Installs the Debian packages the build and tests need, when missing.
set -eu
need=""
command -v clang-19 >/dev/null || need="$need clang-19"
command -v llvm-strip-19 >/dev/null || need="$need llvm-19"
command -v clang-format-19 >/dev/null || need="$need clang-format-19"
[ -f /usr/include/bpf/bpf_helpers.h ] || need="$need libbpf-dev"
command -v bpftool >/dev/null || need="$need bpftool"
command -v protoc >/dev/null || need="$need protobuf-compiler"
[ -z "$need" ] && exit 0
echo "installing:$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q $need >/dev/null
