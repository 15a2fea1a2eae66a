package main

import (
	"fmt"
	"net/http"

	"github.com/vigil-sec/vigil/pkg/agent"
)

// healthHandlers are /healthz (the agent works: for a liveness probe) and
// /readyz (its programs are attached and its configured policies loaded:
// for a readiness probe), served beside the metrics. Each answers 200 and
// "ok", or 503 and why not.
func healthHandlers(a *agent.Agent) map[string]http.Handler {
	answer := func(ok func(agent.Health) bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			h := a.Health()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !ok(h) {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintln(w, h.Why)
				return
			}
			fmt.Fprintln(w, "ok")
		})
	}
	return map[string]http.Handler{
		"/healthz": answer(func(h agent.Health) bool { return h.Live }),
		"/readyz":  answer(func(h agent.Health) bool { return h.Ready }),
	}
}
