#!/usr/bin/env bash
# node-up.sh - a real single-node Kubernetes on this machine, for the node tests:
# etcd and kube-apiserver (kube-up.sh, with ServiceAccount admission), kube-scheduler,
# kube-controller-manager and a kubelet (k8s.io/kubernetes, built once like the API
# server), containerd and runc from Debian with the cgroupfs driver, and a bridge CNI.
# No registry: the images are imported from tarballs (-i FILE, repeatable): Vigil's
# (make image) and the test images (tools/image -busybox: busybox and the pause image).
#
#   eval "$(scripts/node-up.sh -i bin/image/vigil.tar -i bin/image/busybox.tar)"
#   kubectl get nodes        # vigil-node, Ready
#   scripts/node-down.sh     # stops it all and removes its containers, cgroups and pins
#
# Runs on the host, not in a VM: the kubelet of 1.34 runs on cgroup v1 and on this
# machine's v1/v2 hybrid (failCgroupV1 off), and a TCG guest would make every start
# minutes long. Everything it makes is under $KUBE_NODE_DIR and $KUBE_NODE_STATE.
# Env: KUBE_NODE_DIR (/tmp/kube-node) KUBE_NODE_STATE (/var/lib/vigil-node) NODE_NAME NODE_IP
set -euo pipefail

N=${KUBE_NODE_DIR:-/tmp/kube-node}
S=${KUBE_NODE_STATE:-/var/lib/vigil-node}
NODE_NAME=${NODE_NAME:-vigil-node}
NODE_IP=${NODE_IP:-10.245.255.1}
here=$(cd "$(dirname "$0")" && pwd)
log() { echo "node-up: $*" >&2; }
images=()
while [ $# -gt 0 ]; do
  case $1 in
    -i) images+=("${2:?-i needs a tarball}"); shift 2 ;;
    *) log "unknown argument '$1'; usage: node-up.sh [-i IMAGE.tar]..."; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { log "must run as root (containers, cgroups)"; exit 2; }

# --- packages (idempotent) ------------------------------------------------------
need=()
for p in containerd:containerd runc:runc iptables:iptables /usr/lib/cni/bridge:containernetworking-plugins; do
  [ -e "${p%%:*}" ] || command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } >&2
fi

# --- the node's address: on the loopback device (the kubelet refuses a 127/8 node IP,
# and this kernel has no dummy links); the API server and the kubelet listen on it, and
# the pods reach the API server's Service there, as kube-proxy would send them -------
ip -4 addr show dev lo | grep -q " $NODE_IP/" || ip addr add "$NODE_IP/32" dev lo
rule=(PREROUTING -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination "$NODE_IP:${APISERVER_PORT:-26443}")
iptables -t nat -C "${rule[@]}" 2>/dev/null || iptables -t nat -A "${rule[@]}"

# --- the API server, and the node's binaries ------------------------------------
export NODE_IP KUBE_TEST_DIR=$N/api APISERVER_PORT=${APISERVER_PORT:-26443} ETCD_PORT=${ETCD_PORT:-22379}
t0=$SECONDS
line=$(BUILD_NODE=1 "$here/kube-up.sh")
export KUBECONFIG=${line#export KUBECONFIG=}
B=${KUBE_TEST_BIN:-$HOME/.cache/kube-test/k8s-${K8S_VERSION:-v1.34.4}-etcd-${ETCD_VERSION:-v3.6.16}}
P=$KUBE_TEST_DIR/pki
mkdir -p "$N" "$S"
# what the Vigil DaemonSet makes on the host, removed by node-down.sh unless it was there before
for d in /var/run/vigil /var/lib/vigil /sys/fs/bpf/vigil; do [ -e "$d" ] || echo "$d"; done >>"$N/made"

alive() { [[ -f $N/$1.pid ]] && kill -0 "$(cat "$N/$1.pid")" 2>/dev/null; }
start() { # name command...: start it once, in the background, logging to $N/name.log
  local name=$1; shift
  alive "$name" && return
  "$@" >"$N/$name.log" 2>&1 &
  echo $! >"$N/$name.pid"
}

# bpffs shared, as systemd makes every mount on a real node: the Vigil DaemonSet mounts it
# with HostToContainer propagation, which a private mount refuses
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
mount --make-shared /sys/fs/bpf

# --- containerd: its own socket, state and CNI configuration ---------------------
mkdir -p "$N/cni/net.d"
cat >"$N/cni/net.d/10-vigil-test.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "vigil-test", "plugins": [
  {"type": "bridge", "bridge": "vigiltest0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$S/cni"}},
  {"type": "loopback"}]}
EOF
cat >"$N/containerd.toml" <<EOF
version = 2
root = "$S/containerd"
state = "$N/containerd-state"
[grpc]
  address = "$N/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  # this machine refuses a negative oom_score_adj even to root: cap it at containerd's own
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$N/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
EOF
start containerd containerd --config "$N/containerd.toml"
for _ in $(seq 100); do ctr -a "$N/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr -a "$N/containerd.sock" version >/dev/null 2>&1 || { log "containerd did not start, see $N/containerd.log"; exit 1; }
for i in "${images[@]}"; do
  ctr -a "$N/containerd.sock" -n k8s.io images import "$i" >&2 || { log "importing $i failed"; exit 1; }
done

# --- control plane: scheduler and controllers, with the admin credentials ----------
start kube-scheduler "$B/kube-scheduler" --kubeconfig "$KUBECONFIG" --leader-elect=false --secure-port=0
start kube-controller-manager "$B/kube-controller-manager" --kubeconfig "$KUBECONFIG" --leader-elect=false \
  --secure-port=0 --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
  --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key"

# --- kubelet: cgroupfs driver; anonymous, on the node's address only --------------
cat >"$N/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$N/containerd.sock
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
resolvConf: ""
EOF
start kubelet "$B/kubelet" --config "$N/kubelet.yaml" --kubeconfig "$KUBECONFIG" \
  --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --root-dir "$S/kubelet" --cert-dir "$N/kubelet-pki" --v=1

# --- ready: the node, and the accounts pods need ------------------------------------
ok=0
for _ in $(seq 1200); do  # up to 120 s
  for c in containerd kube-scheduler kube-controller-manager kubelet; do
    alive $c || { log "$c exited, see $N/$c.log"; exit 1; }
  done
  if [ "$(kubectl get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] &&
    kubectl get serviceaccount default >/dev/null 2>&1; then
    ok=1; break
  fi
  sleep 0.1
done
[ $ok = 1 ] || { log "node $NODE_NAME not ready after 120 s, see $N/kubelet.log"; exit 1; }
log "node $NODE_NAME ready in $((SECONDS - t0)) s (logs in $N)"
echo "export KUBECONFIG=$KUBECONFIG"
