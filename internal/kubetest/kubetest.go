// Package kubetest gives tests a real Kubernetes API server: the one
// $KUBECONFIG points to, or else one that scripts/kube-up.sh builds (once,
// cached) and starts on loopback for the test binary's lifetime; or a
// whole single-node cluster that runs pods (scripts/node-up.sh).
package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/vigil-sec/vigil/pkg/kubewatch"
)

// Server is a running API server and clients with admin rights.
type Server struct {
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Core       *kubewatch.Core // the agent's own core/v1 client
	down       string          // the script that stops what the test started
}

// Start connects to $KUBECONFIG's server, or starts one with kube-up.sh.
func Start() (*Server, error) {
	if kc := os.Getenv("KUBECONFIG"); kc != "" {
		return connect(&Server{Kubeconfig: kc})
	}
	return up(&Server{down: "kube-down.sh"}, "kube-up.sh")
}

// StartNode starts a single-node cluster with node-up.sh: the API server,
// scheduler, controllers, a kubelet and containerd, with images (tarballs)
// imported. Stop tears it all down.
func StartNode(images ...string) (*Server, error) {
	var args []string
	for _, i := range images {
		args = append(args, "-i", i)
	}
	return up(&Server{down: "node-down.sh"}, "node-up.sh", args...)
}

// up runs script, which prints the export of KUBECONFIG, and connects.
func up(s *Server, script string, args ...string) (*Server, error) {
	var stderr strings.Builder
	cmd := exec.Command("bash", append([]string{scriptPath(script)}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/%s: %w: %s", script, err, lastLines(stderr.String(), 5))
	}
	s.Kubeconfig = strings.TrimPrefix(strings.TrimSpace(string(out)), "export KUBECONFIG=")
	return connect(s)
}

// connect makes s's clients.
func connect(s *Server) (*Server, error) {
	var err error
	if s.Config, err = clientcmd.BuildConfigFromFlags("", s.Kubeconfig); err != nil {
		return nil, err
	}
	if s.Client, err = kubernetes.NewForConfig(s.Config); err != nil {
		return nil, err
	}
	if s.Dynamic, err = dynamic.NewForConfig(s.Config); err != nil {
		return nil, err
	}
	if s.Core, err = kubewatch.NewCore(s.Config); err != nil {
		return nil, err
	}
	return s, nil
}

// InstallCRDs creates the repository's CRDs (crds/) and waits until the
// API server serves them.
func (s *Server) InstallCRDs() error {
	return s.installCRDs(filepath.Join(repo(), "crds", "vigil.dev_*.yaml"))
}

// InstallTetragonCRDs installs Tetragon's own TracingPolicy CRDs
// (cilium.io), as a cluster running Tetragon has them.
func (s *Server) InstallTetragonCRDs() error {
	return s.installCRDs(filepath.Join(repo(), "pkg", "policy", "testdata", "tetragon-crds", "cilium.io_*.yaml"))
}

// installCRDs installs the CRDs of the files glob matches and waits until
// they are established.
func (s *Server) installCRDs(glob string) error {
	client, err := apiext.NewForConfig(s.Config)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		return fmt.Errorf("no CRDs match %s", glob)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var crd apiextv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &crd); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		crds := client.ApiextensionsV1().CustomResourceDefinitions()
		if _, err := crds.Create(context.Background(), &crd, metav1.CreateOptions{}); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("%s: the API server refuses the CRD: %w", f, err)
		}
		if err := waitEstablished(crds.Get, crd.Name); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(get func(context.Context, string, metav1.GetOptions) (*apiextv1.CustomResourceDefinition, error), name string) error {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		crd, err := get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextv1.Established && c.Status == apiextv1.ConditionTrue {
				return nil
			}
		}
	}
	return fmt.Errorf("CRD %s never became established", name)
}

// Stop stops the server (or node) if the test started it.
func (s *Server) Stop() {
	if s.down != "" {
		_ = exec.Command("bash", scriptPath(s.down)).Run()
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Down stops the server Start started, keeping its state and credentials
// for Up; it is an error for a server Start did not start.
func (s *Server) Down() error {
	if s.down != "kube-down.sh" {
		return fmt.Errorf("the API server at %s was not started by the test: unset KUBECONFIG", s.Kubeconfig)
	}
	cmd := exec.Command("bash", scriptPath("kube-down.sh"))
	cmd.Env = append(os.Environ(), "KUBE_TEST_KEEP=1")
	return cmd.Run()
}

// Up starts again the server Down stopped, with the same credentials.
func (s *Server) Up() error {
	out, err := exec.Command("bash", scriptPath("kube-up.sh")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/kube-up.sh: %w: %s", err, lastLines(string(out), 5))
	}
	return nil
}

// scriptPath is the path of one of the repository's scripts.
func scriptPath(name string) string { return filepath.Join(repo(), "scripts", name) }

// repo is the repository's root directory.
func repo() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
