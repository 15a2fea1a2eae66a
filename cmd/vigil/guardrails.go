package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/guard"
)

// guardrails loads the Rego guardrails from files; with a ConfigMap named,
// its data (file name -> Rego) replaces them whenever it changes.
func guardrails(ctx context.Context, files []string, configMap string, client kubernetes.Interface) (*guard.Guard, error) {
	if len(files) == 0 && configMap == "" {
		return nil, nil
	}
	g := &guard.Guard{}
	if len(files) > 0 {
		var err error
		if g, err = guard.Load(files...); err != nil {
			return nil, fmt.Errorf("--guardrails: %w", err)
		}
	}
	if configMap != "" {
		if client == nil {
			return nil, fmt.Errorf("--guardrails-configmap needs --enable-k8s-api")
		}
		if err := watchConfigMap(ctx, client, configMap, g); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// watchConfigMap keeps g's modules those of the ConfigMap "namespace/name";
// a version that does not compile is logged and the previous one stays.
func watchConfigMap(ctx context.Context, client kubernetes.Interface, ref string, g *guard.Guard) error {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("--guardrails-configmap %q: want namespace/name", ref)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	set := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		log := logrus.WithField("configmap", ref)
		if err := g.Set(cm.Data); err != nil {
			log.WithError(err).Error("guardrails not updated")
			return
		}
		log.WithField("modules", g.Modules()).Info("guardrails updated")
	}
	_, err := factory.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: set, UpdateFunc: func(_, obj any) { set(obj) },
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	// policies load next: give the ConfigMap a moment, but an API server
	// that is down must not keep file policies from loading
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, synced := range factory.WaitForCacheSync(wait.Done()) {
		if !synced {
			logrus.WithField("configmap", ref).Warn("guardrails ConfigMap not read yet: policies load under the file guardrails until it is")
		}
	}
	return nil
}
