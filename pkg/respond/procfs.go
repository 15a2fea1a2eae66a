package respond

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procStat is what /proc/PID/stat says of a process.
type procStat struct {
	ppid  int
	state byte
	start uint64 // clock ticks after boot
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// the command name, in parentheses, may hold spaces and parentheses
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{ppid: ppid, state: f[0][0], start: start}, nil
}

// parents maps every process to its parent.
func parents() map[int]int {
	ents, _ := os.ReadDir("/proc")
	m := make(map[int]int, len(ents))
	for _, d := range ents {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			m[pid] = st.ppid
		}
	}
	return m
}

// tree returns root and its descendants, breadth first: every process
// comes after its parent, and deeper processes after shallower ones;
// siblings by pid.
func tree(root int, parent map[int]int) []int {
	kids := map[int][]int{}
	for pid, pp := range parent {
		kids[pp] = append(kids[pp], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		k := kids[out[i]]
		slices.Sort(k)
		out = append(out, k...)
	}
	return out
}

// ancestors returns pid's parent, its parent, and so on up to PID 1.
func ancestors(pid int) []int {
	var out []int
	for len(out) < 256 {
		st, err := readStat(pid)
		if err != nil || st.ppid <= 0 {
			break
		}
		pid = st.ppid
		out = append(out, pid)
	}
	return out
}

func exePath(pid int) string {
	p, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return p
}

func cmdline(pid int) []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// nsPid returns pid as its innermost pid namespace numbers it.
func nsPid(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "NSpid:"); ok && len(strings.Fields(rest)) > 0 {
			f := strings.Fields(rest)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return pid
}

// userHZ is the unit of /proc's clock ticks on every Linux architecture
// Vigil runs on.
const userHZ = 100

var bootOnce = sync.OnceValue(func() time.Time {
	b, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			s, _ := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			return time.Unix(s, 0)
		}
	}
	return time.Time{}
})

// startTime is when the process started, from /proc (to a second or so:
// the boot time /proc gives is in seconds).
func startTime(st procStat) time.Time {
	return bootOnce().Add(time.Duration(st.start) * time.Second / userHZ)
}
