#!/bin/bash
# vmrun.sh - run one command as root inside a throw-away QEMU VM that boots a
# stock Debian kernel, to test BPF hooks the host kernel lacks.
#
#   usage: scripts/vmrun.sh [--kernel 5.10|6.1|6.12|PACKAGE] [--cpus N] [--mem MB] -- CMD [ARGS...]
#
# Kernels: 5.10 = linux-image-5.10.0-46-amd64 (bullseye), 6.1 = linux-image-amd64
# (bookworm, the default), 6.12 = linux-image-6.12-amd64 (bookworm-security), or
# any Debian kernel package name. Where the kernel has CONFIG_BPF_LSM but its
# default LSM list lacks bpf (5.10), "lsm=<default>,bpf" is added to the command line.
#
# Guest view: the host's / read-only (writes go to a discarded tmpfs overlay, host
# /tmp stays visible), the current directory shared read-write at the same path;
# proc, sys, bpffs, tracefs, debugfs, securityfs and cgroup2 (/sys/fs/cgroup)
# mounted; only lo up. CMD runs in the current directory with the caller's
# environment; its output and kernel warnings go to our stdout.
#
# Exit status: CMD's, or 125 when the VM could not be set up or CMD never finished.
# Environment: VMRUN_CACHE (default ~/.cache/vmrun), VMRUN_APPEND (extra kernel
# arguments), VMRUN_TIMEOUT (seconds before the VM is killed), VMRUN_TCG_THREAD
# (single, the default, or multi). CMD sees VMRUN_KERNEL_ROOT: the unpacked kernel
# package (its modules: modprobe -d "$VMRUN_KERNEL_ROOT" NAME).
# Needs root: it installs QEMU with apt-get and shares / with the guest.
# shellcheck disable=SC2054  # commas inside QEMU option values are intended
set -eEuo pipefail
trap 'echo "vmrun: failed at line $LINENO" >&2; exit 125' ERR
die() { echo "vmrun: $*" >&2; exit 125; }
usage="usage: vmrun.sh [--kernel 5.10|6.1|6.12|PACKAGE] [--cpus N] [--mem MB] -- CMD [ARGS...]"

kernel=6.1 cpus=2 mem=2048
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=${2:?$usage}; shift 2 ;;
    --cpus) cpus=${2:?$usage}; shift 2 ;;
    --mem) mem=${2:?$usage}; shift 2 ;;
    --) shift; break ;;
    *) die "unknown option '$1'; $usage" ;;
  esac
done
[ $# -gt 0 ] || die "no command given; $usage"
[ "$(id -u)" = 0 ] || die "must run as root"
case $kernel in
  5.10) kernel=linux-image-5.10.0-46-amd64 ;;
  6.1) kernel=linux-image-amd64 ;;
  6.12) kernel=linux-image-6.12-amd64 ;;
esac
cache=${VMRUN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmrun}
mkdir -p "$cache/pkg"
exec 9>"$cache/.lock"; flock 9 # one setup at a time
PATH=$PATH:/usr/sbin:/sbin

# --- host tools ----------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
for t in cpio:cpio xz:xz-utils zstd:zstd modprobe:kmod readelf:binutils; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "vmrun: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq --no-install-recommends "${need[@]}" ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; }; } >/dev/null ||
    die "apt-get install ${need[*]} failed"
fi

