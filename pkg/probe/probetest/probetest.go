// Package probetest lets BPF tests skip where the running kernel lacks a
// feature they need, naming it, and only there: the decision comes from
// probe.Run, whose answers pkg/probe's tests check on every kernel of the
// matrix.
package probetest

import (
	"sync"
	"testing"

	"github.com/vigil-sec/vigil/pkg/probe"
)

var (
	once   sync.Once
	report probe.Report
)

// Report returns the running kernel's probe report, probed once per test binary.
func Report() probe.Report {
	once.Do(func() { report = probe.Run() })
	return report
}

// Require skips the test unless every feature is available, with a message
// that names the missing feature and why it is missing.
func Require(tb testing.TB, features ...probe.Feature) {
	tb.Helper()
	r := Report()
	for _, f := range features {
		if err := r.Missing(f); err != nil {
			tb.Skipf("skipped: %v", err)
			return
		}
	}
}
