package filter

import (
	"errors"
	"fmt"
	"regexp/syntax"
)

// ErrCost is the error of filters that cost more than their limit.
var ErrCost = errors.New("filters cost over the limit")

// budget is what filters may cost, spent as they are parsed, so that
// parsing stops at the element that goes over. The cost of a filter list
// bounds the work of evaluating it on one event: each filter (line) costs
// 1, each list element 1 (a comparison), each label selector 1 and 1 a
// requirement, and each regular expression the instructions of its
// compiled program (RE2 does at most that much work a byte of the field it
// matches).
type budget struct {
	limit int // 0: no limit
	spent int
}

// spend takes n from the budget; over the limit, the error is ErrCost.
func (b *budget) spend(n int) error {
	b.spent += n
	if b.limit > 0 && b.spent > b.limit {
		return fmt.Errorf("%w of %d", ErrCost, b.limit)
	}
	return nil
}

// spendRegexp takes the cost of the RE2 expression expr from the budget.
func (b *budget) spendRegexp(expr string) error {
	if b.limit == 0 {
		return nil // regexp.Compile reports a bad expression
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return err
	}
	return b.spend(len(prog.Inst))
}
