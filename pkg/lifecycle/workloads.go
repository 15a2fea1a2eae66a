package lifecycle

import (
	"github.com/sirupsen/logrus"

	"github.com/vigil-sec/vigil/pkg/compile"
)

// setWorkloads gives each matchWorkloads scope of c an id of its own among
// the policy ids (a bit in the kernel's scope masks, as a scoped policy
// has), writes the scope, and points c's conditions at it: before the
// hooks are in, so that none runs without its scope. On error none is
// left.
func (ps *Policies) setWorkloads(c *compile.Compiled) ([]uint32, error) {
	var ids []uint32
	for _, sc := range c.Workloads {
		id, err := ps.allocate(nil)
		if err == nil {
			ids = append(ids, id)
			err = ps.scopes.Set(id, sc)
		}
		if err != nil {
			ps.dropWorkloads(ids)
			return nil, err
		}
	}
	if err := c.PointWorkloads(ids); err != nil {
		ps.dropWorkloads(ids)
		return nil, err
	}
	return ids, nil
}

// dropWorkloads frees the scope ids of hooks no longer in the kernel.
func (ps *Policies) dropWorkloads(ids []uint32) {
	for _, id := range ids {
		if err := ps.scopes.Set(id, nil); err != nil {
			logrus.WithError(err).Warn("clearing a selector's workload scope")
		}
		delete(ps.idUsed, id)
	}
}
