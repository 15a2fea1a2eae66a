package policy

import (
	"fmt"
	"strings"
)

// Error is one problem in a policy document.
type Error struct {
	// Source is the file name (or other origin) given to Parse.
	Source string
	// Line is the 1-based line in Source, 0 when unknown.
	Line int
	// Path is the YAML path of the offending node, e.g.
	// spec.kprobes[0].selectors[1].matchArgs[0].operator.
	Path string
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "source:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Source != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.Source, e.Line)
	case e.Source != "":
		b.WriteString(e.Source + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a YAML stream, in document order.
type ErrorList []*Error

// Error returns one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// collector accumulates problems of one document. lines maps the path of
// every decoded node to its line, so that checks that work on the decoded
// structs can still point at the source.
type collector struct {
	errs  ErrorList
	lines map[path]int
	// aliasBudget is what is left of the stream's MaxAliasedNodes (-1:
	// spent, and said); aliasDepth is the number of aliases being expanded
	aliasBudget *int
	aliasDepth  int
}

func newCollector(aliasBudget *int) *collector {
	return &collector{lines: map[path]int{}, aliasBudget: aliasBudget}
}

// addAt records a problem at an explicit line.
func (c *collector) addAt(line int, p path, format string, args ...any) {
	c.errs = append(c.errs, &Error{Line: line, Path: string(p), Msg: fmt.Sprintf(format, args...)})
}

// errorf records a problem at p, on the line of p or of its nearest
// decoded ancestor.
func (c *collector) errorf(p path, format string, args ...any) {
	c.addAt(c.lineOf(p), p, format, args...)
}

func (c *collector) lineOf(p path) int {
	for ; p != ""; p = p.parent() {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}
