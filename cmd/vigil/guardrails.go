package main

import (
	"context"
	"fmt"

	"github.com/vigil-sec/vigil/pkg/guard"
	"github.com/vigil-sec/vigil/pkg/kubewatch"
)

// guardrails loads the Rego guardrails from files; with a ConfigMap named,
// its data (file name -> Rego) replaces them whenever it changes.
func guardrails(ctx context.Context, files []string, configMap string, client *kubewatch.Core) (*guard.Guard, error) {
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
		if err := watchConfigMap(ctx, client, "--guardrails-configmap", configMap, g.Set); err != nil {
			return nil, err
		}
	}
	return g, nil
}
