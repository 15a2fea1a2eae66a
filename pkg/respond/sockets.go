package respond

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Socket is one TCP or UDP socket, from /proc/PID/net.
type Socket struct {
	Proto  string `json:"proto"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	Inode  uint64 `json:"inode"`
}

var netProtos = []string{"tcp", "tcp6", "udp", "udp6"}

// tcpStates name the kernel's socket states (include/net/tcp_states.h).
var tcpStates = map[string]string{"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
	"0B": "CLOSING", "0C": "NEW_SYN_RECV"}

// netSockets reads the sockets of pid's network namespace, by inode.
func netSockets(pid int) map[uint64]Socket {
	t := map[uint64]Socket{}
	for _, proto := range netProtos {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
		if err == nil {
			parseNet(proto, string(b), t)
		}
	}
	return t
}

// parseNet adds the sockets of one /proc/net table to t.
func parseNet(proto, table string, t map[uint64]Socket) {
	lines := strings.Split(table, "\n")
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		state := tcpStates[f[3]]
		if state == "" {
			state = f[3]
		}
		t[ino] = Socket{Proto: proto, Local: hexAddr(f[1]), Remote: hexAddr(f[2]), State: state, Inode: ino}
	}
}

// hexAddr decodes ADDR:PORT as /proc/net writes it: the address as
// 32-bit words in the host's byte order, the port in hex.
func hexAddr(s string) string {
	a, p, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(a)
	port, perr := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return s
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
}
