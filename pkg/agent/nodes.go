package agent

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/kubewatch"
)

// watchNode returns the watch of node's labels, which runs until ctx
// ends, giving each new set to labelled: policies with spec.nodeSelector
// load where they match. The informer retries while the API server is
// down.
func watchNode(ctx context.Context, cfg *rest.Config, node string, labelled func(map[string]string)) (func(), error) {
	client, err := kubewatch.NewCore(cfg)
	if err != nil {
		return nil, err
	}
	inf := kubewatch.Informer[*corev1.NodeList](client.Nodes(),
		fields.OneTermEqualSelector("metadata.name", node).String(), &corev1.Node{}, nil, "")
	update := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok && n.Name == node {
			labelled(n.Labels)
		}
	}
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
	})
	if err != nil {
		return nil, err
	}
	return func() { inf.RunWithContext(ctx) }, nil
}
