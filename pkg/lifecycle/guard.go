package lifecycle

import (
	"fmt"

	"github.com/vigil-sec/vigil/pkg/policy"
)

// Load is a policy about to load, as guardrails see it.
type Load struct {
	Policy policy.Policy
	Source string // a file path, SourceAPI, or "crd:<group>/<name>"
	Role   string // the API caller's role (readonly, operator, admin); "" for files and CRDs
}

// Guard decides whether a policy may load; its error says why not.
type Guard interface {
	Check(l Load) error
}

// GuardError is a policy that guardrails refused.
type GuardError struct {
	Reasons []string
}

func (e *GuardError) Error() string {
	return fmt.Sprintf("refused by guardrails: %v", e.Reasons)
}
