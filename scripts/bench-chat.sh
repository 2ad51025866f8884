#!/usr/bin/env bash
# The chat benchmark side by side (issue 13): `chatload -scenario chat`
# against the Go server (bin/chatrooms, fresh --data-dir) and then against
# the in-memory Node.js peer (bench/node-chat), in one run, with the same
# parameters, the server pinned to one core and chatload to another. It
# writes both chatload reports (text and JSON), the servers' logs and a
# side-by-side markdown table (also printed) under BENCH_OUT.
#
# Every process this script starts is stopped by its PID (trap on EXIT).
# Knobs (environment; `make bench-chat USERS=100 ...` passes them too):
#   USERS=2000 ROOMS=20 SENDERS=400 RATES=20000,50000,100000,200000 STEP=10s
#   DRAIN=15s TIMEOUT=9m DIAL_CONC=16 HTTP_CONC=16   (chatload flags)
#   SERVER_CPU=0 LOAD_CPU=1                          (taskset cores)
#   BENCH_OUT=bench/results/<UTC timestamp>/         (git-ignored)
#   SERVERS="go node"                                (which servers, in order)
#   CHATROOMS_BIN=                                   (a prebuilt server instead of bin/chatrooms)
#   GO_ARGS=                                         (more flags for the Go server, e.g. --gc-idle-percent 0)
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-2000}
ROOMS=${ROOMS:-20}
SENDERS=${SENDERS:-400}
RATES=${RATES:-20000,50000,100000,200000}
STEP=${STEP:-10s}
DRAIN=${DRAIN:-15s}
TIMEOUT=${TIMEOUT:-9m}
DIAL_CONC=${DIAL_CONC:-16}
HTTP_CONC=${HTTP_CONC:-16}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
SERVERS=${SERVERS:-go node}
CHATROOMS_BIN=${CHATROOMS_BIN:-}
GO_ARGS=${GO_ARGS:-}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
BENCH_OUT=${BENCH_OUT:-bench/results/$stamp}

mkdir -p "$BENCH_OUT"
out=$(cd "$BENCH_OUT" && pwd)
. scripts/procs.sh # tmp, pids, stop_pid; stopped on exit (the cwd is the repository)

echo "== build"
if [ -n "$CHATROOMS_BIN" ]; then go_bin=$CHATROOMS_BIN; else ${MAKE:-make} --no-print-directory build; go_bin=bin/chatrooms; fi
go build -o bin/chatload ./cmd/chatload
node_dir=bench/node-chat
if [ ! -f "$node_dir/node_modules/.package-lock.json" ] || [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$node_dir" --no-audit --no-fund
fi

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- cmd internal bench/node-chat 2>/dev/null || echo ' (with uncommitted changes)')"
  [ -z "$CHATROOMS_BIN" ] || echo "server: $CHATROOMS_BIN (prebuilt)"
  echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2}'), kernel $(uname -r)"
  echo "go: $(go version | cut -d' ' -f3), node: $(node --version), socket.io: $(node -p "require('./$node_dir/node_modules/socket.io/package.json').version")"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

chatload_args=(-scenario chat -users "$USERS" -rooms "$ROOMS" -senders "$SENDERS"
  -rates "$RATES" -step "$STEP" -drain "$DRAIN" -timeout "$TIMEOUT"
  -dial-concurrency "$DIAL_CONC" -http-concurrency "$HTTP_CONC")
echo "chatload: taskset -c $LOAD_CPU chatload ${chatload_args[*]} -url URL -server-pid PID -json FILE" | tee -a "$out/machine.txt"

go_flags="--limit-new-users off --limit-handshakes off --max-sessions-per-addr 0 --presence-grace 10m${GO_ARGS:+ $GO_ARGS}"
node_flags="--presence-grace 10m"

server_pid=
server_url=
start_server() { # start_server NAME: a fresh server on a free port, pinned
  local name=$1 log=$out/$1-server.log addr=
  case $name in
  go)
    # shellcheck disable=SC2086 # the flags are words
    taskset -c "$SERVER_CPU" "$go_bin" --addr 127.0.0.1:0 --data-dir "$tmp/data-go" $go_flags >"$log" 2>&1 &
    ;;
  node)
    # shellcheck disable=SC2086
    taskset -c "$SERVER_CPU" node "$node_dir/server.mjs" --port 0 $node_flags >"$log" 2>&1 &
    ;;
  esac
  server_pid=$! # taskset execs the server: this is its pid
  pids+=("$server_pid")
  addr=$(wait_log "$log" '(addr=|listening on http://)127\.0\.0\.1:[0-9]+' "$server_pid") ||
    { echo "$name server did not report its address" >&2; exit 1; }
  addr=$(grep -Eo '127\.0\.0\.1:[0-9]+' <<<"$addr")
  server_url=http://$addr
  echo "$name server pid $server_pid at $server_url"
}

failed=0
for name in $SERVERS; do
  case $name in
  go) flags=$go_flags ;;
  node) flags="$node_flags (limits as the Go defaults: messages 5/1s:20, room switches 2/1s:10)" ;;
  *) echo "SERVERS: unknown server $name (want go, node)" >&2; exit 2 ;;
  esac
  echo "== $name: chatload, $USERS users, $ROOMS rooms, $SENDERS senders, rates $RATES, steps of $STEP"
  start_server "$name"
  sleep 1 # let the fresh server settle
  taskset -c "$LOAD_CPU" bin/chatload "${chatload_args[@]}" -url "$server_url" -server-pid "$server_pid" \
    -server-flags "$flags" -json "$out/$name.json" >"$out/$name.txt" 2>"$out/$name-chatload.log" &
  load_pid=$!
  pids+=("$load_pid")
  rc=0
  wait "$load_pid" || rc=$?
  cat "$out/$name.txt"
  if [ "$rc" -ne 0 ]; then
    echo "chatload against $name failed (exit $rc); its log:" >&2
    tail -n 20 "$out/$name-chatload.log" >&2
    failed=1
  fi
  stop_pid "$server_pid"
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"

