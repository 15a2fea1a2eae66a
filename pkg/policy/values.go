package policy

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// checker checks one filter value and returns what is wrong with it, or
// "" when it is fine.
type checker func(string) string

// valueChecker returns the checker of the values of operator op on an
// argument of type typ.
func (v *validator) valueChecker(op, typ string, cls argClass) checker {
	if cls.family == famString || cls.family == famPath || cls.family == famFile {
		return stringValue(op, v.operatorChecker(op, typ, cls))
	}
	return v.operatorChecker(op, typ, cls)
}

// stringValue refuses, among the values of a string operator, "list:NAME"
// (lists hold syscall and function names, for InMap and NotInMap on
// integers and syscall64; Tetragon compares such a string as its literal
// text) and a final NUL byte where the match is not exact (where it is,
// the NUL says what an exact match means anyway: the string ends there).
func stringValue(op string, c checker) checker {
	return func(s string) string {
		switch {
		case strings.HasPrefix(s, "list:"):
			return fmt.Sprintf("%q: lists apply to InMap and NotInMap on integer and syscall64 arguments, not to string values (Tetragon would compare the literal text)", s)
		case strings.HasSuffix(s, "\x00") && op != "Equal" && op != "NotEqual":
			return fmt.Sprintf("%q ends with a NUL byte, which only Equal and NotEqual can compare", s)
		}
		return c(s)
	}
}

func (v *validator) operatorChecker(op, typ string, cls argClass) checker {
	if capSets[typ] {
		switch op {
		case "Equal", "NotEqual", "GT", "LT", "GreaterThan", "LessThan", "Mask":
			return capMaskChecker
		}
	}
	switch op {
	case "Equal", "NotEqual":
		return v.equalChecker(typ, cls)
	case "GT", "LT", "GreaterThan", "LessThan", "Mask":
		return intChecker(typ, cls)
	case "InRange", "NotInRange":
		return rangeChecker(intChecker(typ, cls))
	case "InMap", "NotInMap":
		return v.listOr(orRange(intChecker(typ, cls)))
	case "SPort", "NotSPort", "DPort", "NotDPort":
		return orRange(portChecker)
	case "SAddr", "NotSAddr", "DAddr", "NotDAddr":
		return addrChecker
	case "Protocol":
		return symbolChecker("protocol", protocols, math.MaxUint16)
	case "Family":
		return symbolChecker("address family", families, 45)
	case "State":
		return symbolChecker("TCP state", tcpStates, 12)
	case "FileType", "NotFileType":
		return enumChecker("file type", slices.Sorted(maps.Keys(FileTypes)))
	}
	return nonEmpty
}

func (v *validator) equalChecker(typ string, cls argClass) checker {
	switch cls.family {
	case famInt, famCreds:
		return intChecker(typ, cls)
	case famSyscall:
		return v.listOr(syscallChecker)
	}
	return func(string) string { return "" }
}

var templateVariable = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// unexpanded reports values that still hold a template variable such as
// ${PODCIDR}, which deployment tooling was meant to substitute.
func unexpanded(s string) string {
	if v := templateVariable.FindString(s); v != "" {
		return fmt.Sprintf("unexpanded template variable %s: substitute it before loading the policy", v)
	}
	return ""
}

func nonEmpty(s string) string {
	if s == "" {
		return "must not be empty"
	}
	return ""
}

// orRange accepts what c accepts, and ranges "low:high" of such values.
func orRange(c checker) checker {
	return func(s string) string {
		if strings.Contains(s, ":") {
			return rangeChecker(c)(s)
		}
		return c(s)
	}
}

// listOr accepts "list:NAME" references to spec.lists, and what c accepts.
func (v *validator) listOr(c checker) checker {
	return func(s string) string {
		name, ok := strings.CutPrefix(s, "list:")
		if !ok {
			return c(s)
		}
		if _, defined := v.lists[name]; !defined {
			return fmt.Sprintf("list %q is not defined in spec.lists%s", name, didYouMean(name, sortedKeys(v.lists)))
		}
		return ""
	}
}

