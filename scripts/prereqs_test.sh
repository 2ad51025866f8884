#!/usr/bin/env bash
# Tests scripts/prereqs.sh against fake go, node and npm: each case runs
# it with a PATH that holds only the fakes the case asks for, and checks
# the exit status and the lines it prints. Run by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need_go=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
need_node=$(sed -n 's/.*"node": *">= *\([0-9.]*\)".*/\1/p' web/package.json)

# fake DIR NAME OUTPUT: a command NAME in DIR that prints OUTPUT.
fake() {
  mkdir -p "$1"
  printf '#!%s\nprintf "%%s\\n" %s\n' "$BASH" "$3" >"$1/$2"
  chmod +x "$1/$2"
}

passed=0 failed=0
# check NAME WANT_STATUS WANT_LINES PATTERN... : runs prereqs.sh with
# PATH=$tmp/NAME; every PATTERN must match a line of its stderr, and it
# must print exactly WANT_LINES lines.
check() {
  local name=$1 want=$2 lines=$3
  shift 3
  local out status
  out=$(PATH="$tmp/$name" "$BASH" scripts/prereqs.sh 2>&1)
  status=$?
  local bad=()
  ((status == want)) || bad+=("exit status $status, want $want")
  local n=0
  [[ -n $out ]] && n=$(printf '%s\n' "$out" | wc -l)
  ((n == lines)) || bad+=("$n lines, want $lines")
  local p
  for p in "$@"; do
    grep -qE -- "$p" <<<"$out" || bad+=("no line matches /$p/")
  done
  if ((${#bad[@]})); then
    failed=$((failed + 1))
    printf 'FAIL %s: %s\n--- output:\n%s\n---\n' "$name" "${bad[*]}" "$out"
  else
    passed=$((passed + 1))
    echo "ok   $name"
  fi
}

# All present, at the versions asked for.
fake "$tmp/ok" go "go$need_go auto"
fake "$tmp/ok" node "v$need_node.0"
fake "$tmp/ok" npm "10.0.0"
check ok 0 0

# Node.js newer by a major version: fine.
fake "$tmp/newer" go "go$need_go local"
fake "$tmp/newer" node "v99.0.0"
fake "$tmp/newer" npm "10.0.0"
check newer 0 0

# No node on PATH.
fake "$tmp/no-node" go "go$need_go auto"
fake "$tmp/no-node" npm "10.0.0"
check no-node 1 1 "^missing: Node.js >= $need_node .*nodejs.org"

# An old node.
fake "$tmp/old-node" go "go$need_go auto"
fake "$tmp/old-node" node "v18.0.0"
fake "$tmp/old-node" npm "10.0.0"
check old-node 1 1 "^too old: Node.js 18.0.0 found, the web build needs >= $need_node .*apt-get install nodejs npm"

# No npm.
fake "$tmp/no-npm" go "go$need_go auto"
fake "$tmp/no-npm" node "v$need_node.0"
check no-npm 1 1 "^missing: npm .*apt-get install npm"

# Nothing at all: one line each.
mkdir -p "$tmp/nothing"
check nothing 1 3 "^missing: Go >= $need_go .*go.dev/dl" "^missing: Node.js" "^missing: npm"

# An old Go that may not fetch a newer toolchain.
fake "$tmp/old-go-local" go "go1.22.0 local"
fake "$tmp/old-go-local" node "v$need_node.0"
fake "$tmp/old-go-local" npm "10.0.0"
check old-go-local 1 1 "^too old: Go 1.22.0 found, go.mod needs >= $need_go .*GOTOOLCHAIN=local"

# An old Go that fetches go.mod's toolchain itself (GOTOOLCHAIN=auto): fine.
fake "$tmp/old-go-auto" go "go1.22.0 auto"
fake "$tmp/old-go-auto" node "v$need_node.0"
fake "$tmp/old-go-auto" npm "10.0.0"
check old-go-auto 0 0

# A Go from before toolchain switching.
fake "$tmp/ancient-go" go "go1.19.13 auto"
fake "$tmp/ancient-go" node "v$need_node.0"
fake "$tmp/ancient-go" npm "10.0.0"
check ancient-go 1 1 "^too old: Go 1.19.13 found"

echo "prereqs: $passed passed, $failed failed"
((failed == 0))