# The side-by-side table, from the JSON reports (node is at hand anyway).
echo "== side by side"
node --input-type=module - "$out" $SERVERS >"$out/table.md" <<'EOF'
import fs from 'node:fs';
const [dir, ...names] = process.argv.slice(2);
const reps = names.map((n) => [n, fs.existsSync(`${dir}/${n}.json`) ? JSON.parse(fs.readFileSync(`${dir}/${n}.json`, 'utf8')) : null]);
const label = { go: 'Go', node: 'Node' };
const n0 = (x) => Math.round(x ?? 0).toLocaleString('en-US');
const f1 = (x) => (x ?? 0).toFixed(1);
const mb = (x) => ((x ?? 0) >= 1e6 ? `${(x / 1e6).toFixed(1)} MB` : `${((x ?? 0) / 1e3).toFixed(1)} kB`);
const codes = (m) => Object.entries(m ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '0';
const row = (cells) => `| ${cells.join(' | ')} |`;
const out = [];
out.push(fs.readFileSync(`${dir}/machine.txt`, 'utf8').trim().split('\n').map((l) => `- ${l}`).join('\n'), '');
for (const [n, r] of reps) if (r) out.push(`- ${label[n] ?? n}: ${r.server_url}, server flags: \`${r.server_flags}\``);
for (const [n, r] of reps) if (!r) out.push(`- ${label[n] ?? n}: no report (the run failed; see ${n}-chatload.log)`);
const ok = reps.filter(([, r]) => r);
if (ok.length) {
  const r0 = ok[0][1];
  const at = r0.latency_at === 'arrival' ? "its arrival at the client's socket (the kernel's receive time)" : "the generator's read";
  out.push('', `${r0.users} users, ${r0.rooms} rooms of ${r0.room_size}, ${r0.senders} senders, steps of ${r0.step_seconds} s; latencies from the send to ${at}, "read" ones to the generator's read`, '');
  out.push(row(['setup phase', 'server', 'ok', 'failed attempts', 'seconds', 'per s', 'srv cpu %', 'srv rss MiB']));
  out.push(row(Array(8).fill('---')));
  for (let i = 0; i < r0.setup.length; i++) {
    for (const [n, r] of ok) {
      const p = r.setup[i];
      if (p) out.push(row([p.name, label[n] ?? n, n0(p.ok), codes(p.failed_by_code), p.seconds.toFixed(2), n0(p.per_second), n0(p.server_cpu_percent), f1((p.server_rss_kib ?? 0) / 1024)]));
    }
  }
  out.push('', row(['lists per client (mean)', 'server', 'user lists', 'user bytes', 'room lists', 'room bytes', 'total bytes']));
  out.push(row(Array(7).fill('---')));
  for (let i = 0; i < r0.list_bytes_per_client.length; i++) {
    for (const [n, r] of ok) {
      const l = r.list_bytes_per_client[i];
      if (l) out.push(row([l.phase, label[n] ?? n, f1(l.user_lists_mean), mb(l.user_list_bytes_mean), f1(l.room_lists_mean), mb(l.room_list_bytes_mean), mb(l.total_bytes_mean)]));
    }
  }
  out.push('', row(['deliveries/s asked', 'server', 'msg/s (per sender)', 'sent', 'acked', 'refused', 'unacked', 'deliveries/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'read p50 / p99 ms', 'ack p50 / p99 ms', 'lost', 'dup', 'misrouted', 'srv cpu %', 'srv rss MiB', 'gen cpu %']));
  out.push(row(Array(20).fill('---')));
  for (let i = 0; i < r0.steps.length; i++) {
    for (const [n, r] of ok) {
      const s = r.steps[i];
      if (!s) continue;
      out.push(row([n0(s.target_deliveries_per_second), label[n] ?? n, `${n0(s.target_messages_per_second)} (${s.per_sender_messages_per_second.toFixed(2)})`,
        n0(s.sent), n0(s.acked), codes(s.refused_by_code), n0(s.unacked), n0(s.deliveries_per_second),
        f1(s.latency_p50_ms), f1(s.latency_p90_ms), f1(s.latency_p99_ms), f1(s.latency_max_ms), `${f1(s.read_latency_p50_ms)} / ${f1(s.read_latency_p99_ms)}`, `${f1(s.ack_p50_ms)} / ${f1(s.ack_p99_ms)}`,
        n0(s.lost), n0(s.duplicated), n0(s.misrouted), n0(s.server_cpu_percent), f1((s.server_rss_kib ?? 0) / 1024), n0(s.loadgen_cpu_percent)]));
    }
  }
  out.push('');
  for (const [n, r] of ok) {
    const t = r.steps.reduce((a, s) => ({ lost: a.lost + s.lost, dup: a.dup + s.duplicated, mis: a.mis + s.misrouted }), { lost: 0, dup: 0, mis: 0 });
    out.push(`- ${label[n] ?? n}: lost ${t.lost}, duplicated ${t.dup}, misrouted ${t.mis}, unexpected disconnects ${r.unexpected_disconnects}, foreign messages ${r.foreign_messages}, server RSS at the end ${f1((r.server_rss_kib_end ?? 0) / 1024)} MiB`);
    for (const note of r.notes ?? []) out.push(`  - ${note}`);
  }
}
console.log(out.join('\n'));
EOF
cat "$out/table.md"
echo "== results in $out"
exit "$failed"
