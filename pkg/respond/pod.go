package respond

import (
	"context"
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// apiTimeout bounds one patch of a pod.
const apiTimeout = 5 * time.Second

// patchPod answers {"action": "annotate"} and {"action": "label"}: a merge
// patch of the alert's pod through the API server.
func (e *Engine) patchPod(a *alert, r Response) error {
	switch {
	case a.proc == nil || a.proc.Pod == nil:
		return skipped("the alert's process runs in no pod")
	case e.opts.Client == nil:
		return skipped("no Kubernetes client")
	}
	if err := e.charge(a); err != nil {
		return err
	}
	field := "annotations"
	if r.Action == ActionLabel {
		field = "labels"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{field: map[string]string{r.Key: r.Value}}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	pod := a.proc.Pod
	return e.opts.Client.PatchPod(ctx, pod.Namespace, pod.Name, types.MergePatchType, patch)
}
