#!/usr/bin/env bash
# Measures the two figures of docs/measurements.md against
# `chatrooms --protocol-test` on 127.0.0.1 (loopback only):
#   1. idle: server VmRSS per idle Socket.IO WebSocket at CONNS connections;
#   2. broadcast: deliveries/s of a PAYLOAD-byte event to a room of RECEIVERS.
# Each scenario gets a fresh server on a free port. Every process this
# script starts is stopped by PID on exit (trap). Knobs (environment):
#   CONNS=10000 PROCS=2 RECEIVERS=1000 SENDERS=2 DURATION=10s WINDOW=1024
#   PAYLOAD=150 MAX_MESSAGES=1000000 LOCAL_ADDRS=127.0.0.2,...,127.0.0.5
#   PERF_OUT=path   record the server with `perf record -g` during the
#                   broadcast run (needs perf); report with `perf report -i path`
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-10000}
PROCS=${PROCS:-2}
RECEIVERS=${RECEIVERS:-1000}
SENDERS=${SENDERS:-2}
DURATION=${DURATION:-10s}
WINDOW=${WINDOW:-1024}
PAYLOAD=${PAYLOAD:-150}
MAX_MESSAGES=${MAX_MESSAGES:-1000000}
LOCAL_ADDRS=${LOCAL_ADDRS:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5}
PERF_OUT=${PERF_OUT:-}

. scripts/procs.sh # tmp, pids, stop_pid; stopped on exit (the cwd is the repository)

echo "== build"
go build -o "$tmp/chatrooms" ./cmd/chatrooms
go build -o "$tmp/chatload" ./cmd/chatload

echo "== machine"
echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "memory: $(free -h | awk '/^Mem:/ {print $2}'), kernel $(uname -r), $(go version | cut -d' ' -f3-)"
echo "open files per process: $(ulimit -n), ephemeral ports: $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"

server_pid=
server_url=
start_server() { # start_server NAME: a fresh server on a free port
  local log=$tmp/server-$1.log addr=
  "$tmp/chatrooms" --protocol-test --addr 127.0.0.1:0 \
    --ping-interval 25s --ping-timeout 20s --data-dir "$tmp/data" \
    >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  addr=$(wait_log "$log" 'addr=127\.0\.0\.1:[0-9]+' "$server_pid" 10) ||
    { echo "server did not report its address" >&2; exit 1; }
  addr=${addr#addr=}
  server_url=http://$addr
  echo "server pid $server_pid at $server_url"
}

chatload() { # chatload ARGS...: run in the background so the trap can stop it
  "$tmp/chatload" "$@" &
  local pid=$!
  pids+=("$pid")
  wait "$pid"
}

echo "== idle: $CONNS connections over $PROCS client processes"
start_server idle
sleep 1 # let the fresh server settle before the baseline
chatload -scenario idle -url "$server_url" -server-pid "$server_pid" \
  -conns "$CONNS" -procs "$PROCS" -local-addrs "$LOCAL_ADDRS" -settle 5s
stop_pid "$server_pid"

echo "== broadcast: $RECEIVERS receivers, $SENDERS senders, ${PAYLOAD}-byte payload, $DURATION"
start_server broadcast
perf_pid=
if [ -n "$PERF_OUT" ]; then
  perf record -F 499 -g -p "$server_pid" -o "$PERF_OUT" -- sleep 60 >/dev/null 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
fi
chatload -scenario broadcast -url "$server_url" -server-pid "$server_pid" \
  -receivers "$RECEIVERS" -senders "$SENDERS" -duration "$DURATION" \
  -window "$WINDOW" -payload "$PAYLOAD" -max-messages "$MAX_MESSAGES" \
  -local-addrs "$LOCAL_ADDRS"
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  echo "perf data: $PERF_OUT"
fi
stop_pid "$server_pid"
echo "== done"
