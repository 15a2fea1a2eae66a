#!/bin/sh
# Runs every Go fuzz target of the module for FUZZTIME (10s) each: the
# seed corpora (testdata/fuzz and f.Add) run in `make test-go` already;
# this looks for new inputs. A finding fails the run and leaves its input
# under the package's testdata/fuzz, to commit as a regression test.
set -eu
cd "$(dirname "$0")/.."
time=${FUZZTIME:-10s}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($time)"
		go test -run '^$' -fuzz "^$target\$" -fuzztime "$time" -parallel 2 "$pkg" >/tmp/vigil-fuzz.log 2>&1 || {
			cat /tmp/vigil-fuzz.log
			exit 1
		}
	done
done
