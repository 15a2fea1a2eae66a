package respond

import (
	"errors"
	"fmt"
)

// sink answers {"action": "sink", "name": NAME}: the alert, with the line
// the export filters made, goes to the exporter Options.Sinks names. The
// budget does not apply: nothing is touched.
func (e *Engine) sink(a *alert, r Response) error {
	x, ok := e.opts.Sinks[r.Name]
	if !ok {
		return fmt.Errorf("no sink named %q", r.Name)
	}
	return errors.Join(x.Export(a.ev, a.line), x.Flush())
}
