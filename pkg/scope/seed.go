package scope

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// hierarchy is a mounted cgroup hierarchy whose cgroups place processes
// for the kernel's scope check: cgroup v2 (id 0), v1's memory controller.
type hierarchy struct {
	root string
	id   uint32
}

// seed adds the pods' cgroups that existed before the sensor loaded (the
// kernel marks those made since).
func seed(kernel *tracing.Sensor) error {
	hs, err := hierarchies("/proc/self/mounts", "/proc/cgroups")
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := walk(kernel, h, h.root, ""); err != nil {
			return fmt.Errorf("finding pod cgroups under %s: %w", h.root, err)
		}
	}
	return nil
}

// walk adds the cgroups below dir that belong to a pod: named after it,
// or below one (uid is that of dir's pod, if any).
func walk(kernel *tracing.Sensor, h hierarchy, dir, uid string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		pod := uid
		if pod == "" {
			pod = PodUID(e.Name())
		}
		if pod != "" {
			if err := add(kernel, h, path, pod); err != nil {
				return err
			}
		}
		if err := walk(kernel, h, path, pod); err != nil {
			return err
		}
	}
	return nil
}

func add(kernel *tracing.Sensor, h hierarchy, path, uid string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return nil // removed meanwhile
	}
	return kernel.AddCgroup(tracing.Cgroup{Key: tracing.ScopeKey{ID: st.Ino, Hierarchy: h.id}, PodUID: uid,
		Name: filepath.Base(path)})
}

// hierarchies finds the cgroup v2 mount and the v1 memory controller's in
// a mount table, with the memory hierarchy's id from the cgroups table.
func hierarchies(mounts, cgroups string) ([]hierarchy, error) {
	f, err := os.Open(mounts)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []hierarchy
	seen := map[uint32]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 4 {
			continue
		}
		h := hierarchy{root: fl[1]}
		switch {
		case fl[2] == "cgroup2":
		case fl[2] == "cgroup" && hasOption(fl[3], "memory"):
			if h.id, err = memoryHierarchy(cgroups); err != nil {
				return nil, err
			}
		default:
			continue
		}
		if !seen[h.id] {
			seen[h.id] = true
			out = append(out, h)
		}
	}
	return out, sc.Err()
}

func hasOption(opts, o string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == o {
			return true
		}
	}
	return false
}

// memoryHierarchy reads the v1 memory controller's hierarchy id from
// /proc/cgroups ("subsys_name hierarchy num_cgroups enabled").
func memoryHierarchy(cgroups string) (uint32, error) {
	b, err := os.ReadFile(cgroups)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "memory" {
			id, err := strconv.ParseUint(f[1], 10, 32)
			return uint32(id), err
		}
	}
	return 0, fmt.Errorf("%s has no memory controller", cgroups)
}

// PodUID finds the pod UID in a cgroup's name, as the kubelet names a pod's
// cgroup ("pod<UID>" with cgroupfs, "kubepods-<qos>-pod<UID>.slice" with
// systemd, which writes '_' for '-'), the way the kernel does at mkdir.
func PodUID(name string) string {
	for i := 0; i+3+tracing.PodUIDLen <= len(name); i++ {
		if name[i:i+3] != "pod" {
			continue
		}
		if uid, ok := uidAt(name[i+3 : i+3+tracing.PodUIDLen]); ok {
			return uid
		}
	}
	return ""
}

func uidAt(s string) (string, bool) {
	b := []byte(s)
	for j, c := range b {
		switch {
		case j == 8 || j == 13 || j == 18 || j == 23:
			if c != '-' && c != '_' {
				return "", false
			}
			b[j] = '-'
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return "", false
		}
	}
	return string(b), true
}
