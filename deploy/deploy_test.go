// Package deploy holds the Kubernetes manifests; its test applies them to
// a real API server and checks what the agent's service account may do.
package deploy

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/internal/kubetest"
)

func kubectl(t *testing.T, k *kubetest.Server, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatalf("the deployment test needs kubectl: %v", err)
	}
	out, err := exec.Command(bin, append([]string{"--kubeconfig", k.Kubeconfig}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestApplyAndPermissions(t *testing.T) {
	k, err := kubetest.Start()
	if err != nil {
		t.Fatalf("a Kubernetes API server: %v", err)
	}
	defer k.Stop()
	if out, err := kubectl(t, k, "apply", "--server-side", "-k", "."); err != nil {
		t.Fatalf("kubectl apply -k deploy/: %v\n%s", err, out)
	}
	if out, err := kubectl(t, k, "get", "daemonset", "-n", "vigil", "vigil", "-o", "jsonpath={.spec.template.spec.hostPID}"); err != nil || out != "true" {
		t.Errorf("the DaemonSet: %v %s", err, out)
	}
	checkPermissions(t, k, "vigil")
	// the detection library, opt-in: its policies are valid resources
	if out, err := kubectl(t, k, "apply", "--server-side", "-k", "library"); err != nil {
		t.Fatalf("kubectl apply -k deploy/library/: %v\n%s", err, out)
	}
	out, _ := kubectl(t, k, "get", "tracingpolicies.vigil.dev", "-o", "name")
	if got, want := strings.Count(out, "tracingpolicy.vigil.dev/"), libraryPolicies(t); got != want {
		t.Errorf("deploy/library: %d TracingPolicy resources, want the library's %d\n%s", got, want, out)
	}
}

// checkPermissions asks the API server what the agent's service account
// (vigil, in namespace ns) may and may not do.
func checkPermissions(t *testing.T, k *kubetest.Server, ns string) {
	sa := "system:serviceaccount:" + ns + ":vigil"
	for _, tc := range []struct {
		verb, resource string
		allowed        bool
	}{
		{"list", "pods", true},
		{"watch", "pods", true},
		{"watch", "tracingpolicies.vigil.dev", true},
		{"patch", "tracingpolicies.vigil.dev/status", true},
		{"create", "tracingpolicies.vigil.dev", false},
		{"update", "tracingpolicies.vigil.dev", false},
		{"delete", "pods", false},
		{"get", "secrets", false},
		{"list", "configmaps", false},
		{"watch", "configmaps -n " + ns, true}, // guardrails
		{"get", "secrets -n " + ns, false},
	} {
		resource, sub, _ := strings.Cut(tc.resource, "/")
		args := append([]string{"auth", "can-i", tc.verb}, strings.Fields(resource)...)
		args = append(args, "--as", sa)
		if sub != "" {
			args = append(args, "--subresource", sub)
		}
		out, _ := kubectl(t, k, args...)
		lines := strings.Split(out, "\n") // warnings first, the answer last
		if got := lines[len(lines)-1] == "yes"; got != tc.allowed {
			t.Errorf("can the agent %s %s? %q, want %v", tc.verb, tc.resource, out, tc.allowed)
		}
	}
}
