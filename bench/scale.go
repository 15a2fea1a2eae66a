package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/vigil-sec/vigil/pkg/api"
)

// scalePolicy watches opens and unlinks under a directory of its own.
const scalePolicy = `apiVersion: vigil.dev/v1alpha1
kind: TracingPolicy
metadata:
  name: bench-scale-%[1]d
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["/var/lib/bench-%[1]d/"]}
  - call: sys_unlinkat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["/var/lib/bench-%[1]d/"]}
`

// policyScale adds policies one at a time through the admin API and
// reports, at each count, the time spent loading them and the kernel
// memory of the agent's BPF maps and programs over the agent without
// policies.
func policyScale(r *report, bin string, counts []int) error {
	dir, err := os.MkdirTemp("", "vigil-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "api.sock")
	a, err := startAgent(bin, []string{"--api-socket", sock}, false)
	if err != nil {
		return err
	}
	defer a.stop()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := api.NewVigilClient(conn)
	base, err := bpfMemory(a.pid())
	if err != nil {
		return err
	}
	r.printf("## Policy scale: policies of two syscall hooks each, added through the API\n\n")
	r.printf("Without policies the agent's BPF objects hold %.1f MiB of kernel memory (%d programs, %d maps).\n\n", mib(base.bytes), base.progs, base.maps)
	r.printf("| policies | load time, all (ms) | per policy (ms) | kernel memory over none (MiB) | programs | maps |\n|---|---|---|---|---|---|\n")
	var spent time.Duration
	for loaded, i := 0, 0; i < len(counts); i++ {
		for ; loaded < counts[i]; loaded++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			start := time.Now()
			_, err := c.AddPolicy(ctx, &api.AddPolicyRequest{Yaml: []byte(fmt.Sprintf(scalePolicy, loaded))})
			spent += time.Since(start)
			cancel()
			if err != nil {
				return fmt.Errorf("policy %d: %w", loaded+1, err)
			}
		}
		m, err := bpfMemory(a.pid())
		if err != nil {
			return err
		}
		ms := float64(spent.Microseconds()) / 1000
		r.printf("| %d | %.0f | %.1f | %.2f | %d | %d |\n", loaded, ms, ms/float64(loaded), mib(m.bytes-base.bytes), m.progs, m.maps)
	}
	r.printf("\n")
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// bpfUse is the kernel memory (memlock) of the BPF maps and programs a
// process holds, each counted once.
type bpfUse struct {
	bytes       int64
	progs, maps int
}

func bpfMemory(pid int) (bpfUse, error) {
	var u bpfUse
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return u, err
	}
	seen := map[string]bool{}
	for _, fd := range fds {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		kind, ok := map[string]string{"anon_inode:bpf-map": "map_id", "anon_inode:bpf-prog": "prog_id"}[link]
		if !ok {
			continue
		}
		info, err := fdinfo(pid, fd.Name())
		if err != nil || seen[kind+info[kind]] {
			continue
		}
		seen[kind+info[kind]] = true
		n, _ := strconv.ParseInt(info["memlock"], 10, 64)
		u.bytes += n
		if kind == "map_id" {
			u.maps++
		} else {
			u.progs++
		}
	}
	return u, nil
}

// fdinfo reads /proc/PID/fdinfo/FD as fields.
func fdinfo(pid int, fd string) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, fd))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, nil
}
