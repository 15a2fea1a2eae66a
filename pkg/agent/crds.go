package agent

import (
	"context"
	"encoding/json"
	"time"

	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// policyResources are the TracingPolicy resources the agent loads: Vigil's,
// and Tetragon's where its CRD is installed.
var policyResources = []schema.GroupVersionResource{
	{Group: "vigil.dev", Version: "v1alpha1", Resource: "tracingpolicies"},
	{Group: "cilium.io", Version: "v1alpha1", Resource: "tracingpolicies"},
}

// crdPolicies loads TracingPolicy resources from the API server: created
// and changed ones are applied (a change replaces the policy with no gap),
// deleted ones removed. A resource whose CRD is not installed is looked
// for again every minute; the watches retry while the API server is down.
type crdPolicies struct {
	ps        *policies
	client    dynamic.Interface
	discovery discovery.DiscoveryInterface
	factory   dynamicinformer.DynamicSharedInformerFactory
	watching  map[schema.GroupVersionResource]bool
}

func crdSource(ps *policies, cfg *rest.Config) (*crdPolicies, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &crdPolicies{ps: ps, client: client, discovery: disc,
		factory:  dynamicinformer.NewDynamicSharedInformerFactory(client, 10*time.Minute),
		watching: map[schema.GroupVersionResource]bool{}}, nil
}

// run watches the policy resources whose CRDs exist until ctx ends.
func (c *crdPolicies) run(ctx context.Context) {
	for {
		c.watchInstalled(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Minute):
		}
	}
}

func (c *crdPolicies) watchInstalled(ctx context.Context) {
	for _, gvr := range policyResources {
		if c.watching[gvr] || !c.installed(gvr) {
			continue
		}
		inf := c.factory.ForResource(gvr).Informer()
		_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    c.apply,
			UpdateFunc: func(_, obj any) { c.apply(obj) },
			DeleteFunc: c.remove,
		})
		if err != nil {
			logrus.WithError(err).WithField("resource", gvr.String()).Error("watching policies")
			continue
		}
		c.watching[gvr] = true
		logrus.WithField("resource", gvr.GroupResource().String()).Info("loading TracingPolicy resources from the API server")
	}
	c.factory.Start(ctx.Done())
}

// installed says whether the API server serves gvr (its CRD is installed).
func (c *crdPolicies) installed(gvr schema.GroupVersionResource) bool {
	list, err := c.discovery.ServerResourcesForGroupVersion(gvr.GroupVersion().String())
	if err != nil {
		return false
	}
	for _, r := range list.APIResources {
		if r.Name == gvr.Resource {
			return true
		}
	}
	return false
}

// source names a resource as a policy source: its group and name.
func source(u *unstructured.Unstructured) string {
	return "crd:" + u.GroupVersionKind().Group + "/" + u.GetName()
}

func (c *crdPolicies) apply(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	doc, err := json.Marshal(map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName(), "labels": u.GetLabels(), "annotations": u.GetAnnotations()},
		"spec":     u.Object["spec"],
	})
	if err != nil {
		logPolicyError(source(u), u.GetName(), err)
		return
	}
	docs, err := policy.Parse(doc, source(u))
	if err == nil {
		err = c.ps.Apply(source(u), docs[0])
	}
	if err != nil {
		logPolicyError(source(u), u.GetName(), err)
		return
	}
	logrus.WithField("source", source(u)).Info("policy loaded")
}

func (c *crdPolicies) remove(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	for _, name := range c.ps.fromSource(source(u)) {
		if err := c.ps.Remove(name); err != nil {
			logPolicyError(source(u), name, err)
		}
	}
}
