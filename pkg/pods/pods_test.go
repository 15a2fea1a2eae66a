package pods

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/event"
)

var server *kubetest.Server

func TestMain(m *testing.M) {
	var err error
	if server, err = kubetest.Start(); err != nil {
		fmt.Println("pods tests need a Kubernetes API server:", err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

const node = "vigil-test-node"

// createPod creates a running pod on nodeName with one container whose
// runtime id is id, as a kubelet would report it.
func createPod(t *testing.T, ns, name, nodeName, id string, labels map[string]string, owner *metav1.OwnerReference) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	created, err := server.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "app", Image: "nginx:1.27", ImageID: "docker.io/library/nginx@sha256:" + strings.Repeat("e", 64),
		ContainerID: "containerd://" + id,
		State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Unix(1700000000, 0))}},
	}}
	if _, err := server.Client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = server.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
}

func namespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := server.Client.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil &&
		!strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
}

// waitFor polls the index until f holds or 10 s pass.
func waitFor(ix *Index, id string, f func(*event.Pod) bool) *event.Pod {
	deadline := time.Now().Add(10 * time.Second)
	for {
		p := ix.Container(id)
		if f(p) || time.Now().After(deadline) {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIndexFindsThisNodesContainers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ix := New(server.Core.Pods(""), node)
	ix.Start(ctx)
	namespace(t, "shop")
	id, other := strings.Repeat("a1", 32), strings.Repeat("b2", 32)
	yes := true
	rs := &metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-5d8f9c7b6", UID: types.UID("0f0e0d0c-0b0a-0908-0706-050403020100"), Controller: &yes}
	createPod(t, "shop", "web-5d8f9c7b6-x2x9k", node, id, map[string]string{"app": "web", "pod-template-hash": "5d8f9c7b6"}, rs)
	createPod(t, "shop", "elsewhere", "another-node", other, nil, nil)

	p := waitFor(ix, id, func(p *event.Pod) bool { return p != nil })
	if p == nil {
		t.Fatal("the pod's container never appeared in the index")
	}
	c := p.Container
	if p.Namespace != "shop" || p.Name != "web-5d8f9c7b6-x2x9k" || p.PodLabels["app"] != "web" || p.UID == "" ||
		p.Workload != "web" || p.WorkloadKind != "Deployment" || c == nil || c.ID != "containerd://"+id ||
		c.Name != "app" || c.Image.Name != "nginx:1.27" || c.StartTime != "2023-11-14T22:13:20Z" {
		t.Errorf("pod = %+v, container %+v", p, c)
	}
	if ix.Container(other) != nil {
		t.Error("a pod of another node is in this node's index")
	}
	zero := int64(0)
	if err := server.Client.CoreV1().Pods("shop").Delete(ctx, "web-5d8f9c7b6-x2x9k", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if p := waitFor(ix, id, func(p *event.Pod) bool { return p == nil }); p != nil {
		t.Error("a deleted pod stays in the index")
	}
}

func TestWorkload(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		owner      *metav1.OwnerReference
		labels     map[string]string
		kind, name string
	}{
		{nil, nil, "Pod", "p"},
		{&metav1.OwnerReference{Kind: "StatefulSet", Name: "db", Controller: &yes}, nil, "StatefulSet", "db"},
		{&metav1.OwnerReference{Kind: "ReplicaSet", Name: "api-7c9", Controller: &yes}, map[string]string{"pod-template-hash": "7c9"}, "Deployment", "api"},
		{&metav1.OwnerReference{Kind: "ReplicaSet", Name: "bare-rs", Controller: &yes}, nil, "ReplicaSet", "bare-rs"},
		{&metav1.OwnerReference{Kind: "Job", Name: "backup-29012345", Controller: &yes}, nil, "CronJob", "backup"},
		{&metav1.OwnerReference{Kind: "Job", Name: "migrate", Controller: &yes}, nil, "Job", "migrate"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: tc.labels}}
		if tc.owner != nil {
			pod.OwnerReferences = []metav1.OwnerReference{*tc.owner}
		}
		if kind, name := workload(pod); kind != tc.kind || name != tc.name {
			t.Errorf("workload(%+v) = %s %s, want %s %s", tc.owner, kind, name, tc.kind, tc.name)
		}
	}
}
