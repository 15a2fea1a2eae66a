package agent

import (
	"errors"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// refreshIdentities looks up the objects that policies name by path every
// interval until done, so that a file replaced at a named path (a new
// inode) is matched by identity. A named object that cannot be matched by
// identity, and a failure to update the sets, are logged when they change.
func refreshIdentities(h *tracing.Hooks, interval time.Duration, done <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var said string
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		n, unmatched, err := h.RefreshIdentities()
		if n > 0 {
			logrus.WithField("changed", n).Info("identities of named files updated")
		}
		msg := ""
		if e := errors.Join(unmatched, err); e != nil {
			msg = e.Error()
		}
		if msg != said {
			said = msg
			if msg != "" {
				logrus.WithField("problems", msg).Warn("named files not matched by identity (their paths still match)")
			}
		}
	}
}
