# Sourced by the measurement scripts (measure.sh, bench-chat.sh,
# bench-scale.sh): a temporary folder, the PIDs of the processes a script
# starts (append to pids), their stop by PID on exit, never by name, and
# waiting for a line in a server's log.
tmp=$(mktemp -d)
pids=()

stop_pid() { # stop_pid PID: TERM, wait up to STOP_WAIT seconds (20), then KILL
  local pid=$1 wait_s=${STOP_WAIT:-20}
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((wait_s * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "pid $pid did not stop within $wait_s s: KILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in ${pids[@]+"${pids[@]}"}; do stop_pid "$pid"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_log FILE REGEX PID [SECONDS]: the first match of REGEX (grep -oE) in
# FILE, waiting up to SECONDS (30) while process PID lives.
wait_log() {
  local file=$1 re=$2 pid=$3 wait_s=${4:-30} m=
  for _ in $(seq $((wait_s * 10))); do
    m=$(grep -o -m1 -E "$re" "$file" 2>/dev/null | head -n1 || true)
    [ -n "$m" ] && { echo "$m"; return 0; }
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; echo "process $pid exited" >&2; return 1; }
    sleep 0.1
  done
  cat "$file" >&2
  echo "no match for $re in $file within $wait_s s" >&2
  return 1
}
