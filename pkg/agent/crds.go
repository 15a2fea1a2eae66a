package agent

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/kubewatch"
	"github.com/vigil-sec/vigil/pkg/lifecycle"
	"github.com/vigil-sec/vigil/pkg/policy"
)

// policyResources are the TracingPolicy resources the agent loads: Vigil's,
// and Tetragon's where its CRD is installed.
var policyResources = []schema.GroupVersionResource{
	{Group: vigilGroup, Version: "v1alpha1", Resource: "tracingpolicies"},
	{Group: vigilGroup, Version: "v1alpha1", Resource: "tracingpoliciesnamespaced"},
	{Group: "cilium.io", Version: "v1alpha1", Resource: "tracingpolicies"},
	{Group: "cilium.io", Version: "v1alpha1", Resource: "tracingpoliciesnamespaced"},
}

const vigilGroup = "vigil.dev"

// resourceOf is the resource of an object of policyResources.
func resourceOf(u *unstructured.Unstructured) schema.GroupVersionResource {
	gvr := policyResources[0]
	if u.GetKind() == policy.KindTracingPolicyNamespaced {
		gvr = policyResources[1]
	}
	gvr.Group = u.GroupVersionKind().Group
	return gvr
}

// qualifiedName is the policy's name in the agent (compile.QualifiedName).
func qualifiedName(u *unstructured.Unstructured) string {
	if u.GetNamespace() != "" {
		return u.GetNamespace() + "/" + u.GetName()
	}
	return u.GetName()
}

// crdPolicies loads TracingPolicy resources from the API server: created
// and changed ones are applied (a change replaces the policy with no gap),
// deleted ones removed. A resource whose CRD is not installed is looked
// for again every minute; the watches retry while the API server is down.
type crdPolicies struct {
	node     string
	mu       sync.Mutex                            // the informers' handlers run concurrently
	applied  map[string]int64                      // metadata.generation last applied, by source
	loaded   map[string]*unstructured.Unstructured // Vigil's resources loaded here, by source
	every    time.Duration                         // how often counts go to the status
	ps       *lifecycle.Policies
	client   dynamic.Interface
	core     *kubewatch.Core // asks whether a CRD is installed
	watching map[schema.GroupVersionResource]bool
	synced   []cache.InformerSynced // each handler has had its initial list
	running  sync.WaitGroup         // the informers, with their handlers
	pruned   bool
	// ready: every resource's CRD was asked for and each one installed
	// had its initial list applied (Agent.Health)
	ready atomic.Bool
	// statusTimeout bounds one status write (statusTimeout)
	statusTimeout time.Duration
}

func crdSource(ps *lifecycle.Policies, cfg *rest.Config, node string, every time.Duration) (*crdPolicies, error) {
	if every <= 0 {
		every = statusInterval
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	core, err := kubewatch.NewCore(cfg)
	if err != nil {
		return nil, err
	}
	return &crdPolicies{node: node, applied: map[string]int64{}, loaded: map[string]*unstructured.Unstructured{},
		every: every, ps: ps, client: client, core: core, statusTimeout: statusTimeout,
		watching: map[schema.GroupVersionResource]bool{}}, nil
}

// statusInterval is how often the agent writes its policies' counts.
const statusInterval = 30 * time.Second

// reportCounts writes, every c.every, the counts of each Vigil policy loaded
// here into its status.
func (c *crdPolicies) reportCounts(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.every):
		}
		for _, u := range c.loadedNow() {
			c.report(u, nil)
		}
	}
}

// loadedNow lists Vigil's resources loaded here.
func (c *crdPolicies) loadedNow() []*unstructured.Unstructured {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*unstructured.Unstructured, 0, len(c.loaded))
	for _, u := range c.loaded {
		out = append(out, u)
	}
	return out
}

// statusTimeout bounds one status write: a stalled API server delays
// only the status.
const statusTimeout = 10 * time.Second

// run watches the policy resources whose CRDs exist until ctx ends. It
// looks for them every 5 s until it watches one (the API server may be
// down when the agent starts), then every minute.
func (c *crdPolicies) run(ctx context.Context) {
	for {
		c.watchInstalled(ctx)
		wait := time.Minute
		if len(c.watching) == 0 {
			wait = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			c.running.Wait() // no handler uses the sensor once run returns
			return
		case <-time.After(wait):
		}
	}
}

func (c *crdPolicies) watchInstalled(ctx context.Context) {
	answered := true
	for _, gvr := range policyResources {
		if c.watching[gvr] {
			continue
		}
		ok, err := c.installed(ctx, gvr)
		if err != nil {
			answered = false
		}
		if !ok {
			continue
		}
		inf := kubewatch.Informer[*unstructured.UnstructuredList](c.client.Resource(gvr), "",
			&unstructured.Unstructured{}, nil, gvr.String())
		reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    c.apply,
			UpdateFunc: func(_, obj any) { c.apply(obj) },
			DeleteFunc: c.remove,
		})
		if err != nil {
			logrus.WithError(err).WithField("resource", gvr.String()).Error("watching policies")
			continue
		}
		c.running.Go(func() { inf.RunWithContext(ctx) })
		c.watching[gvr] = true
		c.synced = append(c.synced, reg.HasSynced)
		logrus.WithField("resource", gvr.GroupResource().String()).Info("loading TracingPolicy resources from the API server")
	}
	if !c.pruned && len(c.watching) > 0 && cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		c.prune()
		c.pruned = true
	}
	if answered && (len(c.watching) == 0 || c.pruned) {
		c.ready.Store(true)
	}
}

