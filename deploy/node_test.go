package deploy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/internal/kubetest"
	"github.com/vigil-sec/vigil/pkg/event"
)

// The node's events file: the DaemonSet's --export-filename, on the host.
const nodeEvents = "/var/run/vigil/events.json"

// TestNode runs Vigil as a new user would, on a real node: a kubelet and
// containerd run the DaemonSet that kubectl apply -k deploy/ makes, and the
// pods whose processes it attributes and kills. The steps share the node,
// in order: each leaves what the next needs.
func TestNode(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the node test needs root: a kubelet, containerd and BPF programs")
	}
	if out, err := exec.Command("make", "-C", "..", "image", "node-images").CombinedOutput(); err != nil {
		t.Fatalf("make image node-images: %v\n%s", err, out)
	}
	start := time.Now()
	n, err := kubetest.StartNode("../bin/image/vigil.tar", "../bin/image/busybox.tar")
	if err != nil {
		t.Fatalf("a node: %v", err)
	}
	defer n.Stop()
	t.Logf("the node ready in %v", time.Since(start).Round(time.Second))
	k := &node{t: t, n: n}
	start = time.Now()
	k.deploy()
	t.Logf("Vigil ready on the node in %v", time.Since(start).Round(time.Second))
	k.apply(`
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
`)
	for _, step := range []struct {
		name string
		run  func(*node)
	}{
		{"PodAttribution", (*node).podAttribution},
		{"NamespacedKill", (*node).namespacedKill},
		{"ExecTree", (*node).execTree},
		{"PodSelectorFollowsLabels", (*node).podSelector},
		{"AgentRestartKeepsEnforcing", (*node).agentRestart},
		{"DeleteStopsEnforcement", (*node).deleteStops},
	} {
		t.Run(step.name, func(t *testing.T) { step.run(&node{t: t, n: n}) })
	}
}

// node is the test's view of the node: kubectl, and the agent's events.
type node struct {
	t *testing.T
	n *kubetest.Server
}

// deploy applies deploy/ (without SYS_RESOURCE where this machine's
// bounding set lacks it) and waits for the agent to be ready.
func (k *node) deploy() {
	dir := k.t.TempDir()
	abs, _ := filepath.Abs(".")
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		k.t.Fatal(err)
	}
	kust := "resources: [" + rel + "]\n"
	if !boundingHas(24) { // CAP_SYS_RESOURCE: only kernels before 5.11 need it
		k.t.Log("this machine's capability bounding set lacks SYS_RESOURCE: deploying without it, as README says")
		kust += `patches:
- target: {kind: DaemonSet, name: vigil}
  patch: |-
    - op: replace
      path: /spec/template/spec/containers/0/securityContext/capabilities/add
      value: [BPF, PERFMON, SYS_ADMIN, SYS_PTRACE, DAC_READ_SEARCH]
`
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust), 0o644); err != nil {
		k.t.Fatal(err)
	}
	_ = os.Remove(nodeEvents) // an earlier run's: its pods had the same names
	k.kubectl("apply", "--server-side", "-k", dir)
	k.eventually(180*time.Second, "the agent's pod ready", func() (bool, string) {
		out, _ := kubectl(k.t, k.n, "-n", "vigil", "get", "pods", "-l", "app.kubernetes.io/name=vigil", "-o",
			"jsonpath={.items[*].status.containerStatuses[0].ready}")
		return strings.HasSuffix(out, "true"), out
	})
}

// boundingHas says whether capability bit is in this process's bounding set.
func boundingHas(bit uint) bool {
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			set, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return set&(1<<bit) != 0
		}
	}
	return false
}

