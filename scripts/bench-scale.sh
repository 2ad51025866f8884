#!/usr/bin/env bash
# Scale out, measured (issue 13; `make bench-scale`, not part of `make test`).
#
#   1. scale: one nats-server with JetStream (built from the module in
#      go.mod) on a random loopback port with a temporary store, NODES
#      chatrooms nodes on it (--nats-url, --node-name nN, random ports),
#      then `chatload -scenario scale`: CONNS / CONNS_PER_USER users, CONNS
#      idle /chat WebSockets round-robin over the nodes from PROCS client processes
#      (each under the open-file cap) and the source addresses
#      LOCAL_ADDRS, then one message to the default room: how many got it,
#      when, and the RSS of the nodes and NATS.
#   2. 1 node vs 2 nodes, CHAT_ROUNDS times: a fresh NATS and 1 node, then
#      a fresh NATS and 2 nodes, each driven by `chatload -scenario chat` (CHAT_USERS users in
#      one room, CHAT_SENDERS senders at CHAT_RATES deliveries/s; with 2
#      nodes the connections alternate between them): deliveries/s per
#      core of server CPU (nodes + NATS, from /proc/<pid>/stat), and the 2
#      nodes' share of the 1 node's figure, round by round and the median
#      (the host's speed drifts between runs). NATS and
#      the nodes run on CHAT_SERVER_CPUS and chatload on CHAT_LOAD_CPUS
#      (taskset), as in `make bench-chat`: both setups get the same core,
#      and the generator (nearly a core itself at 200,000/s) its own.
#      CHAT_SERVER_CPUS= CHAT_LOAD_CPUS= (empty) runs them unpinned.
#
# Loopback only. Every process this script starts is stopped by its PID on
# exit (trap); every wait is bounded. Knobs (environment):
#   CONNS=100000 CONNS_PER_USER=100 LISTS=delta NODES=6 PROCS=ceil(CONNS/14000), at least 2
#   LOCAL_ADDRS=127.0.0.2,...,127.0.0.9 DIAL_CONC=32 (per process) HTTP_CONC=32
#   DRAIN=120s TIMEOUT=50m WRITE_QUEUE_BYTES= (the nodes' default if empty)
#   SETTLE=20s (idle time before the RSS is read: the nodes lower GOGC
#     once they have allocated little for ~10 s, --gc-idle-percent)
#   NODE_ARGS= (more flags for every node, e.g. --gc-idle-percent 0)
#   CHAT_USERS=1000 CHAT_SENDERS=100 CHAT_RATES=20000,50000,100000,200000 CHAT_STEP=10s
#   CHAT_SERVER_CPUS=0 CHAT_LOAD_CPUS=1
#   CHAT_PAUSE=10s (chatload -pause: after the switches, for their list
#     changes to arrive before the first step, whose CPU they would share)
#   CHAT_ROUNDS=3 (1 node then 2 nodes, this many times; the 2 nodes'
#     share of the 1 node's deliveries per core, round by round, and the median)
#   PARTS=scale,chat   CHATROOMS_BIN= (a prebuilt server instead of ./cmd/chatrooms)
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-100000}
# 100 connections a user by default: every connection is sent the whole
# user list on connect (~250 bytes a user), so U users on C connections
# cost C x U x 250 bytes; 100,000 users would be ~2.5 TB (and each user's
# join rewrites the default room's record, which grows with its members).
# CONNS_PER_USER=1 CONNS=2000 shows the one-user-one-connection case.
CONNS_PER_USER=${CONNS_PER_USER:-100}
LISTS=${LISTS:-delta}
NODES=${NODES:-6}
PROCS=${PROCS:-$(( (CONNS + 13999) / 14000 ))}
[ "$PROCS" -ge 2 ] || PROCS=2
LOCAL_ADDRS=${LOCAL_ADDRS:-127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8,127.0.0.9}
DIAL_CONC=${DIAL_CONC:-32}
HTTP_CONC=${HTTP_CONC:-32}
DRAIN=${DRAIN:-120s}
TIMEOUT=${TIMEOUT:-50m}
WRITE_QUEUE_BYTES=${WRITE_QUEUE_BYTES:-}
SETTLE=${SETTLE:-20s}
NODE_ARGS=${NODE_ARGS:-}
CHAT_USERS=${CHAT_USERS:-1000}
CHAT_SENDERS=${CHAT_SENDERS:-100}
CHAT_RATES=${CHAT_RATES:-20000,50000,100000,200000}
CHAT_STEP=${CHAT_STEP:-10s}
CHAT_SERVER_CPUS=${CHAT_SERVER_CPUS-0}
CHAT_LOAD_CPUS=${CHAT_LOAD_CPUS-1}
CHAT_PAUSE=${CHAT_PAUSE:-10s}
CHAT_ROUNDS=${CHAT_ROUNDS:-3}
PARTS=${PARTS:-scale,chat}
CHATROOMS_BIN=${CHATROOMS_BIN:-}

