package tracing

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Limits of the pod scope maps, as in bpf/include/scope.h.
const (
	ScopeWords   = MaxPolicies / 64
	PodUIDLen    = 36
	ScopeNameLen = 128
)

// ScopeKey names a cgroup: its kernfs id (the inode number of its
// directory) and its hierarchy (0 for cgroup v2).
type ScopeKey struct {
	ID        uint64
	Hierarchy uint32
	Pad       uint32
}

// ScopeMask is a set of policy ids.
type ScopeMask struct {
	Bits [ScopeWords]uint64
}

// Set adds policy id to m.
func (m *ScopeMask) Set(id uint32) { m.Bits[id/64%ScopeWords] |= 1 << (id % 64) }

// Has says whether m holds policy id.
func (m *ScopeMask) Has(id uint32) bool { return m.Bits[id/64%ScopeWords]&(1<<(id%64)) != 0 }

type podKey struct {
	UID [PodUIDLen]byte
}

// cgroupScope mirrors struct cgroup_scope.
type cgroupScope struct {
	Mask ScopeMask
	Pod  podKey
	Pad  uint32
	Name [ScopeNameLen]byte
}

// Cgroup is a pod's cgroup in the kernel's scope map: the policies that
// apply to the processes in it.
type Cgroup struct {
	Key    ScopeKey
	PodUID string
	Name   string // the directory's name
	Mask   ScopeMask
}

func podKeyOf(uid string) (podKey, error) {
	var k podKey
	if len(uid) != PodUIDLen {
		return k, fmt.Errorf("pod uid %q is not a %d-character UUID", uid, PodUIDLen)
	}
	copy(k.UID[:], uid)
	return k, nil
}

// Cgroups lists the cgroups the kernel knows to be pods'.
func (s *Sensor) Cgroups() ([]Cgroup, error) {
	var (
		k   ScopeKey
		v   cgroupScope
		out []Cgroup
	)
	it := s.objs.CgroupScopes.Iterate()
	for it.Next(&k, &v) {
		out = append(out, Cgroup{Key: k, PodUID: string(v.Pod.UID[:]), Name: cString(v.Name[:]), Mask: v.Mask})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("listing pod cgroups: %w", err)
	}
	return out, nil
}

// AddCgroup records a pod's cgroup that existed before the sensor loaded;
// one the kernel already knows is left as it is.
func (s *Sensor) AddCgroup(c Cgroup) error {
	return s.putCgroup(c, ebpf.UpdateNoExist, ebpf.ErrKeyExist)
}

// SetCgroupMask sets the policies of a cgroup the kernel knows; a cgroup
// removed meanwhile is no error.
func (s *Sensor) SetCgroupMask(c Cgroup) error {
	return s.putCgroup(c, ebpf.UpdateExist, ebpf.ErrKeyNotExist)
}

// putCgroup writes c's entry with flags; the error benign is none.
func (s *Sensor) putCgroup(c Cgroup, flags ebpf.MapUpdateFlags, benign error) error {
	pod, err := podKeyOf(c.PodUID)
	if err != nil {
		return err
	}
	v := cgroupScope{Mask: c.Mask, Pod: pod}
	copy(v.Name[:ScopeNameLen-1], c.Name)
	err = s.objs.CgroupScopes.Update(&c.Key, &v, flags)
	if err != nil && !errors.Is(err, benign) {
		return fmt.Errorf("writing cgroup %s to the pod scope map: %w", c.Name, err)
	}
	return nil
}

// PodScopes returns the policies of every pod UID the kernel has.
func (s *Sensor) PodScopes() (map[string]ScopeMask, error) {
	var (
		k podKey
		m ScopeMask
	)
	out := map[string]ScopeMask{}
	it := s.objs.PodScopes.Iterate()
	for it.Next(&k, &m) {
		out[string(k.UID[:])] = m
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("listing pod scopes: %w", err)
	}
	return out, nil
}

// SetPodScope sets the policies a new cgroup of pod uid starts with.
func (s *Sensor) SetPodScope(uid string, m ScopeMask) error {
	k, err := podKeyOf(uid)
	if err != nil {
		return err
	}
	if err := s.objs.PodScopes.Put(&k, &m); err != nil {
		return fmt.Errorf("setting the scope of pod %s: %w", uid, err)
	}
	return nil
}

// DeletePodScope forgets pod uid.
func (s *Sensor) DeletePodScope(uid string) error {
	k, err := podKeyOf(uid)
	if err != nil {
		return err
	}
	if err := s.objs.PodScopes.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("deleting the scope of pod %s: %w", uid, err)
	}
	return nil
}

// HostScope returns the policies that apply to host processes.
func (s *Sensor) HostScope() (ScopeMask, error) {
	var m ScopeMask
	if err := s.objs.HostScope.Lookup(uint32(0), &m); err != nil {
		return m, fmt.Errorf("reading the host scope: %w", err)
	}
	return m, nil
}

// SetHostScope sets the policies that apply to host processes.
func (s *Sensor) SetHostScope(m ScopeMask) error {
	if err := s.objs.HostScope.Put(uint32(0), &m); err != nil {
		return fmt.Errorf("setting the host scope: %w", err)
	}
	return nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
