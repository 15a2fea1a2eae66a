#!/usr/bin/env bash
# node-down.sh - stop what node-up.sh started and remove what it made: the pods
# (through the kubelet, so that their sandboxes and networks are torn down), the
# node's processes, leftover containers, mounts and cgroups, the bridge, the node
# address, and what the Vigil DaemonSet made on the host (its pinned programs, its
# state and events folders) when they were not there before node-up.sh.
# KUBE_NODE_KEEP=1 keeps $KUBE_NODE_DIR (logs) for inspection.
set -uo pipefail

N=${KUBE_NODE_DIR:-/tmp/kube-node}
S=${KUBE_NODE_STATE:-/var/lib/vigil-node}
NODE_IP=${NODE_IP:-10.245.255.1}
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$N" ] || { echo "node-down: nothing to stop ($N is missing)" >&2; exit 0; }

ours() { # name: the PID in $N/name.pid, if it still runs that program
  local pid
  pid=$(cat "$N/$1.pid" 2>/dev/null) || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$1" && echo "$pid"
}
stop() { # name...: TERM, then KILL after 10 s
  local c pid
  for c in "$@"; do
    pid=$(ours "$c") || continue
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    rm -f "$N/$c.pid"
  done
}

# the pods first, while the kubelet runs: it stops their sandboxes and tears down their networks
if ours kubelet >/dev/null && [ -f "$N/api/kubeconfig" ]; then
  export KUBECONFIG=$N/api/kubeconfig
  kubectl delete pods --all --all-namespaces --grace-period=0 --force --wait=false >/dev/null 2>&1
  kubectl delete daemonsets,deployments,replicasets --all --all-namespaces --wait=false >/dev/null 2>&1
  for _ in $(seq 150); do # up to 30 s
    [ -z "$(ctr -a "$N/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null)" ] && break
    sleep 0.2
  done
fi
stop kubelet kube-controller-manager kube-scheduler
# whatever is left: kill the tasks, then containerd and its shims
for t in $(ctr -a "$N/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
  ctr -a "$N/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
done
stop containerd
pkill -KILL -f "containerd-shim-runc-v2 .*-address $N/containerd.sock" 2>/dev/null
KUBE_TEST_DIR=$N/api KUBE_TEST_KEEP=${KUBE_NODE_KEEP:-0} "$here/kube-down.sh" 2>/dev/null

# mounts (rootfs, shm, volumes, network namespaces), deepest first
grep -oE " ($S|$N|/run/netns/cni-)[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
# the pods' cgroups, in every hierarchy, deepest first
find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
ip link del vigiltest0 2>/dev/null
ip addr del "$NODE_IP/32" dev lo 2>/dev/null
iptables -t nat -D PREROUTING -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination "$NODE_IP:${APISERVER_PORT:-26443}" 2>/dev/null
while read -r d; do rm -rf "$d"; done <"$N/made" 2>/dev/null
rm -rf "$S"
[ "${KUBE_NODE_KEEP:-0}" = 1 ] || rm -rf "$N"
echo "node-down: stopped" >&2
