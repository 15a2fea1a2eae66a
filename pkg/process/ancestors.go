package process

import (
	"fmt"
	"strings"
)

// Ancestors says which events carry "ancestors", as Tetragon's
// --enable-ancestors list does: process_exec and process_exit ("base"),
// and the hook events by kind.
type Ancestors struct {
	Base, Kprobe, Tracepoint, Uprobe, LSM, USDT bool
}

// AllAncestors is every kind of event with its ancestors.
var AllAncestors = Ancestors{Base: true, Kprobe: true, Tracepoint: true, Uprobe: true, LSM: true, USDT: true}

// ParseAncestors reads Tetragon's list of event types ("base,kprobe,
// tracepoint,uprobe,lsm,usdt"; empty: none), or "true" (all) and "false"
// (none). As in Tetragon, the hook kinds need base.
func ParseAncestors(s string) (Ancestors, error) {
	var a Ancestors
	switch s {
	case "true":
		return AllAncestors, nil
	case "", "false":
		return a, nil
	}
	for _, kind := range strings.Split(s, ",") {
		switch strings.TrimSpace(kind) {
		case "base":
			a.Base = true
		case "kprobe":
			a.Kprobe = true
		case "tracepoint":
			a.Tracepoint = true
		case "uprobe":
			a.Uprobe = true
		case "lsm":
			a.LSM = true
		case "usdt":
			a.USDT = true
		default:
			return a, fmt.Errorf("%q is not an event type (base, kprobe, tracepoint, uprobe, lsm, usdt)", kind)
		}
	}
	if !a.Base && (a.Kprobe || a.Tracepoint || a.Uprobe || a.LSM || a.USDT) {
		return a, fmt.Errorf("%q: the hook event types need base too, as in Tetragon", s)
	}
	return a, nil
}

// String is the list ParseAncestors reads.
func (a Ancestors) String() string {
	var kinds []string
	for _, k := range []struct {
		on   bool
		name string
	}{{a.Base, "base"}, {a.Kprobe, "kprobe"}, {a.Tracepoint, "tracepoint"}, {a.Uprobe, "uprobe"}, {a.LSM, "lsm"}, {a.USDT, "usdt"}} {
		if k.on {
			kinds = append(kinds, k.name)
		}
	}
	return strings.Join(kinds, ",")
}