# --- kernel and busybox packages ---------------------------------------------------------
# Kernels come from a private apt state under $cache/apt that knows bullseye and
# bookworm (+ security): it resolves linux-image-amd64 to bookworm's 6.1 whatever
# the host runs, finds 5.10 kernels (bullseye) and keeps the host's apt untouched.
# No trixie: its linux-image-amd64 would win.
aptd=$cache/apt
apto=(-o Dir::Etc::SourceList="$aptd/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists="$aptd/lists" -o Dir::Cache="$aptd" -o Dir::State::Status=/dev/null -o APT::Sandbox::User=root)
apt_update() { # $1=force: refresh lists older than a day, or always
  [ "${1:-}" = force ] || [ -z "$(find "$aptd/.updated" -mmin -1440 2>/dev/null)" ] || return 0
  echo "vmrun: fetching package lists (bullseye, bookworm)" >&2
  mkdir -p "$aptd/lists/partial" "$aptd/archives/partial"
  local m s # the host's Debian mirror (deb822 or one-line sources), else deb.debian.org
  m=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true)
  s=$(awk '($1=="URIs:" || $1=="deb") && $2 ~ /\/debian-security\/?$/ {print $2; exit}' <<<"$m")
  m=$(awk '($1=="URIs:" || $1=="deb") && $2 ~ /\/debian\/?$/ {print $2; exit}' <<<"$m")
  m=${m:-http://deb.debian.org/debian} s=${s:-http://deb.debian.org/debian-security}
  { printf "deb $m %s main\n" bookworm bullseye; printf "deb $s %s main\n" bookworm-security bullseye-security; } \
    >"$aptd/sources.list"
  apt-get -qq "${apto[@]}" update >&2 || die "apt-get update of $aptd failed"
  touch "$aptd/.updated"
}
# unpack PKG: download the .deb and extract it under $cache/pkg/PKG/root (no dpkg, no hooks).
unpack() {
  local dir=$cache/pkg/$1
  if [ ! -e "$dir/.done" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    apt_update
    (cd "$dir" && { apt-get "${apto[@]}" download -qq "$1" ||
      { apt_update force && apt-get "${apto[@]}" download -qq "$1"; }; } >&2) ||
      die "cannot download package $1"
    dpkg-deb -x "$dir"/*.deb "$dir/root" && rm -f "$dir"/*.deb && touch "$dir/.done"
  fi
  echo "$dir/root"
}
# Follow meta packages (linux-image-amd64 -> linux-image-6.1.0-NN-amd64), re-resolved daily.
pkg=$kernel resolved=$cache/pkg/$kernel.resolved
if [ -n "$(find "$resolved" -mmin -1440 2>/dev/null)" ]; then pkg=$(cat "$resolved"); fi
for _ in 1 2 3; do
  [[ $pkg =~ ^linux-image-[0-9]+\.[0-9]+\.[0-9]+ ]] && break
  apt_update
  next=$(apt-cache "${apto[@]}" depends "$pkg" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$next" ] || die "cannot resolve kernel package '$pkg'"
  pkg=$next
done
echo "$pkg" >"$resolved"
kroot=$(unpack "$pkg")
imgs=("$kroot"/boot/vmlinuz-*) kimg=${imgs[0]}
[ -e "$kimg" ] || die "no vmlinuz in package $pkg"
kver=${kimg##*/vmlinuz-}
append=""
if grep -q '^CONFIG_BPF_LSM=y' "$kroot/boot/config-$kver" 2>/dev/null; then
  lsms=$(sed -n 's/^CONFIG_LSM="\(.*\)"/\1/p' "$kroot/boot/config-$kver")
  [[ ,$lsms, == *,bpf,* ]] || append="lsm=$lsms,bpf"
fi

# Boot the uncompressed ELF through its PVH entry when there is one: under TCG
# decompressing a bzImage takes about 3 s.
key=$kver-$(stat -c '%s %Y' "$kimg" | md5sum | cut -c1-8)
pvh=$cache/vmlinux-$key
if [ ! -e "$pvh" ]; then
  # bzImage header: setup sectors at 0x1f1, payload offset/length at 0x248/0x24c.
  ss=$(od -An -tu1 -j $((0x1f1)) -N1 "$kimg"); [ "$ss" -eq 0 ] && ss=4
  off=$(od -An -tu4 -j $((0x248)) -N4 "$kimg"); len=$(od -An -tu4 -j $((0x24c)) -N4 "$kimg")
  dd if="$kimg" of="$pvh.z" iflag=skip_bytes,count_bytes skip=$(((ss + 1) * 512 + off)) count="$len" bs=1M status=none
  case $(od -An -tx1 -N4 "$pvh.z" | tr -d ' ') in
    fd377a58) xz -dc --single-stream "$pvh.z" ;; 28b52ffd) zstd -dc "$pvh.z" ;; 1f8b*) gzip -dc "$pvh.z" ;;
  esac >"$pvh.tmp" 2>/dev/null || true
  rm -f "$pvh.z"
  if [[ $(readelf -n "$pvh.tmp" 2>/dev/null) == *'(0x00000012)'* ]]; then # XEN_ELFNOTE_PHYS32_ENTRY
    mv "$pvh.tmp" "$pvh"
  else
    rm -f "$pvh.tmp"; : >"$pvh" # empty: boot the bzImage
  fi
fi
[ -s "$pvh" ] && kimg=$pvh

