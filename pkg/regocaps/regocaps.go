// Package regocaps is the set of Rego builtins Vigil's rules may call:
// OPA's, without network access. Guardrails run on every policy load and
// response rules on every alert; neither may wait on, or reach out to, the
// network.
package regocaps

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// noNetwork are the builtins that reach the network.
var noNetwork = []string{"http.send", "net.lookup_ip_addr"}

// Capabilities returns OPA's capabilities without the network builtins.
func Capabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool {
		return slices.Contains(noNetwork, b.Name)
	})
	return caps
}
