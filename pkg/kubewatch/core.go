package kubewatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Core is a client of the core/v1 objects the agent watches and patches:
// pods, nodes and ConfigMaps. Its codecs know core/v1 alone, where
// client-go's typed client registers the types of every API group (about
// 5 MiB of the agent's memory and 6 MB of its binary).
type Core struct {
	rest   *rest.RESTClient
	params runtime.ParameterCodec
}

// NewCore makes a core/v1 client for cfg.
func NewCore(cfg *rest.Config) (*Core, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &corev1.SchemeGroupVersion
	c.APIPath = "/api"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, err
	}
	return &Core{rest: rc, params: runtime.NewParameterCodec(scheme)}, nil
}

// Pods are the pods of namespace ns (all namespaces when "").
func (c *Core) Pods(ns string) Objects[*corev1.PodList] {
	return Objects[*corev1.PodList]{c, "pods", ns}
}

// Nodes are the cluster's nodes.
func (c *Core) Nodes() Objects[*corev1.NodeList] {
	return Objects[*corev1.NodeList]{c, "nodes", ""}
}

// ConfigMaps are the ConfigMaps of namespace ns.
func (c *Core) ConfigMaps(ns string) Objects[*corev1.ConfigMapList] {
	return Objects[*corev1.ConfigMapList]{c, "configmaps", ns}
}

// PatchPod patches pod name of namespace ns.
func (c *Core) PatchPod(ctx context.Context, ns, name string, pt types.PatchType, data []byte) error {
	return c.rest.Patch(pt).Namespace(ns).Resource("pods").Name(name).
		VersionedParams(&metav1.PatchOptions{FieldManager: "vigil"}, c.params).
		Body(data).Do(ctx).Error()
}

// Served says whether the API server serves resource in group version gv,
// as its discovery document lists them: whether its CRD is installed.
func (c *Core) Served(ctx context.Context, gv schema.GroupVersion, resource string) (bool, error) {
	raw, err := c.rest.Get().AbsPath("/apis", gv.Group, gv.Version).DoRaw(ctx)
	if apierrors.IsNotFound(err) {
		return false, nil // no resource of that group and version at all
	}
	if err != nil {
		return false, err
	}
	var list metav1.APIResourceList
	if err := json.Unmarshal(raw, &list); err != nil {
		return false, err
	}
	for _, r := range list.APIResources {
		if r.Name == resource {
			return true, nil
		}
	}
	return false, nil
}

// Objects are one kind of core/v1 object, in one namespace or all; L is
// their list type. They are a Client of Informer.
type Objects[L runtime.Object] struct {
	core      *Core
	resource  string
	namespace string
}

// List lists the objects.
func (o Objects[L]) List(ctx context.Context, opts metav1.ListOptions) (L, error) {
	var list L
	obj, err := o.request(opts).Do(ctx).Get()
	if err != nil {
		return list, err
	}
	list, ok := obj.(L)
	if !ok {
		return list, fmt.Errorf("listing %s: the API server sent a %T", o.resource, obj)
	}
	return list, nil
}

// Watch watches the objects.
func (o Objects[L]) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return o.request(opts).Watch(ctx)
}

func (o Objects[L]) request(opts metav1.ListOptions) *rest.Request {
	var timeout time.Duration
	if opts.TimeoutSeconds != nil {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	return o.core.rest.Get().NamespaceIfScoped(o.namespace, o.namespace != "").Resource(o.resource).
		VersionedParams(&opts, o.core.params).Timeout(timeout)
}
