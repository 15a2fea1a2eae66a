package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/tools/cache"

	"github.com/vigil-sec/vigil/pkg/kubewatch"
)

// watchConfigMap hands set the data (file name -> Rego module) of the
// ConfigMap ref ("namespace/name", from flag) now and whenever it changes;
// a version set refuses is logged and the previous one stays. It waits up
// to 10 s for the first version: an API server that is down must not keep
// the agent from starting.
func watchConfigMap(ctx context.Context, client *kubewatch.Core, flag, ref string, set func(map[string]string) error) error {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("%s %q: want namespace/name", flag, ref)
	}
	if client == nil {
		return fmt.Errorf("%s needs --enable-k8s-api", flag)
	}
	inf := kubewatch.Informer[*corev1.ConfigMapList](client.ConfigMaps(ns),
		fields.OneTermEqualSelector("metadata.name", name).String(), &corev1.ConfigMap{}, nil, "")
	log := logrus.WithField(strings.TrimPrefix(flag, "--"), ref)
	update := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok {
			return
		}
		if err := set(cm.Data); err != nil {
			log.WithError(err).Error("not updated: the previous version stays")
			return
		}
		log.WithField("modules", slices.Sorted(maps.Keys(cm.Data))).Info("updated from the ConfigMap")
	}
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: update, UpdateFunc: func(_, obj any) { update(obj) },
	})
	if err != nil {
		return err
	}
	go inf.RunWithContext(ctx)
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// the handler's own sync: the informer's cache can be synced before
	// the handler has been given what it holds
	if !cache.WaitForCacheSync(wait.Done(), reg.HasSynced) {
		log.Warn("ConfigMap not read yet: the files' modules apply until it is")
	}
	return nil
}
