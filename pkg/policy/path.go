package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// path is a YAML path such as spec.kprobes[0].args[1].type.
type path string

// child is the path of field name of the object at p.
func (p path) child(name string) path {
	if p == "" {
		return path(name)
	}
	return p + "." + path(name)
}

// at is the path of element i of the list at p.
func (p path) at(i int) path {
	return path(fmt.Sprintf("%s[%d]", p, i))
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// key is the path of map entry k of the map at p; keys that are not plain
// identifiers are quoted.
func (p path) key(k string) path {
	if plainKey.MatchString(k) {
		return p.child(k)
	}
	return path(fmt.Sprintf("%s[%q]", p, k))
}

// parent strips the last element of p.
func (p path) parent() path {
	s := string(p)
	if strings.HasSuffix(s, "]") {
		return path(s[:strings.LastIndex(s, "[")])
	}
	if i := strings.LastIndex(s, "."); i >= 0 {
		return path(s[:i])
	}
	return ""
}
