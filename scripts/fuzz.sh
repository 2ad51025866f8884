#!/usr/bin/env bash
# Runs every fuzz target of the module briefly: ./scripts/fuzz.sh 10000x
# (a count of executions each; a duration such as 3s works too, but can
# fail spuriously under load: golang/go#75804, see the Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10000x}
found=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  found=$((found + 1))
  echo "fuzz $pkg $name ($t)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed -E 's/func //')
rm -f /tmp/fuzz.$$.log
echo "fuzz: $found targets passed"
