package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// watchNode follows the labels of node until ctx ends, giving each new
// set to labelled: policies with spec.nodeSelector load where they match.
// The informer retries while the API server is down.
func watchNode(ctx context.Context, cfg *rest.Config, node string, labelled func(map[string]string)) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", node).String()
		}))
	update := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok && n.Name == node {
			labelled(n.Labels)
		}
	}
	_, err = factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    update,
		UpdateFunc: func(_, obj any) { update(obj) },
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	return nil
}
