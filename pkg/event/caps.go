package event

import (
	"math/bits"
	"strconv"
)

// CapabilityNames are the Linux capability names, by bit number.
var CapabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// CapabilityName names capability n; unknown ones read "CAP_<n>".
func CapabilityName(n int) string {
	if n >= 0 && n < len(CapabilityNames) {
		return CapabilityNames[n]
	}
	return "CAP_" + strconv.Itoa(n)
}

// CapabilityList names the capabilities set in mask as Tetragon's
// CapabilitiesType enum does, which a strict parser of its events checks:
// the kernel's names, but for DAC_OVERRIDE, which has no CAP_ prefix there.
func CapabilityList(mask uint64) []string {
	var out []string
	for mask != 0 {
		bit := bits.TrailingZeros64(mask)
		mask &^= 1 << bit
		if bit == capDACOverride {
			out = append(out, "DAC_OVERRIDE")
			continue
		}
		out = append(out, CapabilityName(bit))
	}
	return out
}

const capDACOverride = 1
