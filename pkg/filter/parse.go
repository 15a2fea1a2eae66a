package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// member is one key and its raw value in a JSON object, in source order.
type member struct {
	key string
	val json.RawMessage
}

// eachObject calls fn with every JSON object in s; errors name the line the
// object starts on.
// Objects are separated by newlines, as Tetragon writes them, or by any
// other white space; one object may span lines.
func eachObject(s string, fn func(obj []member) error) error {
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		start := skipSpace(s, int(dec.InputOffset()))
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		line := lineOf(s, start)
		if err != nil {
			return fmt.Errorf("line %d: invalid JSON: %v", line, err)
		}
		obj, err := members(raw)
		if err == nil {
			err = fn(obj)
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && strings.IndexByte(" \t\r\n", s[i]) >= 0 {
		i++
	}
	return i
}

func lineOf(s string, offset int) int {
	return 1 + strings.Count(s[:offset], "\n")
}

var errNotObject = errors.New("want a JSON object")

// members splits a JSON object into its members, refusing other values
// and keys given twice.
func members(raw []byte) ([]member, error) {
	obj, err := objectMembers(raw)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, m := range obj {
		if seen[m.key] {
			return nil, fmt.Errorf("%s: given twice", m.key)
		}
		seen[m.key] = true
	}
	return obj, nil
}

// objectMembers splits a JSON object into its members.
func objectMembers(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	var obj []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key := tok.(string) // inside an object, the decoder only yields string keys
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		obj = append(obj, member{key, val})
	}
	return obj, nil
}

// decodeList decodes a non-empty JSON list; want names its elements for
// the error message.
func decodeList[T any](raw json.RawMessage, want string) ([]T, error) {
	var list []T
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("want a list of %s", want)
	}
	if len(list) == 0 {
		return nil, errors.New("empty list: omit the field instead")
	}
	return list, nil
}

// decodeListWithin decodes a non-empty JSON list whose elements cost one
// each (a comparison) from b.
func decodeListWithin[T any](raw json.RawMessage, want string, b *budget) ([]T, error) {
	list, err := decodeList[T](raw, want)
	if err == nil {
		err = b.spend(len(list))
	}
	return list, err
}

// decodeRegexps decodes a non-empty list of RE2 regular expressions.
func decodeRegexps(raw json.RawMessage) ([]*regexp.Regexp, error) {
	return decodeRegexpsWithin(raw, &budget{})
}

// decodeRegexpsWithin decodes a non-empty list of RE2 regular expressions,
// spending what each costs from b before it is compiled.
func decodeRegexpsWithin(raw json.RawMessage, b *budget) ([]*regexp.Regexp, error) {
	exprs, err := decodeList[string](raw, "regular expressions (strings)")
	if err != nil {
		return nil, err
	}
	res := make([]*regexp.Regexp, len(exprs))
	for i, e := range exprs {
		if err := b.spendRegexp(e); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		if res[i], err = regexp.Compile(e); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return res, nil
}

// decodeKinds decodes an event_set: a non-empty list of process event
// type names.
func decodeKinds(raw json.RawMessage) (kindSet, error) {
	names, err := decodeList[string](raw, "event type names")
	if err != nil {
		return 0, err
	}
	var set kindSet
	for i, n := range names {
		k, ok := kindNames[n]
		if !ok {
			return 0, fmt.Errorf("[%d]: unknown event type %q: want one of %s",
				i, n, strings.Join(kindSetNames(processKinds), ", "))
		}
		if !processKinds.has(k) {
			return 0, fmt.Errorf("[%d]: %s records are never filtered: losses are always reported", i, n)
		}
		set |= 1 << k
	}
	return set, nil
}

// fieldErr prefixes err with the field it is about. Errors about a list
// element start with "[i]" and are joined without a separator.
func fieldErr(key string, err error) error {
	if strings.HasPrefix(err.Error(), "[") {
		return fmt.Errorf("%s%w", key, err)
	}
	return fmt.Errorf("%s: %w", key, err)
}

// anyMatch reports whether one of res matches s.
func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}