// intChecker accepts integers (decimal, 0x hex, 0 octal) that fit the
// argument type: for signed types both the signed and the unsigned range,
// so that bit patterns such as 0xffffffff are allowed.
func intChecker(typ string, cls argClass) checker {
	bits := cls.bits
	if bits == 0 {
		bits = 64
	}
	return func(s string) string {
		if strings.HasPrefix(s, "-") {
			i, err := strconv.ParseInt(s, 0, 64)
			return intProblem(s, typ, err, cls.signed && (bits == 64 || i >= -(1<<(bits-1))))
		}
		u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, 64)
		return intProblem(s, typ, err, bits == 64 || u < 1<<bits)
	}
}

func intProblem(s, typ string, err error, fits bool) string {
	switch {
	case errors.Is(err, strconv.ErrRange):
		return fmt.Sprintf("%q is out of range for %s", s, typ)
	case err != nil:
		return fmt.Sprintf("%q is not an integer", s)
	case !fits:
		return fmt.Sprintf("%q is out of range for %s", s, typ)
	}
	return ""
}

// rangeChecker accepts "low:high" where bound accepts low and high and
// low <= high.
func rangeChecker(bound checker) checker {
	return func(s string) string {
		lo, hi, ok := strings.Cut(s, ":")
		if !ok {
			return fmt.Sprintf("%q is not a range (want \"low:high\")", s)
		}
		for _, b := range []string{lo, hi} {
			if msg := bound(b); msg != "" {
				return fmt.Sprintf("in range %q: %s", s, msg)
			}
		}
		if parseNumber(lo) > parseNumber(hi) {
			return fmt.Sprintf("%q is an empty range: %s is greater than %s", s, lo, hi)
		}
		return ""
	}
}

// parseNumber returns the value of an integer that a checker accepted.
func parseNumber(s string) float64 {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return float64(i)
	}
	u, _ := strconv.ParseUint(strings.TrimPrefix(s, "+"), 0, 64)
	return float64(u)
}

func portChecker(s string) string {
	if p, err := strconv.ParseUint(s, 10, 64); err != nil || p > math.MaxUint16 {
		return fmt.Sprintf("%q is not a port number (0-65535)", s)
	}
	return ""
}

func addrChecker(s string) string {
	if !strings.Contains(s, "/") {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			return fmt.Sprintf("%q is not an IP address or CIDR", s)
		}
		return ""
	}
	if _, err := netip.ParsePrefix(s); err != nil {
		return fmt.Sprintf("%q is not an IP address or CIDR", s)
	}
	return ""
}

// symbolChecker accepts the names of symbols and numbers up to maxNumber.
func symbolChecker(what string, symbols map[string]int, maxNumber uint64) checker {
	names := make([]string, 0, len(symbols))
	for name := range symbols {
		names = append(names, name)
	}
	sort.Strings(names)
	return func(s string) string {
		if _, ok := symbols[s]; ok {
			return ""
		}
		if n, err := strconv.ParseUint(s, 0, 64); err == nil && n <= maxNumber {
			return ""
		}
		return fmt.Sprintf("unknown %s %q%s", what, s, didYouMean(s, names))
	}
}

func enumChecker(what string, valid []string) checker {
	return func(s string) string {
		if slices.Contains(valid, s) {
			return ""
		}
		return fmt.Sprintf("unknown %s %q%s", what, s, hint(s, valid))
	}
}

// syscallChecker accepts syscall numbers and names such as "sys_dup".
func syscallChecker(s string) string {
	if _, err := strconv.ParseUint(s, 0, 32); err != nil && !identifier.MatchString(s) {
		return fmt.Sprintf("%q is not a syscall number or name", s)
	}
	return ""
}

// capSets are the capability set types, whose values are masks as
// Tetragon reads them: a number, or capability names joined by commas.
var capSets = map[string]bool{"kernel_cap_t": true, "cap_inheritable": true, "cap_permitted": true,
	"cap_effective": true}

func capMaskChecker(s string) string {
	if _, err := strconv.ParseUint(s, 0, 64); err == nil {
		return ""
	}
	for _, name := range strings.Split(s, ",") {
		if !slices.Contains(capabilities, strings.ToUpper(strings.TrimSpace(name))) {
			return fmt.Sprintf("%q is neither a 64-bit mask nor capability names joined by commas", s)
		}
	}
	return ""
}
