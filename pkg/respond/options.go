package respond

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vigil-sec/vigil/pkg/output"
)

// PodPatcher patches pods: a *kubewatch.Core.
type PodPatcher interface {
	PatchPod(ctx context.Context, namespace, name string, pt types.PatchType, data []byte) error
}

// Options say how the Engine carries out responses.
type Options struct {
	// QueueSize bounds the alerts waiting for evaluation (default 1024);
	// beyond it alerts are dropped and counted.
	QueueSize int
	// EvidenceDir receives one JSON file per evidence or freeze_and_kill
	// response (directory 0700, files 0600); empty: those responses
	// capture nothing and say so.
	EvidenceDir string
	// Client patches pods for annotate and label; nil: they are skipped.
	Client PodPatcher
	// Sinks are the exporters sink responses name. The worker goroutine
	// calls them: an exporter the agent also writes to must be safe for
	// concurrent use.
	Sinks map[string]output.Exporter
	// Budget is how many alerts of one workload may get responses within
	// BudgetWindow (default 3 per minute); a negative Budget is unlimited.
	Budget       int
	BudgetWindow time.Duration
	// NeverTouch are regular expressions on binary paths whose processes
	// are never killed or frozen; nil means DefaultNeverTouch. The agent's
	// own executable and PID 1 are always added.
	NeverTouch []string
	// EvalTimeout bounds one evaluation (default 250ms).
	EvalTimeout time.Duration
	// OnResult, when set, receives every response's result after it is
	// logged. It runs on the worker goroutine.
	OnResult func(Result)
	// AfterFreeze, a test hook, runs once the cgroup reports frozen.
	AfterFreeze func(cgroupDir string)
}

// DefaultNeverTouch protects what keeps the node and its containers
// running, and remote access to it: init and systemd's daemons, the
// kubelet and kube-proxy, container runtimes and their shims, monitors and
// low-level runtimes, sshd, and any Vigil agent.
var DefaultNeverTouch = []string{
	`(^|/)(init|systemd|systemd-[^/]+)$`,
	`(^|/)(kubelet|kube-proxy)$`,
	`(^|/)(containerd|containerd-shim[^/]*|dockerd|docker-proxy|crio|conmon|runc|crun)$`,
	`(^|/)(sshd|sshd-session)$`,
	`(^|/)vigil$`,
}

func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Budget == 0 {
		o.Budget = 3
	}
	if o.BudgetWindow <= 0 {
		o.BudgetWindow = time.Minute
	}
	if o.NeverTouch == nil {
		o.NeverTouch = DefaultNeverTouch
	}
	if o.EvalTimeout <= 0 {
		o.EvalTimeout = 250 * time.Millisecond
	}
	return o
}
