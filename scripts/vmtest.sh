#!/bin/bash
# vmtest.sh - the kernel matrix: run the BPF tests under each Debian kernel.
#
#   usage: scripts/vmtest.sh [--kernel 5.10|6.1|6.12]... [--run REGEX] [-v] [PACKAGE...]
#
# Builds one test binary per package on the host (go test -c; default: every
# package under pkg/ with tests that depend on github.com/cilium/ebpf or run an agent; the
# end-to-end tests of cmd/ build and run whole binaries, a tier of their own), then boots each
# kernel once with scripts/vmrun.sh (2 CPUs, 2048 MB; VMTEST_JOBS kernels at a time) and
# runs every binary there once, with VIGIL_TEST_KERNEL=<kernel> so that kernel-specific
# assertions know where they run. Prints each failure's log, the skipped
# tests with their reasons and a summary; exits non-zero if anything failed.
#
#   scripts/vmtest.sh --kernel 6.1 --run TestName ./pkg/agent/   # one test, one kernel
#
# -v streams every test's output. Logs: bin/vmtest/logs/<kernel>/<package>.log.
# Environment: VMTEST_TIMEOUT (seconds per kernel, default 1800), VMTEST_JOBS
# (kernels at once, default 1), and vmrun.sh's.
set -euo pipefail

# Tests of user-space behaviour under load (bursts, concurrent policy
# operations, hostile policy files, stalled writers) and of the probe
# report's cache file: what they check is the same on every kernel, and
# they are among the slowest under TCG (about 4 of the agent's 14 minutes
# per kernel; the cache tests probe afresh, 40 s), so they run on the host
# only, in test-go.
HOST_ONLY='^(TestExecBurstIsDeliveredOrCounted|TestStopDrainsTheRingBuffer|TestConcurrentPolicyOperations|TestHalfWrittenPolicyIsNotLoaded|TestPolicyDirSurvivesHostileFiles|TestStalledStatusWriteHoldsNothing'
HOST_ONLY+='|TestCacheProbesOnceAndMatchesFresh|TestCacheRewritesCorrupt|TestCacheRefusesSharedDir|TestCacheConcurrentCallersProbeOnce)$'

# Inside the VM (internal): run each binary in its package directory.
if [ "${1:-}" = --guest ]; then
  logdir=$2 run=$3 verbose=$4 root=$PWD; shift 4
  for spec in "$@"; do
    name=${spec%%=*} dir=${spec#*=}
    start=$(date +%s%N)
    args=(-test.v -test.count=1 -test.timeout=25m -test.skip "$HOST_ONLY")
    [ -z "$run" ] || args+=(-test.run "$run")
    set +e
    if [ "$verbose" = 1 ]; then
      (cd "$dir" && "$root/bin/vmtest/$name.test" "${args[@]}") 2>&1 | tee "$logdir/$name.log"
      rc=${PIPESTATUS[0]}
    else
      (cd "$dir" && "$root/bin/vmtest/$name.test" "${args[@]}") >"$logdir/$name.log" 2>&1
      rc=$?
    fi
    set -e
    secs=$((($(date +%s%N) - start) / 1000000))
    echo "$rc $secs" >"$logdir/$name.rc"
    echo "vmtest: $VIGIL_TEST_KERNEL $name: $([ "$rc" = 0 ] && echo ok || echo "FAIL (exit $rc)") $((secs / 1000)).$((secs % 1000 / 100))s"
  done
  exit 0
fi

usage="usage: scripts/vmtest.sh [--kernel 5.10|6.1|6.12]... [--run REGEX] [-v] [PACKAGE...]"
kernels=() run="" verbose=0 pkgs=()
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernels+=("${2:?$usage}"); shift 2 ;;
    --run) run=${2:?$usage}; shift 2 ;;
    -v) verbose=1; shift ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) echo "vmtest: unknown option '$1'; $usage" >&2; exit 2 ;;
    *) pkgs+=("$1"); shift ;;
  esac