// prune removes the policies restored from resources that are gone: once
// every watch has had its initial list, a CRD source not applied is none.
func (c *crdPolicies) prune() {
	for _, src := range c.ps.Sources() {
		c.mu.Lock()
		_, ok := c.applied[src]
		c.mu.Unlock()
		if ok || !strings.HasPrefix(src, "crd:") {
			continue
		}
		c.ps.SyncSource(src, nil)
	}
}

// installed says whether the API server serves gvr (its CRD is installed),
// asking for at most discoveryTimeout.
func (c *crdPolicies) installed(ctx context.Context, gvr schema.GroupVersionResource) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	return c.core.Served(ctx, gvr.GroupVersion(), gvr.Resource)
}

// discoveryTimeout bounds one question whether a CRD is installed, as
// client-go's discovery client does.
const discoveryTimeout = 32 * time.Second

// source names a resource as a policy source: its group, namespace and
// name.
func source(u *unstructured.Unstructured) string {
	return "crd:" + u.GroupVersionKind().Group + "/" + qualifiedName(u)
}

func (c *crdPolicies) apply(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	changed, err := c.applyLocked(u)
	if changed {
		c.report(u, err) // outside the lock: the API server may be slow
	}
}

// applyLocked loads u unless its spec is the one applied, and says
// whether it did.
func (c *crdPolicies) applyLocked(u *unstructured.Unstructured) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.applied[source(u)] == u.GetGeneration() {
		return false, nil // a status write, or a resync: the spec is the one applied
	}
	c.applied[source(u)] = u.GetGeneration()
	err := c.load(u)
	if err != nil {
		lifecycle.LogError(source(u), qualifiedName(u), err)
		delete(c.loaded, source(u))
	} else {
		logrus.WithField("source", source(u)).Info("policy loaded")
		if u.GroupVersionKind().Group == vigilGroup {
			c.loaded[source(u)] = u
		}
	}
	return true, err
}

// load applies the policy u describes.
func (c *crdPolicies) load(u *unstructured.Unstructured) error {
	meta := map[string]any{"name": u.GetName(), "labels": u.GetLabels(), "annotations": u.GetAnnotations()}
	if u.GetNamespace() != "" {
		meta["namespace"] = u.GetNamespace()
	}
	doc, err := json.Marshal(map[string]any{
		"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": meta,
		"spec": u.Object["spec"],
	})
	if err != nil {
		return err
	}
	docs, err := policy.Parse(doc, source(u))
	if err != nil {
		return err
	}
	return c.ps.Apply(source(u), docs[0])
}

// report writes this node's entry of a Vigil policy's status: loaded, with
// the backends serving it, or error, with why. Server-side apply merges it
// by node into the list, each agent owning its own entry.
func (c *crdPolicies) report(u *unstructured.Unstructured, loadErr error) {
	if u.GroupVersionKind().Group != vigilGroup {
		return // Tetragon's resources have a status of their own
	}
	entry := map[string]any{"node": c.node, "state": "loaded", "updated": time.Now().UTC().Format(time.RFC3339)}
	if loadErr != nil {
		entry["state"], entry["message"] = "error", loadErr.Error()
	} else {
		p, _ := c.ps.Policy(qualifiedName(u))
		entry["backends"], entry["events"], entry["actions"] = p.Backends, p.Events, p.Actions
		if p.State == lifecycle.StateNotSelected {
			entry["state"], entry["message"] = string(p.State), "this node's labels do not match spec.nodeSelector"
			delete(entry, "backends")
		}
		if len(p.Skipped) > 0 {
			entry["message"] = "skipped " + strings.Join(p.Skipped, "; ")
		}
	}
	patch, err := json.Marshal(map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
		"metadata": map[string]any{"name": u.GetName(), "namespace": u.GetNamespace()},
		"status":   map[string]any{"nodes": []any{entry}}})
	if err != nil {
		return
	}
	force := true
	ctx, cancel := context.WithTimeout(context.Background(), c.statusTimeout)
	defer cancel()
	_, err = c.client.Resource(resourceOf(u)).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, patch,
		metav1.PatchOptions{FieldManager: "vigil-agent/" + c.node, Force: &force}, "status")
	if err != nil {
		logrus.WithError(err).WithField("source", source(u)).Warn("writing the policy's status")
	}
}

func (c *crdPolicies) remove(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.applied, source(u))
	delete(c.loaded, source(u))
	for _, name := range c.ps.FromSource(source(u)) {
		if err := c.ps.Remove(name); err != nil {
			lifecycle.LogError(source(u), name, err)
		}
	}
}