. scripts/procs.sh # tmp, pids, stop_pid; stopped on exit (the cwd is the repository)

echo "== build"
go build -o "$tmp/nats-server" github.com/nats-io/nats-server/v2
if [ -n "$CHATROOMS_BIN" ]; then cp "$CHATROOMS_BIN" "$tmp/chatrooms"; else go build -o "$tmp/chatrooms" ./cmd/chatrooms; fi
go build -o "$tmp/chatload" ./cmd/chatload

echo "== machine"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
echo "memory: $(free -h | awk '/^Mem:/ {print $2}'), kernel $(uname -r), $(go version | cut -d' ' -f3-)"
echo "open files per process: $(ulimit -n), ephemeral ports: $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range)"
echo "uptime: $(uptime)"

# pin CPUS CMD...: CMD on the CPU list CPUS (taskset, which execs it: $!
# is CMD's pid), or unpinned when CPUS is empty.
pin() {
  local cpus=$1
  shift
  if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

server_cpus= # the CPU list of the servers start_nats and start_nodes start (empty: any)
load_cpus=   # chatload's
nats_pid=
nats_url=
start_nats() { # start_nats NAME: a JetStream server on a random loopback port
  local log=$tmp/nats-$1.log hp
  (pin "$server_cpus" "$tmp/nats-server" -a 127.0.0.1 -p -1 -js -sd "$tmp/nats-$1" -n "bench-$1") >"$log" 2>&1 &
  nats_pid=$!
  pids+=("$nats_pid")
  hp=$(wait_log "$log" 'Listening for client connections on [0-9.]+:[0-9]+' "$nats_pid" | awk '{print $NF}')
  nats_url=nats://$hp
  wait_log "$log" 'Server is ready' "$nats_pid" >/dev/null
  echo "nats pid $nats_pid at $nats_url"
}

node_pids=()
node_urls=()
start_nodes() { # start_nodes NAME COUNT: chatrooms nodes n1..nCOUNT on $nats_url
  local name=$1 count=$2 k log addr flags
  node_pids=()
  node_urls=()
  flags=(--limit-new-users off --limit-handshakes off --max-sessions-per-addr 0 --presence-grace 10m)
  [ -n "$WRITE_QUEUE_BYTES" ] && flags+=(--write-queue-bytes "$WRITE_QUEUE_BYTES")
  # shellcheck disable=SC2206 # NODE_ARGS are words
  [ -n "$NODE_ARGS" ] && flags+=($NODE_ARGS)
  for k in $(seq "$count"); do
    log=$tmp/node-$name-n$k.log
    (pin "$server_cpus" "$tmp/chatrooms" --nats-url "$nats_url" --node-name "n$k" --addr 127.0.0.1:0 \
      --data-dir "$tmp/data-$name-n$k" "${flags[@]}") >"$log" 2>&1 &
    node_pids+=("$!")
    pids+=("$!")
  done
  for k in $(seq "$count"); do
    log=$tmp/node-$name-n$k.log
    addr=$(wait_log "$log" 'addr="?127\.0\.0\.1:[0-9]+' "${node_pids[$((k - 1))]}" | grep -o '127\.0\.0\.1:[0-9]*')
    node_urls+=("http://$addr")
  done
  for k in $(seq "$count"); do # /readyz, up to 60 s each
    for _ in $(seq 600); do
      curl -fsS -o /dev/null "${node_urls[$((k - 1))]}/readyz" 2>/dev/null && break
      sleep 0.1
    done
    curl -fsS -o /dev/null "${node_urls[$((k - 1))]}/readyz" || { cat "$tmp/node-$name-n$k.log" >&2; echo "node n$k not ready" >&2; exit 1; }
    echo "node n$k pid ${node_pids[$((k - 1))]} at ${node_urls[$((k - 1))]}"
  done
  NODE_FLAGS="${flags[*]}"
}

stop_all() { # the nodes first, then NATS
  local pid
  for pid in "${node_pids[@]}"; do stop_pid "$pid"; done
  stop_pid "$nats_pid"
}

chatload() { # chatload ARGS...: in the background so that the trap can stop it
  (pin "$load_cpus" "$tmp/chatload" "$@") &
  local pid=$!
  pids+=("$pid")
  wait "$pid"
}

join() { local IFS=,; echo "$*"; }

if [[ $PARTS == *scale* ]]; then
  echo "== scale: $CONNS connections ($CONNS_PER_USER per user, lists $LISTS) over $NODES nodes from $PROCS client processes"
  start_nats scale
  start_nodes scale "$NODES"
  sleep 1 # let the nodes settle before the baseline
  status=0
  chatload -scenario scale -urls "$(join "${node_urls[@]}")" -server-pids "$(join "${node_pids[@]}")" \
    -nats-pid "$nats_pid" -conns "$CONNS" -conns-per-user "$CONNS_PER_USER" -lists "$LISTS" -procs "$PROCS" \
    -local-addrs "$LOCAL_ADDRS" -dial-concurrency "$DIAL_CONC" -http-concurrency "$HTTP_CONC" \
    -settle "$SETTLE" -drain "$DRAIN" -timeout "$TIMEOUT" || status=$?
  echo "scale: node flags: $NODE_FLAGS; chatload exit status $status; uptime: $(uptime)"
  for k in $(seq "$NODES"); do # what the nodes complained about, if anything
    n=$(grep -c -E 'level=(WARN|ERROR)' "$tmp/node-scale-n$k.log" || true)
    [ "$n" -gt 0 ] && { echo "node n$k: $n warnings/errors, by message (and err, cut):"
      grep -E 'level=(WARN|ERROR)' "$tmp/node-scale-n$k.log" | sed -E 's/^.*(msg=("[^"]*"|[^ ]*)).*(err=.{0,100}).*$/\1 \3/; t; s/^.*(msg=("[^"]*"|[^ ]*)).*$/\1/' |
        sort | uniq -c | sort -rn | sed -n 1,5p; } # sed reads it all: head would SIGPIPE sort (pipefail)
  done
  stop_all
fi

if [[ $PARTS == *chat* ]]; then
  server_cpus=$CHAT_SERVER_CPUS load_cpus=$CHAT_LOAD_CPUS
  echo "== chat: NATS and the nodes on CPUs ${server_cpus:-any}, chatload on ${load_cpus:-any}; $CHAT_ROUNDS rounds of 1 node then 2"
  results=$tmp/chat-results.txt
  : >"$results"
  for round in $(seq "$CHAT_ROUNDS"); do
    for n in 1 2; do
      name=chat$n-r$round
      echo "== chat, round $round: $CHAT_USERS users in one room on $n node(s), $CHAT_SENDERS senders, $CHAT_RATES deliveries/s, steps of $CHAT_STEP"
      start_nats "$name"
      start_nodes "$name" "$n"
      cpu0=$(for p in "${node_pids[@]}" "$nats_pid"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd' ')
      io0=$(for p in "${node_pids[@]}"; do awk '/^(syscw|wchar):/ {printf "%s ", $2}' "/proc/$p/io"; done)
      chatload -scenario chat -urls "$(join "${node_urls[@]}")" -server-pids "$(join "${node_pids[@]}" "$nats_pid")" \
        -users "$CHAT_USERS" -rooms 1 -senders "$CHAT_SENDERS" -rates "$CHAT_RATES" -step "$CHAT_STEP" -pause "$CHAT_PAUSE" -drain 15s \
        -timeout 10m -dial-concurrency 16 -http-concurrency 16 -local-addrs "$LOCAL_ADDRS" \
        -server-flags "$NODE_FLAGS (srv cpu: $n node(s) + NATS)" -json "$tmp/$name.json"
      cpu1=$(for p in "${node_pids[@]}" "$nats_pid"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | paste -sd' ')
      io1=$(for p in "${node_pids[@]}"; do awk '/^(syscw|wchar):/ {printf "%s ", $2}' "/proc/$p/io"; done)
      echo "chat $n node(s): CPU seconds over the whole run (setup included), nodes then NATS: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { n = split(a, x, " "); split(b, y, " "); for (i = 1; i <= n; i++) printf "%.2f ", (y[i] - x[i]) / 100 }')"
      # Bytes and write calls of the nodes (/proc/<pid>/io wchar, syscw):
      # with the same deliveries, more calls mean fewer frames a writev.
      echo "chat $n node(s): written over the whole run by the nodes: $(awk -v a="$io0" -v b="$io1" 'BEGIN { n = split(a, x, " "); split(b, y, " "); for (i = 1; i <= n; i += 2) { w += y[i] - x[i]; c += y[i+1] - x[i+1] } printf "%.0f MB in %d write calls (%.0f bytes a call)", w / 1e6, c, c ? w / c : 0 }')"
      if command -v python3 >/dev/null; then
        python3 - "$tmp/$name.json" "$n" "$round" <<'EOF' | tee -a "$results"
import json, sys
rep = json.load(open(sys.argv[1]))
for s in rep["steps"]:
    cores = s.get("server_cpu_percent", 0) / 100
    per = s["deliveries_per_second"] / cores if cores else 0
    print(f"RESULT chat-nodes={sys.argv[2]} round={sys.argv[3]} target={s['target_deliveries_per_second']} deliveries_per_s={s['deliveries_per_second']:.0f} "
          f"server_cores={cores:.2f} deliveries_per_s_per_core={per:.0f} p50_ms={s['latency_p50_ms']:.1f} p99_ms={s['latency_p99_ms']:.1f} lost={s['lost']}")
EOF
      fi
      stop_all
    done
  done
  # The host's speed drifts by tens of percent within minutes (docs/
  # measurements.md), so each round's 2 nodes are compared with the 1
  # node run just before them, and the rounds' median is the figure.
  if command -v python3 >/dev/null; then
    python3 - "$results" <<'EOF'
import re, statistics, sys
per = {}
for line in open(sys.argv[1]):
    f = dict(re.findall(r"(\S+)=(\S+)", line))
    per[(int(f["chat-nodes"]), int(f["round"]), int(f["target"]))] = float(f["deliveries_per_s_per_core"])
for rate in sorted({k[2] for k in per}):
    ratios = [per[(2, r, rate)] / per[(1, r, rate)] for r in sorted({k[1] for k in per}) if per.get((1, r, rate)) and per.get((2, r, rate))]
    if ratios:
        print(f"RATIO target={rate} rounds={len(ratios)} median_percent={100 * statistics.median(ratios):.0f} "
              f"per_round_percent={','.join(f'{100 * x:.0f}' for x in ratios)}")
EOF
  fi
fi
echo "== done ($(uptime))"
