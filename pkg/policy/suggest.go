package policy

import (
	"fmt"
	"strings"
)

// hint returns " (did you mean "X"?)" for the valid value X nearest to got
// by case-insensitive edit distance, or, when none is near, " (valid: ...)"
// for short lists and "" for long ones.
func hint(got string, valid []string) string {
	if s, ok := nearest(got, valid); ok {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	if len(valid) <= 10 {
		return " (valid: " + strings.Join(valid, ", ") + ")"
	}
	return ""
}

// nearest returns the valid value closest to got, if it is close enough to
// be a misspelling: one edit for words of up to 3 letters, else a third of
// the word's length, and at least two.
func nearest(got string, valid []string) (string, bool) {
	limit := 1
	if len(got) > 3 {
		limit = max(2, len(got)/3)
	}
	best, bestDist := "", limit+1
	for _, v := range valid {
		if d := editDistance(strings.ToLower(got), strings.ToLower(v)); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best, bestDist <= limit
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: insertions, deletions, substitutions and transpositions of
// adjacent bytes each count one.
func editDistance(a, b string) int {
	rows := [3][]int{make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)}
	for j := range rows[1] {
		rows[1][j] = j
	}
	for i := 1; i <= len(a); i++ {
		older, prev, cur := rows[0], rows[1], rows[2]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], older[j-2]+1)
			}
		}
		rows = [3][]int{prev, cur, older}
	}
	return rows[1][len(b)]
}
