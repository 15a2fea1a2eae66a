// Package pods keeps the pods scheduled on this node, from a node-local
// informer on the Kubernetes API server, indexed by container id, so that
// events can say which pod and container a process runs in.
package pods

import (
	"context"
	"strings"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/containerid"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/kubewatch"
)

const byContainer = "containerID"

// Index answers which pod and container a container id belongs to.
type Index struct {
	informer cache.SharedIndexInformer
}

// New watches the pods of all namespaces (kubewatch.Core.Pods("")) whose
// spec.nodeName is node. Nothing is read until Start; the informer retries
// with backoff while the API server is down.
func New(all kubewatch.Client[*corev1.PodList], node string) *Index {
	inf := kubewatch.Informer[*corev1.PodList](all,
		fields.OneTermEqualSelector("spec.nodeName", node).String(), &corev1.Pod{},
		cache.Indexers{byContainer: containerIDs}, "")
	return &Index{informer: inf}
}

// Start runs the informer until ctx ends.
func (ix *Index) Start(ctx context.Context) {
	go ix.informer.RunWithContext(ctx)
}

// Synced says whether the first list of pods has arrived.
func (ix *Index) Synced() bool { return ix.informer.HasSynced() }

// List returns the pods of this node known so far.
func (ix *Index) List() []*corev1.Pod {
	objs := ix.informer.GetStore().List()
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok {
			out = append(out, pod)
		}
	}
	return out
}

// OnChange calls f after any pod of this node is added, changed or deleted.
func (ix *Index) OnChange(f func()) error {
	_, err := ix.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { f() },
		UpdateFunc: func(any, any) { f() },
		DeleteFunc: func(any) { f() },
	})
	return err
}

// ContainerName returns the name of pod's container with runtime id id.
func ContainerName(pod *corev1.Pod, id string) (string, bool) {
	for _, cs := range statuses(pod) {
		if cid, _, ok := containerid.FromStatus(cs.ContainerID); ok && cid == id {
			return cs.Name, true
		}
	}
	return "", false
}

// containerIDs indexes a pod by the ids of all its containers.
func containerIDs(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var ids []string
	for _, cs := range statuses(pod) {
		if id, _, ok := containerid.FromStatus(cs.ContainerID); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func statuses(pod *corev1.Pod) []corev1.ContainerStatus {
	all := append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...)
	all = append(all, pod.Status.ContainerStatuses...)
	return append(all, pod.Status.EphemeralContainerStatuses...)
}

// Container returns the pod block of events for the container with id, or
// nil when no pod of this node has it (yet).
func (ix *Index) Container(id string) *event.Pod {
	objs, err := ix.informer.GetIndexer().ByIndex(byContainer, id)
	if err != nil || len(objs) == 0 {
		return nil
	}
	pod := objs[0].(*corev1.Pod)
	for _, cs := range statuses(pod) {
		if cid, _, ok := containerid.FromStatus(cs.ContainerID); ok && cid == id {
			return describe(pod, &cs)
		}
	}
	logrus.WithField("container", id).Debug("pod indexed without its container")
	return nil
}

func describe(pod *corev1.Pod, cs *corev1.ContainerStatus) *event.Pod {
	kind, name := workload(pod)
	c := &event.Container{ID: cs.ContainerID, Name: cs.Name, Image: &event.Image{ID: cs.ImageID, Name: cs.Image}}
	if r := cs.State.Running; r != nil {
		c.StartTime = event.FormatTime(r.StartedAt.Time)
	}
	return &event.Pod{Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID), Container: c,
		PodLabels: pod.Labels, Workload: name, WorkloadKind: kind}
}

// workload names what runs the pod: the Deployment behind its ReplicaSet,
// its StatefulSet, DaemonSet, Job, CronJob's Job, or the pod itself.
func workload(pod *corev1.Pod) (kind, name string) {
	for _, o := range pod.OwnerReferences {
		if o.Controller == nil || !*o.Controller {
			continue
		}
		switch o.Kind {
		case "ReplicaSet":
			if hash := pod.Labels["pod-template-hash"]; hash != "" {
				if d, ok := strings.CutSuffix(o.Name, "-"+hash); ok {
					return "Deployment", d
				}
			}
		case "Job":
			if c, ok := cronJob(o.Name); ok {
				return "CronJob", c
			}
		}
		return o.Kind, o.Name
	}
	return "Pod", pod.Name
}

// cronJob is the CronJob of a Job named "<cronjob>-<scheduled minute>".
func cronJob(job string) (string, bool) {
	i := strings.LastIndexByte(job, '-')
	if i <= 0 || len(job)-i-1 < 8 || strings.Trim(job[i+1:], "0123456789") != "" {
		return "", false
	}
	return job[:i], true
}
