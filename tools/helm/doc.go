// Package helm pins Helm v4 as a Go tool in a module of its own, so that
// its k8s.io modules never move Vigil's: `go tool -modfile=tools/helm/go.mod
// helm lint deploy/helm/vigil` (make helm-check, and deploy's tests).
package helm