// kubectl runs kubectl against the node and fails the test if it fails.
func (k *node) kubectl(args ...string) string {
	k.t.Helper()
	out, err := kubectl(k.t, k.n, args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies manifests given inline.
func (k *node) apply(manifests string) {
	k.t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", k.n.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifests)
	if out, err := cmd.CombinedOutput(); err != nil {
		k.t.Fatalf("kubectl apply: %v\n%s\n%s", err, out, manifests)
	}
}

// exitCode runs a command in a pod's container and returns its exit code
// (137: killed).
func (k *node) exitCode(ns, pod string, command ...string) int {
	k.t.Helper()
	args := append([]string{"--kubeconfig", k.n.Kubeconfig, "-n", ns, "exec", pod, "--"}, command...)
	err := exec.Command("kubectl", args...).Run()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	k.t.Fatalf("kubectl exec: %v", err)
	return -1
}

// eventually polls cond every half second until it holds or timeout passes.
func (k *node) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	k.t.Helper()
	var last string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	k.t.Fatalf("%s: not within %v (last: %s)", what, timeout, last)
}

// policy applies a policy and waits until the node's agent reports it
// loaded in its status.
func (k *node) policy(kind, ns, name, spec string) {
	k.t.Helper()
	meta := "{name: " + name + "}"
	if ns != "" {
		meta = "{name: " + name + ", namespace: " + ns + "}"
	}
	k.apply("apiVersion: vigil.dev/v1alpha1\nkind: " + kind + "\nmetadata: " + meta + "\nspec:\n" + spec)
	k.eventually(60*time.Second, kind+" "+name+" loaded on the node", func() (bool, string) {
		st := k.status(kind, ns, name)
		return st.State == "loaded", fmt.Sprintf("%+v", st)
	})
}

// nodeStatus is the node's entry in a policy's status.
type nodeStatus struct {
	Node, State, Message string
	Events, Actions      uint64
}

// status reads the node's entry of a policy's status.
func (k *node) status(kind, ns, name string) nodeStatus {
	args := []string{"get", strings.ToLower(kind) + ".vigil.dev", name, "-o", "json"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	out, err := kubectl(k.t, k.n, args...)
	var obj struct {
		Status struct{ Nodes []nodeStatus }
	}
	if err != nil || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &obj) != nil {
		return nodeStatus{Message: out}
	}
	for _, s := range obj.Status.Nodes {
		if s.Node == "vigil-node" {
			return s
		}
	}
	return nodeStatus{}
}

// shadowSpec is a policy's spec: opening /etc/shadow, by any path, with
// the given extra selector lines (an action) and spec lines (a pod selector).
func shadowSpec(selector, spec string) string {
	return spec + `  lsmhooks:
  - hook: file_open
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: ["/etc/shadow"]}
` + selector
}

const sigkill = "      matchActions:\n      - action: Sigkill\n"

// find waits for an event of the events file that match accepts.
func (k *node) find(what string, match func(*event.Event) bool) *event.Event {
	k.t.Helper()
	var found *event.Event
	k.eventually(60*time.Second, what, func() (bool, string) {
		f, err := os.Open(nodeEvents)
		if err != nil {
			return false, err.Error()
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev event.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil && match(&ev) {
				found = &ev
				return true, ""
			}
		}
		return false, "no such event in " + nodeEvents
	})
	return found
}

// eventProcess is an event's process, and its action and policy.
func eventProcess(ev *event.Event) (proc, parent *event.Process, action, policy string) {
	switch {
	case ev.ProcessExec != nil:
		return ev.ProcessExec.Process, ev.ProcessExec.Parent, "", ""
	case ev.ProcessKprobe != nil:
		return ev.ProcessKprobe.Process, ev.ProcessKprobe.Parent, ev.ProcessKprobe.Action, ev.ProcessKprobe.PolicyName
	case ev.ProcessLsm != nil:
		return ev.ProcessLsm.Process, ev.ProcessLsm.Parent, ev.ProcessLsm.Action, ev.ProcessLsm.PolicyName
	}
	return nil, nil, "", ""
}

// inPod says whether p runs in pod ns/name (a prefix of the name, for
// pods a controller names).
func inPod(p *event.Process, ns, name string) bool {
	return p != nil && p.Pod != nil && p.Pod.Namespace == ns && strings.HasPrefix(p.Pod.Name, name)
}

// podAttribution: a Deployment's pod opens /etc/shadow; the event names the
// pod, its container (id, name, image), labels and workload as the API
// server and the runtime know them.
func (k *node) podAttribution() {
	k.policy("TracingPolicy", "", "node-shadow-observe", shadowSpec("", ""))
	k.deployment("team-a", "reader")
	ev := k.find("a policy event from the reader pod", func(ev *event.Event) bool {
		p, _, _, policy := eventProcess(ev)
		return policy == "node-shadow-observe" && inPod(p, "team-a", "reader-")
	})
	p, _, _, _ := eventProcess(ev)
	out := k.kubectl("-n", "team-a", "get", "pods", "-l", "app=reader", "-o",
		`jsonpath={.items[0].metadata.name} {.items[0].status.containerStatuses[0].containerID} {.items[0].status.containerStatuses[0].image} {.items[0].status.containerStatuses[0].imageID}`)
	want := strings.Fields(out[strings.LastIndex(out, "\n")+1:])
	pod := p.Pod
	c := pod.Container
	if c == nil || c.Image == nil {
		k.t.Fatalf("the event's pod has no container or image: %+v", pod)
	}
	got := []string{pod.Name, c.ID, c.Image.Name, c.Image.ID}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		k.t.Errorf("pod, container id, image, image id: %q, want the API server's %q", got, want)
	}
	if c.Name != "reader" || pod.PodLabels["app"] != "reader" || pod.PodLabels["tier"] != "test" ||
		pod.Workload != "reader" || pod.WorkloadKind != "Deployment" {
		k.t.Errorf("container %q, labels %v, workload %q %q: want reader, app=reader tier=test, reader Deployment",
			c.Name, pod.PodLabels, pod.Workload, pod.WorkloadKind)
	}
	if !strings.HasPrefix(p.Docker, strings.TrimPrefix(c.ID, "containerd://")[:len(p.Docker)]) || p.Docker == "" {
		k.t.Errorf("docker %q is not the start of the container id %q", p.Docker, c.ID)
	}
}