# --- initramfs: static busybox, the virtio/9p/overlay modules and /init ---------------------
bbroot=$(unpack busybox-static)
read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
stty -F /dev/console -onlcr 2>/dev/null
for m in $(cat /modules/order 2>/dev/null); do insmod /modules/$m 2>/dev/null; done
o=trans=virtio,version=9p2000.L,msize=262144 R=/newroot
mkdir -p /ctl /lower /rw $R
mount -t 9p -o $o vmrunctl /ctl || { echo "vmrun-init: cannot mount the 9p share"; reboot -f; }
mount -t 9p -o $o,ro,cache=loose hostroot /lower
mount -t tmpfs -o mode=755 tmpfs /rw && mkdir /rw/u /rw/w
mount -t overlay -o lowerdir=/lower,upperdir=/rw/u,workdir=/rw/w overlay $R
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm; mount -t devpts devpts $R/dev/pts; mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=755 tmpfs $R/run
mount -t bpf bpf $R/sys/fs/bpf; mount -t tracefs tracefs $R/sys/kernel/tracing
mount -t debugfs debugfs $R/sys/kernel/debug; mount -t securityfs securityfs $R/sys/kernel/security
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
mkdir -p $R/run/vmrun && mount --bind /ctl $R/run/vmrun
cwd=$(cat /ctl/cwd)
[ "$cwd" = / ] || { mkdir -p "$R$cwd"; mount -t 9p -o $o,cache=mmap hostcwd "$R$cwd"; }
ip link set lo up
echo 5 >/proc/sys/kernel/printk # kernel warnings show while CMD runs
chroot $R /bin/bash /run/vmrun/cmd.sh </dev/null
echo $? >/ctl/rc
sync; echo 0 >/proc/sys/kernel/printk; reboot -f
EOF
initrd=$cache/initrd-$key-$(printf '%s' "$INIT" | md5sum | cut -c1-8).gz
if [ ! -e "$initrd" ]; then
  t=$(mktemp -d); mkdir -p "$t"/{bin,dev,proc,sys,modules}
  cp "$bbroot/bin/busybox" "$t/bin/" && printf '%s\n' "$INIT" >"$t/init" && chmod +x "$t/init"
  [ -e "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"
  for m in virtio_pci 9pnet_virtio 9p overlay virtio_rng; do
    modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null || true
  done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r f; do
    b=$(basename "$f"); b=${b%.xz}; b=${b%.zst}
    case $f in *.xz) xz -dc "$f" ;; *.zst) zstd -dc "$f" ;; *) cat "$f" ;; esac >"$t/modules/$b"
    echo "$b" >>"$t/modules/order"
  done
  (cd "$t" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp" && mv "$initrd.tmp" "$initrd"
  rm -rf "$t"
fi
flock -u 9

# --- control share: working directory and command, with the caller's environment ---------
# The kernel package's files (its modules under lib/modules) for tests that load a module.
export VMRUN_KERNEL_ROOT=$kroot
ctl=$(mktemp -d /tmp/vmrun.XXXXXX)
trap 'rm -rf "$ctl"' EXIT
pwd -P >"$ctl/cwd"
{
  for v in $(compgen -e); do
    case $v in PWD | OLDPWD | SHLVL | _) ;; *) printf 'export %s=%q\n' "$v" "${!v}" ;; esac
  done
  printf 'cd %q || exit 125\nexec' "$(pwd -P)"; printf ' %q' "$@"; echo
} >"$ctl/cmd.sh"

# --- boot ---------------------------------------------------------------------------------
# TCG: the nested KVM of our build machines cannot boot stock kernels. One TCG
# thread for all vCPUs: with thread=multi (QEMU 7.2) a vCPU now and then keeps
# running a stale translation of kernel text patched by another vCPU (an int3
# left by text_poke_bp when a BPF program enables a static key) and spins
# there forever (seen about 1 run in 10 on 6.1).
share() { echo "local,path=$1,mount_tag=$2,security_model=none,multidevs=remap${3:+,$3}"; }
bios=(); [ ! -e /usr/share/qemu/qboot.rom ] || bios=(-bios /usr/share/qemu/qboot.rom) # faster than SeaBIOS
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -no-reboot -display none
  -accel "tcg,thread=${VMRUN_TCG_THREAD:-single}" -cpu max -smp "$cpus" -m "$mem" "${bios[@]}" -kernel "$kimg" -initrd "$initrd"
  -append "console=ttyS0 loglevel=1 edd=off panic=-1 rdinit=/init mitigations=off $append ${VMRUN_APPEND:-}"
  -chardev stdio,id=con,signal=off -serial chardev:con -device virtio-rng-pci
  -virtfs "$(share / hostroot readonly=on)" -virtfs "$(share "$(pwd -P)" hostcwd)" -virtfs "$(share "$ctl" vmrunctl)")
[ -z "${VMRUN_TIMEOUT:-}" ] || qemu=(timeout --foreground "$VMRUN_TIMEOUT" "${qemu[@]}")
"${qemu[@]}" </dev/null &
qpid=$!
trap 'kill $qpid 2>/dev/null; exit 125' INT TERM # EXIT still removes $ctl
wait $qpid || true
[ -e "$ctl/rc" ] || die "the guest reported no exit status (kernel panic, crash or timeout)"
exit "$(cat "$ctl/rc")"
