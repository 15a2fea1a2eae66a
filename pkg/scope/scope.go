// Package scope keeps the kernel's pod scope current: which policies apply
// to each pod, container and to host processes, as pods come, change labels
// and go, and as scoped policies load and leave.
package scope

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vigil-sec/vigil/pkg/compile"
	"github.com/vigil-sec/vigil/pkg/containerid"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/tracing"
)

// Resync is how often the maps are rebuilt even when nothing announced a
// change (a cgroup made while a pod's scope was being rewritten).
const Resync = 30 * time.Second

// rule is a policy's scope, with its selectors parsed.
type rule struct {
	namespace  string
	pods       labels.Selector // nil: no pod
	containers labels.Selector // nil: every container
	host       bool
}

func ruleOf(s *compile.Scope) (*rule, error) {
	r := &rule{namespace: s.Namespace, host: s.Host}
	var err error
	if s.Pods != nil {
		if r.pods, err = s.Pods.Selector(); err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
	}
	if s.Containers != nil {
		if r.containers, err = s.Containers.Selector(); err != nil {
			return nil, fmt.Errorf("containerSelector: %w", err)
		}
	}
	return r, nil
}

// pod says whether the rule covers some container of pod.
func (r *rule) pod(pod *corev1.Pod) bool {
	return r.pods != nil && (r.namespace == "" || r.namespace == pod.Namespace) &&
		r.pods.Matches(labels.Set(pod.Labels))
}

// container says whether the rule covers container name of a pod it covers.
func (r *rule) container(name string) bool {
	return r.containers == nil || r.containers.Matches(labels.Set{"name": name})
}

// everyContainer says whether the rule covers every container pod's spec
// names: then the whole pod is in scope, before any container has an id.
func (r *rule) everyContainer(pod *corev1.Pod) bool {
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if !r.container(c.Name) {
			return false
		}
	}
	return true
}

// Scopes writes the kernel's scope maps from the scoped policies and the
// node's pods.
type Scopes struct {
	kernel *tracing.Sensor
	pods   *pods.Index // nil without the Kubernetes API: no pod is in scope

	mu    sync.Mutex
	rules map[uint32]*rule // by policy id
	kick  chan struct{}
}

// New manages the scope maps of kernel for the pods of index (nil for
// none). Cgroups made before the sensor loaded are found in the cgroup
// file systems.
func New(kernel *tracing.Sensor, index *pods.Index) (*Scopes, error) {
	s := &Scopes{kernel: kernel, pods: index, rules: map[uint32]*rule{}, kick: make(chan struct{}, 1)}
	if err := seed(kernel); err != nil {
		return nil, err
	}
	if index != nil {
		if err := index.OnChange(s.changed); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Scopes) changed() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run rewrites the maps after pod changes, and every Resync, until ctx ends.
func (s *Scopes) Run(ctx context.Context) {
	t := time.NewTicker(Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
		if err := s.Sync(); err != nil {
			logrus.WithError(err).Warn("updating the pod scope")
		}
	}
}

// Set gives policy id the scope sc (nil: none, the policy is not scoped)
// and updates the kernel before returning.
func (s *Scopes) Set(id uint32, sc *compile.Scope) error {
	var r *rule
	if sc != nil {
		var err error
		if r, err = ruleOf(sc); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if r == nil {
		delete(s.rules, id)
	} else {
		s.rules[id] = r
	}
	s.mu.Unlock()
	return s.Sync()
}

// Sync rewrites the host scope, every pod's scope and every pod cgroup's
// from the rules and the pods known now.
func (s *Scopes) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var host tracing.ScopeMask
	for id, r := range s.rules {
		if r.host {
			host.Set(id)
		}
	}
	if err := s.kernel.SetHostScope(host); err != nil {
		return err
	}
	byUID, err := s.syncPods()
	if err != nil {
		return err
	}
	return s.syncCgroups(byUID)
}

// syncPods writes the policies of each pod's new cgroups: those that apply
// to all its containers.
func (s *Scopes) syncPods() (map[string]*corev1.Pod, error) {
	byUID := map[string]*corev1.Pod{}
	if s.pods != nil {
		for _, pod := range s.pods.List() {
			byUID[string(pod.UID)] = pod
		}
	}
	old, err := s.kernel.PodScopes()
	if err != nil {
		return nil, err
	}
	for uid, pod := range byUID {
		m := s.mask(pod, nil)
		if o, ok := old[uid]; ok && o == m {
			continue
		}
		if err := s.kernel.SetPodScope(uid, m); err != nil {
			return nil, err
		}
	}
	for uid := range old {
		if byUID[uid] == nil {
			if err := s.kernel.DeletePodScope(uid); err != nil {
				return nil, err
			}
		}
	}
	return byUID, nil
}

// syncCgroups writes the policies of each pod cgroup the kernel knows:
// its pod's, and those that select its container by name.
func (s *Scopes) syncCgroups(byUID map[string]*corev1.Pod) error {
	cgs, err := s.kernel.Cgroups()
	if err != nil {
		return err
	}
	for _, c := range cgs {
		var m tracing.ScopeMask
		if pod := byUID[c.PodUID]; pod != nil {
			m = s.mask(pod, containerOf(pod, c.Name))
		}
		if m == c.Mask {
			continue
		}
		c.Mask = m
		if err := s.kernel.SetCgroupMask(c); err != nil {
			return err
		}
	}
	return nil
}

// containerOf returns the name of pod's container whose cgroup is named
// cgroup, or nil for a cgroup of no known container (the pod's own).
func containerOf(pod *corev1.Pod, cgroup string) *string {
	id, _, ok := containerid.Parse(cgroup)
	if !ok {
		return nil
	}
	name, ok := pods.ContainerName(pod, id)
	if !ok {
		return nil
	}
	return &name
}

// mask is the policies that apply to container (nil: a cgroup of pod not
// known to be a container's, where only rules that cover every container
// of the pod apply).
func (s *Scopes) mask(pod *corev1.Pod, container *string) tracing.ScopeMask {
	var m tracing.ScopeMask
	for id, r := range s.rules {
		if !r.pod(pod) {
			continue
		}
		if container != nil && r.container(*container) || container == nil && r.everyContainer(pod) {
			m.Set(id)
		}
	}
	return m
}
