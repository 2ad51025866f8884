#!/usr/bin/env bash
# Runs every fuzz target of the module for a short time each: ./scripts/fuzz.sh 3s
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-3s}
found=0
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  found=$((found + 1))
  echo "fuzz $pkg $name ($t)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" -fuzzminimizetime 2s "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
done < <(git ls-files '*_test.go' | xargs grep -oE '^func (Fuzz[A-Za-z0-9_]+)' | sed -E 's/func //')
rm -f /tmp/fuzz.$$.log
echo "fuzz: $found targets passed"
