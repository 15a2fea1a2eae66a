package filter

// Field filters apply to an event body as encoding/json writes it:
// compact, valid JSON. Scanning those bytes, rather than decoding them,
// keeps the fields' order and costs a fraction of the encoding.

// apply appends to out the JSON object body with m's fields kept and
// removed.
func (m *fieldMask) apply(body, out []byte) []byte {
	switch {
	case m.include != nil && m.exclude != nil:
		body = pruneObject(body, m.include, true, nil)
	case m.include != nil:
		return pruneObject(body, m.include, true, out)
	}
	if m.exclude != nil {
		return pruneObject(body, m.exclude, false, out)
	}
	return append(out, body...)
}

// pruneObject appends to out the object obj with the fields in n kept
// (include) or removed (exclude), looking into the fields n lists
// sub-fields of.
func pruneObject(obj []byte, n node, include bool, out []byte) []byte {
	out = append(out, '{')
	first := true
	for i := 1; i < len(obj) && obj[i] != '}'; {
		keyEnd := stringEnd(obj, i)
		valStart := keyEnd + 2 // past the closing quote and the colon
		valEnd := valueEnd(obj, valStart)
		sub, listed := n[string(obj[i+1:keyEnd])]
		if listed == include || sub != nil {
			if !first {
				out = append(out, ',')
			}
			first = false
			out = append(out, obj[i:valStart]...)
			out = pruneMember(obj[valStart:valEnd], sub, include, out)
		}
		i = valEnd
		if i < len(obj) && obj[i] == ',' {
			i++
		}
	}
	return append(out, '}')
}

// pruneMember appends a kept field's value: whole without sub-fields,
// else pruned.
func pruneMember(val []byte, sub node, include bool, out []byte) []byte {
	if sub == nil {
		return append(out, val...)
	}
	switch val[0] {
	case '{':
		return pruneObject(val, sub, include, out)
	case '[':
		return pruneList(val, sub, include, out)
	}
	return append(out, val...) // null: no fields to select
}

// pruneList prunes each element of a list of objects.
func pruneList(list []byte, n node, include bool, out []byte) []byte {
	out = append(out, '[')
	for i := 1; i < len(list) && list[i] != ']'; {
		end := valueEnd(list, i)
		if i > 1 {
			out = append(out, ',')
		}
		out = pruneMember(list[i:end], n, include, out)
		i = end
		if i < len(list) && list[i] == ',' {
			i++
		}
	}
	return append(out, ']')
}

// stringEnd returns the index of the quote that closes the string opening
// at b[i].
func stringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return i
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i) + 1
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
		i++
	}
	return i
}