// killed waits for kill-shadow's kill event of pod, in team-a.
func (k *node) killed(pod string) {
	k.t.Helper()
	k.find("the kill event of "+pod, func(ev *event.Event) bool {
		p, _, action, policy := eventProcess(ev)
		// a namespaced policy goes by namespace/name in events
		return policy == "team-a/kill-shadow" && action == "KPROBE_ACTION_SIGKILL" && inPod(p, "team-a", pod)
	})
}

// deployment runs a Deployment of a pod that reads /etc/shadow every
// second, labelled app=name and tier=test, and waits for it.
func (k *node) deployment(ns, name string) {
	k.t.Helper()
	k.apply(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `, tier: test}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: reader
        image: vigil.test/busybox:1.35
        imagePullPolicy: Never
        command: [sh, -c, "while true; do cat /etc/shadow >/dev/null; sleep 1; done"]
`)
	k.kubectl("-n", ns, "rollout", "status", "deployment/"+name, "--timeout=120s")
}

// runPod runs a pod whose one container runs command, and returns its
// exit code.
func (k *node) runPod(ns, name string, command string) int {
	k.t.Helper()
	k.apply(`
apiVersion: v1
kind: Pod
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: vigil.test/busybox:1.35
    imagePullPolicy: Never
    command: ` + command + `
`)
	code := -1
	k.eventually(90*time.Second, "pod "+ns+"/"+name+" ends", func() (bool, string) {
		out, _ := kubectl(k.t, k.n, "-n", ns, "get", "pod", name, "-o",
			"jsonpath={.status.containerStatuses[0].state.terminated.exitCode}")
		out = out[strings.LastIndex(out, "\n")+1:]
		c, err := strconv.Atoi(out)
		code = c
		return err == nil, out
	})
	return code
}

// namespacedKill: a TracingPolicyNamespaced kills in its namespace only,
// the first process of a new pod included; its status counts on the node.
func (k *node) namespacedKill() {
	k.policy("TracingPolicyNamespaced", "team-a", "kill-shadow", shadowSpec(sigkill, ""))
	if code := k.runPod("team-a", "first-a", "[cat, /etc/shadow]"); code != 137 {
		k.t.Errorf("a new pod's first process in team-a, reading /etc/shadow: exit %d, want 137 (killed)", code)
	}
	if code := k.runPod("team-b", "first-b", "[cat, /etc/shadow]"); code != 0 {
		k.t.Errorf("the same in team-b: exit %d, want 0 (another namespace)", code)
	}
	k.killed("first-a")
	k.eventually(60*time.Second, "the policy's status counts the node's events and kills", func() (bool, string) {
		st := k.status("TracingPolicyNamespaced", "team-a", "kill-shadow")
		return st.Events > 0 && st.Actions > 0, fmt.Sprintf("%+v", st)
	})
}

