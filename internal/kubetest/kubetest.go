// Package kubetest gives tests a real Kubernetes API server: the one
// $KUBECONFIG points to, or else one that scripts/kube-up.sh builds (once,
// cached) and starts on loopback for the test binary's lifetime.
package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Server is a running API server and a client with admin rights.
type Server struct {
	Kubeconfig string
	Client     kubernetes.Interface
	started    bool
}

// Start connects to $KUBECONFIG's server, or starts one with kube-up.sh.
func Start() (*Server, error) {
	s := &Server{Kubeconfig: os.Getenv("KUBECONFIG")}
	if s.Kubeconfig == "" {
		out, err := exec.Command("bash", script("kube-up.sh")).Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/kube-up.sh: %w", err)
		}
		line := strings.TrimSpace(string(out))
		s.Kubeconfig, s.started = strings.TrimPrefix(line, "export KUBECONFIG="), true
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if s.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Stop stops the server if Start started it.
func (s *Server) Stop() {
	if s.started {
		_ = exec.Command("bash", script("kube-down.sh")).Run()
	}
}

// script is the path of one of the repository's scripts.
func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", name)
}
