package respond

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Evidence is what one evidence file holds: the alert, the process tree
// as it was, its open files and sockets, and the binaries' digests.
type Evidence struct {
	Time         string          `json:"time"`
	Action       string          `json:"action"`
	Reason       string          `json:"reason,omitempty"`
	Policy       string          `json:"policy,omitempty"`
	Workload     string          `json:"workload"`
	FrozenCgroup string          `json:"frozen_cgroup,omitempty"`
	Alert        json.RawMessage `json:"alert"`
	// Process is the alert's process; Descendants are its children and
	// theirs, breadth first; Ancestors its parent, grandparent, and on.
	Process     *ProcessInfo   `json:"process"`
	Descendants []*ProcessInfo `json:"descendants,omitempty"`
	Ancestors   []*ProcessInfo `json:"ancestors,omitempty"`
}

// ProcessInfo is one process of the evidence; open files, sockets and
// the digest only for the process and its descendants.
type ProcessInfo struct {
	Pid     int        `json:"pid"`
	Ppid    int        `json:"ppid"`
	State   string     `json:"state,omitempty"`
	Exe     string     `json:"exe"`
	Cmdline []string   `json:"cmdline"`
	SHA256  string     `json:"sha256,omitempty"`
	Files   []OpenFile `json:"open_files,omitempty"`
	Sockets []Socket   `json:"sockets,omitempty"`
	Errors  []string   `json:"errors,omitempty"`
}

// OpenFile is one file descriptor and what it refers to.
type OpenFile struct {
	FD   int    `json:"fd"`
	Path string `json:"path"`
}

// evidence answers {"action": "evidence"}.
func (e *Engine) evidence(a *alert, r Response, res *Result) error {
	if e.opts.EvidenceDir == "" {
		return skipped("no evidence directory")
	}
	t, err := e.open(a)
	if err != nil {
		return err
	}
	defer t.close()
	if err := e.charge(a); err != nil {
		return err
	}
	res.Evidence, err = e.capture(a, r, t.pid, "")
	return err
}

// capture writes the evidence of pid's tree to a new file in the evidence
// directory and returns its path; with no directory it does nothing.
func (e *Engine) capture(a *alert, r Response, pid int, frozenCgroup string) (string, error) {
	if e.opts.EvidenceDir == "" {
		return "", nil
	}
	alert, err := json.Marshal(a.ev)
	if err != nil {
		return "", err
	}
	ev := &Evidence{Time: time.Now().UTC().Format(time.RFC3339Nano), Action: r.Action, Reason: r.Reason,
		Policy: a.policy, Workload: a.workload, FrozenCgroup: frozenCgroup, Alert: alert}
	c := newCollector()
	for i, p := range tree(pid, parents()) {
		if i == 0 {
			ev.Process = c.full(p)
		} else {
			ev.Descendants = append(ev.Descendants, c.full(p))
		}
	}
	for _, p := range ancestors(pid) {
		ev.Ancestors = append(ev.Ancestors, brief(p))
	}
	return writeEvidence(e.opts.EvidenceDir, ev, pid)
}

func writeEvidence(dir string, ev *Evidence, pid int) (string, error) {
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return "", err
	}
	name := fmt.Sprintf("%s-%s-%d.json", time.Now().UTC().Format("20060102T150405.000000000"), ev.Action, pid)
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return path, err
}

// collector reads processes, hashing each binary and reading each
// network namespace's socket tables once.
type collector struct {
	digests map[[2]uint64]string
	sockets map[string]map[uint64]Socket
}

func newCollector() *collector {
	return &collector{digests: map[[2]uint64]string{}, sockets: map[string]map[uint64]Socket{}}
}

func brief(pid int) *ProcessInfo {
	p := &ProcessInfo{Pid: pid, Exe: exePath(pid), Cmdline: cmdline(pid)}
	if st, err := readStat(pid); err == nil {
		p.Ppid, p.State = st.ppid, string(st.state)
	}
	return p
}

func (c *collector) full(pid int) *ProcessInfo {
	p := brief(pid)
	var err error
	if p.SHA256, err = c.digest(pid); err != nil {
		p.Errors = append(p.Errors, err.Error())
	}
	var inodes []uint64
	if p.Files, inodes, err = openFiles(pid); err != nil {
		p.Errors = append(p.Errors, err.Error())
	}
	if len(inodes) > 0 {
		table := c.netTable(pid)
		for _, ino := range inodes {
			if s, ok := table[ino]; ok {
				p.Sockets = append(p.Sockets, s)
			}
		}
	}
	return p
}

// digest is the sha256 of the process's binary, read through
// /proc/PID/exe (so a deleted or replaced binary is still the one run).
func (c *collector) digest(pid int) (string, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return "", err
	}
	defer f.Close()
	var key [2]uint64
	if fi, err := f.Stat(); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			key = [2]uint64{st.Dev, st.Ino}
		}
	}
	if d, ok := c.digests[key]; ok && key != [2]uint64{} {
		return d, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	c.digests[key] = hex.EncodeToString(h.Sum(nil))
	return c.digests[key], nil
}

// openFiles lists the process's file descriptors and the inodes of its
// sockets.
func openFiles(pid int) ([]OpenFile, []uint64, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var files []OpenFile
	var inodes []uint64
	for _, d := range ents {
		fd, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, d.Name()))
		if err != nil {
			continue
		}
		files = append(files, OpenFile{FD: fd, Path: target})
		if s, ok := strings.CutPrefix(target, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				inodes = append(inodes, ino)
			}
		}
	}
	return files, inodes, nil
}

// netTable is the socket table of the process's network namespace.
func (c *collector) netTable(pid int) map[uint64]Socket {
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if t, ok := c.sockets[ns]; ok && ns != "" {
		return t
	}
	t := netSockets(pid)
	c.sockets[ns] = t
	return t
}