// execTree: kubectl exec into a pod shows the process and its tree: the
// exec'd shell, in the pod, is the parent of the cat it runs.
func (k *node) execTree() {
	k.deployment("team-b", "reader-b")
	marker := fmt.Sprintf("exec-tree-%d", time.Now().UnixNano())
	if code := k.exitCode("team-b", "deploy/reader-b", "sh", "-c", "cat /etc/hostname; echo "+marker); code != 0 {
		k.t.Fatalf("kubectl exec: exit %d", code)
	}
	shell := k.find("the exec of the kubectl exec'd shell", func(ev *event.Event) bool {
		return ev.ProcessExec != nil && strings.Contains(ev.ProcessExec.Process.Arguments, marker) &&
			inPod(ev.ProcessExec.Process, "team-b", "reader-b")
	}).ProcessExec.Process
	if !inPod(shell, "team-b", "reader-b") {
		k.t.Errorf("the exec'd shell's pod: %+v", shell.Pod)
	}
	cat := k.find("the exec of its cat", func(ev *event.Event) bool {
		return ev.ProcessExec != nil && ev.ProcessExec.Parent != nil && ev.ProcessExec.Parent.ExecID == shell.ExecID
	}).ProcessExec
	if !inPod(cat.Process, "team-b", "reader-b") || cat.Process.Arguments != "/etc/hostname" ||
		cat.Process.Pod.Container.ID != shell.Pod.Container.ID {
		k.t.Errorf("the cat: pod %+v, arguments %q; its parent's container %s", cat.Process.Pod, cat.Process.Arguments, shell.Pod.Container.ID)
	}
}

// podSelector: a policy for pods labelled vigil.dev/test=kill follows the
// label as it is set on a running pod and removed again.
func (k *node) podSelector() {
	k.policy("TracingPolicy", "", "kill-labelled", shadowSpec(sigkill, "  podSelector:\n    matchLabels: {vigil.dev/test: kill}\n"))
	shadow := func(want int) func() (bool, string) {
		return func() (bool, string) {
			code := k.exitCode("team-b", "deploy/reader-b", "cat", "/etc/shadow")
			return code == want, fmt.Sprintf("exit %d", code)
		}
	}
	if code := k.exitCode("team-b", "deploy/reader-b", "cat", "/etc/shadow"); code != 0 {
		k.t.Errorf("before the label: exit %d, want 0", code)
	}
	k.kubectl("-n", "team-b", "label", "pod", "-l", "app=reader-b", "vigil.dev/test=kill")
	k.eventually(30*time.Second, "the labelled pod's cat is killed", shadow(137))
	k.kubectl("-n", "team-b", "label", "pod", "-l", "app=reader-b", "vigil.dev/test-")
	k.eventually(30*time.Second, "without the label, it is not", shadow(0))
}

// agentRestart: the agent's container killed, the kubelet restarts it; the
// namespaced kill policy enforces all the while, and after.
func (k *node) agentRestart() {
	restarts := func() string {
		return k.kubectl("-n", "vigil", "get", "pods", "-l", "app.kubernetes.io/name=vigil", "-o",
			"jsonpath={.items[0].status.containerStatuses[0].restartCount} {.items[0].status.containerStatuses[0].ready}")
	}
	before := restarts()
	if out, err := exec.Command("pkill", "-KILL", "-f", "^/usr/bin/vigil agent").CombinedOutput(); err != nil {
		k.t.Fatalf("killing the agent: %v %s", err, out)
	}
	tries, killed := 0, 0
	k.eventually(120*time.Second, "the kubelet restarts the agent", func() (bool, string) {
		tries++
		if k.exitCode("team-a", "deploy/reader", "cat", "/etc/shadow") == 137 {
			killed++
		}
		now := restarts()
		return now != before && strings.HasSuffix(now, " true"), now
	})
	if killed != tries {
		k.t.Errorf("while the agent restarted, %d of %d reads of /etc/shadow in team-a were killed, want all", killed, tries)
	}
	k.t.Logf("%d reads while the agent was down or starting, all killed", tries)
	if code := k.runPod("team-a", "after-restart", "[cat, /etc/shadow]"); code != 137 {
		k.t.Errorf("a new pod in team-a after the restart: exit %d, want 137", code)
	}
	k.killed("after-restart") // the restarted agent reports it, with its pod
}

// deleteStops: deleting the namespaced policy stops its enforcement.
func (k *node) deleteStops() {
	k.kubectl("-n", "team-a", "delete", "tracingpolicynamespaced.vigil.dev", "kill-shadow")
	k.eventually(30*time.Second, "reads in team-a no longer killed", func() (bool, string) {
		code := k.exitCode("team-a", "deploy/reader", "cat", "/etc/shadow")
		return code == 0, fmt.Sprintf("exit %d", code)
	})
	if code := k.runPod("team-a", "after-delete", "[cat, /etc/shadow]"); code != 0 {
		k.t.Errorf("a new pod in team-a after the delete: exit %d, want 0", code)
	}
}
