// Package kubewatch makes the informers of Vigil's Kubernetes watches
// (pods on the node, the node, a ConfigMap, policy resources) from the one
// client each needs, and the core/v1 client (Core) they and pod responses
// use: client-go's informer factories and typed clients would link and
// register the types of every API group in the agent.
package kubewatch

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// Resync is how often informers hand their whole cache to the handlers
// again.
const Resync = 10 * time.Minute

// Client lists and watches one kind of object: a typed client's
// Pods(namespace), Nodes(), ..., or a dynamic client's Resource(gvr).
type Client[L runtime.Object] interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}

// Informer watches the objects of c that fieldSelector selects (all when
// it is ""), obj being an empty one of them; description names them in
// client-go's logs ("" for their type).
func Informer[L runtime.Object](c Client[L], fieldSelector string, obj runtime.Object, indexers cache.Indexers, description string) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = fieldSelector
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = fieldSelector
			return c.Watch(ctx, o)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(lw, obj, cache.SharedIndexInformerOptions{
		ResyncPeriod: Resync, Indexers: indexers, ObjectDescription: description})
}