done
[ ${#kernels[@]} -gt 0 ] || kernels=(5.10 6.1 6.12)
[ "$(id -u)" = 0 ] || { echo "vmtest: must run as root (BPF tests, VMs)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd -P)
GO=${GO:-go}

# Packages with tests: the given ones, or those under pkg/ whose code or tests
# use cilium/ebpf, or whose tests run a real agent (pkg/agent).
tmpl='{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{range .Deps}} {{.}}{{end}}'
tmpl+='{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}{{"\n"}}{{end}}'
if [ ${#pkgs[@]} -gt 0 ]; then
  list=$($GO list -f "$tmpl" "${pkgs[@]}" | awk 'NF {print $1, $2}')
else
  agent="$(cd "$root" && $GO list -m)/pkg/agent"
  list=$($GO list -f "$tmpl" "$root/pkg/..." | awk -v agent="$agent" '{
    for (i = 3; i <= NF; i++) if ($i ~ /^github\.com\/cilium\/ebpf(\/|$)/ || $i == agent) {print $1, $2; next}}')
fi
[ -n "$list" ] || { echo "vmtest: no package with tests among: ${pkgs[*]:-./pkg/...}" >&2; exit 2; }

# Build on the host: the guests run the same binaries, 3-4x slower under TCG.
cd "$root" # package arguments were relative to the caller's directory; all else is to the root
out=bin/vmtest
mkdir -p "$out"
module=$($GO list -m)
specs=()
while read -r path dir; do
  name=${path#"$module"/}; name=${name//\//_}
  echo "vmtest: building $path"
  $GO test -c -o "$out/$name.test" "$path"
  specs+=("$name=$dir")
done <<<"$list"

# boot runs every binary under kernel $1, its exit code in logs/$1/vm.rc.
boot() {
  local k=$1 logdir=$out/logs/$1 rc=0 t0=$SECONDS
  echo "vmtest: kernel $k: booting, ${#specs[@]} package(s)"
  VIGIL_TEST_KERNEL=$k VMRUN_TIMEOUT=${VMTEST_TIMEOUT:-1800} \
    scripts/vmrun.sh --kernel "$k" --cpus 2 --mem 2048 -- \
    bash scripts/vmtest.sh --guest "$logdir" "$run" "$verbose" "${specs[@]}" || rc=$?
  echo "$rc $((SECONDS - t0))" >"$logdir/vm.rc"
}

# Kernels one after another by default: on a 2-core machine two guests at
# once ran each 1.6 times slower (a guest's TCG thread and its 9p I/O
# threads keep both cores busy) and the matrix took as long (51 minutes).
jobs=${VMTEST_JOBS:-1}
for k in "${kernels[@]}"; do
  rm -rf "$out/logs/$k" && mkdir -p "$out/logs/$k"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  boot "$k" &
done
wait

failed=0 total_pass=0 total_fail=0 total_skip=0 summary=()
for k in "${kernels[@]}"; do
  logdir=$out/logs/$k
  vmrc=125 secs=0
  [ ! -e "$logdir/vm.rc" ] || read -r vmrc secs <"$logdir/vm.rc"
  [ "$vmrc" = 0 ] || { echo "vmtest: kernel $k: the VM failed (vmrun exit $vmrc)"; failed=1; }
  for spec in "${specs[@]}"; do
    name=${spec%%=*} log=$logdir/$name.log
    if [ ! -e "$logdir/$name.rc" ]; then
      summary+=("$k $name NOT-RUN - - - -"); failed=1; continue
    fi
    read -r rc ms <"$logdir/$name.rc"
    pass=$(grep -c -- '--- PASS' "$log" || true)
    fail=$(grep -c -- '--- FAIL' "$log" || true)
    skip=$(grep -c -- '--- SKIP' "$log" || true)
    total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
    result=ok
    if [ "$rc" != 0 ]; then
      result=FAIL failed=1
      [ "$fail" != 0 ] || total_fail=$((total_fail + 1)) # crashed, timed out or failed outside a test
      if [ "$verbose" = 0 ]; then
        echo "vmtest: ---- $k $name failed; its log without === lines (last 150):"
        grep -v '^=== ' "$log" | tail -150
        echo "vmtest: ---- end of $k $name"
      fi
    fi
    if [ "$skip" != 0 ]; then
      echo "vmtest: $k $name skipped (test: its last output line, the reason):"
      awk '/^ *--- SKIP: / {sub(/^ +/, "", prev); print "    " $3 ": " prev} {prev = $0}' "$log"
    fi
    summary+=("$k $name $result $pass $fail $skip $((ms / 1000)).$((ms % 1000 / 100))s")
  done
  summary+=("$k (whole-VM) - - - - ${secs}s")
done

echo
echo "vmtest summary"
for row in "KERNEL PACKAGE RESULT PASS FAIL SKIP TIME" "${summary[@]}"; do
  read -r -a c <<<"$row"
  printf '%-6s %-22s %-7s %5s %5s %5s %8s\n' "${c[@]}"
done
hostonly=${HOST_ONLY#^(} hostonly=${hostonly%)\$}
echo "vmtest: $total_pass passed, $total_fail failed, $total_skip skipped (host-only, not run here: ${hostonly//|/ })"
exit "$failed"
