#!/usr/bin/env bash
# Checks what `make run`, `make build` and `make web` need before they
# start: Go (the version go.mod names, or one that can fetch it), Node.js
# (the version web/package.json's "engines" asks for) and npm. Silent
# when all is there; otherwise one line per missing thing, saying what
# and how to get it, and exit status 1. Commands: $GO (default go), node,
# npm, looked up on PATH. Only bash builtins besides those three, so that
# scripts/prereqs_test.sh can run it with a PATH of fakes alone.
set -uo pipefail
cd "${0%/*}/.." || exit 1
GO=${GO:-go}

# ge A B: whether dotted version A >= B (missing parts count as 0).
ge() {
  local -a a b
  IFS=. read -ra a <<<"$1"
  IFS=. read -ra b <<<"$2"
  local i x y
  for ((i = 0; i < 3; i++)); do
    x=$((10#${a[i]:-0})) y=$((10#${b[i]:-0}))
    ((x > y)) && return 0
    ((x < y)) && return 1
  done
  return 0
}

missing=0
say() {
  echo "$*" >&2
  missing=1
}

# Go: go.mod's "go" line is the oldest toolchain that builds the module.
need_go=
while read -r word ver _; do
  [[ $word == go ]] && need_go=$ver && break
done <go.mod
if ! command -v "$GO" >/dev/null 2>&1; then
  say "missing: Go >= $need_go (go.mod) - get it from https://go.dev/dl/ (Debian's golang-go is older; use the tarball)"
else
  # Asked outside the module, so that an older go does not switch
  # toolchains just to answer.
  { read -r have_go; read -r toolchain; } < <(cd / && "$GO" env GOVERSION GOTOOLCHAIN 2>/dev/null)
  have_go=${have_go:-unknown}
  if [[ $have_go =~ ^go([0-9]+(\.[0-9]+)*) ]]; then
    v=${BASH_REMATCH[1]}
    # Go >= 1.21 fetches the toolchain go.mod names by itself unless
    # GOTOOLCHAIN=local forbids it.
    if ! ge "$v" "$need_go" && { ! ge "$v" 1.21 || [[ ${toolchain:-} == local ]]; }; then
      say "too old: Go $v found, go.mod needs >= $need_go - get it from https://go.dev/dl/${toolchain:+ (GOTOOLCHAIN=$toolchain)}"
    fi
  elif [[ $have_go != devel* ]]; then
    say "unreadable: '$GO env GOVERSION' said '$have_go' - need Go >= $need_go from https://go.dev/dl/"
  fi
fi

# Node.js: web/package.json "engines": {"node": ">=X.Y"}.
pkg=$(<web/package.json)
if [[ $pkg =~ \"node\"[[:space:]]*:[[:space:]]*\"\>=[[:space:]]*([0-9.]+)\" ]]; then
  need_node=${BASH_REMATCH[1]}
else
  echo "prereqs.sh: web/package.json has no engines.node of the form \">=X.Y\"; update this script" >&2
  exit 1
fi
get_node="https://nodejs.org/ (or Debian 13: apt-get install nodejs npm; Debian 12's nodejs 18 is too old)"
if ! command -v node >/dev/null 2>&1; then
  say "missing: Node.js >= $need_node (web/package.json engines, to build the web client) - get it from $get_node"
else
  have_node=$(node --version 2>/dev/null)
  if [[ $have_node =~ ^v([0-9]+(\.[0-9]+)*) ]]; then
    if ! ge "${BASH_REMATCH[1]}" "$need_node"; then
      say "too old: Node.js ${BASH_REMATCH[1]} found, the web build needs >= $need_node (web/package.json engines) - get it from $get_node"
    fi
  else
    say "unreadable: 'node --version' said '$have_node' - need Node.js >= $need_node from $get_node"
  fi
fi

if ! command -v npm >/dev/null 2>&1; then
  say "missing: npm (installs and runs the web client's build) - Debian: apt-get install npm; Node.js from https://nodejs.org/ includes it"
fi

exit "$missing"
