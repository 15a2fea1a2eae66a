package policy

import (
	"testing"

	"github.com/vigil-sec/vigil/pkg/tracing"
)

// TestEveryArgTypeRenders: each argument type the compiler can produce has
// its own typed field in events.
func TestEveryArgTypeRenders(t *testing.T) {
	types := map[int]bool{}
	for _, m := range []map[string]int{syscallArgTypes, funcArgTypes} {
		for _, typ := range m {
			types[typ] = true
		}
	}
	for typ := range types {
		a := renderArg(typ, 1, []byte("/x"))
		if a.BytesArg != nil && typ != tracing.ArgCharBuf {
			t.Errorf("argument type %d renders as raw bytes", typ)
		}
	}
}
