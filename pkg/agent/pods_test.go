package agent

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vigil-sec/vigil/internal/cgrouptest"
	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/event"
	"github.com/vigil-sec/vigil/pkg/pods"
	"github.com/vigil-sec/vigil/pkg/process"
)

// containerCgroup makes a cgroup named as containerd names a container's.
func containerCgroup(t *testing.T, id string) string {
	return cgrouptest.Make(t, cgrouptest.Root(t), "cri-containerd-"+id+".scope")
}

// ctr is a running container of a pod: its name and runtime id.
type ctr struct{ name, id string }

// runPod creates pod name in namespace ns on node, with running containers
// (a kubelet's status, written by hand).
func runPod(t *testing.T, k *kubetest.Server, ns, name, node string, labels map[string]string, ctrs ...ctr) *corev1.Pod {
	ctx := context.Background()
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range ctrs {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.name, Image: "busybox:1.36"})
	}
	pod, err := k.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		zero := int64(0)
		_ = k.Client.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	for _, c := range ctrs {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.name,
			Image: "busybox:1.36", ImageID: "docker.io/library/busybox@sha256:" + strings.Repeat("c", 64),
			ContainerID: "containerd://" + c.id})
	}
	if pod, err = k.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	return pod
}

// runIn runs /bin/true inside cgroup dir and returns the shell's pid.
func runIn(t *testing.T, dir string) int {
	cmd := cgrouptest.Command(dir, "/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// The exec of a process in a container's cgroup carries its pod, also when
// the pod becomes known only after the exec: the event waits for it.
func TestExecEventsCarryTheirPod(t *testing.T) {
	k := kubeServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node := "agent-test-node"
	index := pods.New(k.Core.Pods(""), node)
	index.Start(ctx)
	for !index.Synced() {
		time.Sleep(20 * time.Millisecond)
	}
	a := start(t, Config{Process: process.Options{NodeName: node}, Pods: index, PodHold: 10 * time.Second})
	defer a.stop()

	known, late := strings.Repeat("1a", 32), strings.Repeat("2b", 32)
	runPod(t, k, "team-a", "known", node, map[string]string{"app": "known"}, ctr{"main", known})
	for index.Container(known) == nil {
		time.Sleep(20 * time.Millisecond)
	}
	check := func(pid int, name, id string) {
		t.Helper()
		evs := a.sink.find(t, 2, 15*time.Second, execOf(pid))
		if len(evs) != 2 {
			t.Fatalf("%s: want exec events for sh and true, got %d", name, len(evs))
		}
		p := evs[1].ProcessExec.Process
		if p.Pod == nil || p.Pod.Namespace != "team-a" || p.Pod.Name != name || p.Pod.PodLabels["app"] != name ||
			p.Pod.Container == nil || p.Pod.Container.Name != "main" || p.Pod.Container.ID != "containerd://"+id ||
			p.Docker != id[:31] || p.Pod.Container.Pid != p.Pid {
			t.Errorf("%s: process pod = %+v, docker %q", name, p.Pod, p.Docker)
		}
	}
	knownDir := containerCgroup(t, known)
	check(runIn(t, knownDir), "known", known)
	// in a pid namespace of its own, as in a container: pid 1 there
	if err := cgrouptest.Command(knownDir, "unshare", "--pid", "--fork", "/bin/true").Run(); err != nil {
		t.Fatal(err)
	}
	pid1 := a.sink.find(t, 1, 15*time.Second, func(ev *event.Event) bool {
		e := ev.ProcessExec
		return e != nil && e.Process.Pod != nil && strings.HasSuffix(e.Process.Binary, "/true") &&
			e.Process.Pod.Container.Pid == 1
	})
	if len(pid1) != 1 {
		t.Errorf("a process in its own pid namespace: want an exec event with container pid 1, got %d", len(pid1))
	}

	pid := runIn(t, containerCgroup(t, late))
	time.Sleep(300 * time.Millisecond) // the exec is in; its pod is not
	runPod(t, k, "team-a", "late", node, map[string]string{"app": "late"}, ctr{"main", late})
	check(pid, "late", late)

	host := exec.Command("/bin/true")
	if err := host.Run(); err != nil {
		t.Fatal(err)
	}
	if ev := a.sink.find(t, 1, 10*time.Second, execOf(host.Process.Pid)); len(ev) != 1 || ev[0].ProcessExec.Process.Pod != nil {
		t.Errorf("a host process: want one exec event without a pod, got %d", len(ev))
	}
}
