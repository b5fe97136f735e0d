#!/usr/bin/env bash
# Requests per worker CPU-second: one Locust master (--headless --expect-workers 1) with
# one worker at a time, a loadgen worker (`loadgen --worker`) and a Python Locust worker
# with HttpUser and with FastHttpUser, the same locustfile (benches/worker/health.py:
# GET /health without waits) against mock-api's `fast` profile on loopback. The worker
# runs pinned to TOOL_CPU; its user + system CPU time is read from /proc from the
# master's "All users spawned" to its run-time end (start-up excluded); the mock and
# the master share SERVER_CPU. Requests come from the master's final _stats.csv. Prints
# one table and the ratios of loadgen to each Python worker (goal: at least 10x
# FastHttpUser). Locust must be on PATH (pip install locust==2.47.0).
#
#   benches/worker.sh                       # USERS=20 DURATION=10
#   USERS=50 DURATION=20 benches/worker.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}      # seconds of load per worker kind
USERS=${USERS:-20}            # users (each one connection) on the worker
SERVER_CPU=${SERVER_CPU:-0}   # the core mock-api and the master are pinned to
TOOL_CPU=${TOOL_CPU:-1}       # the core the worker is pinned to
BIN=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d "${TMPDIR:-/tmp}/worker-bench.XXXXXX")
mock_pid=""

log() { printf '==> %s\n' "$*" >&2; }
cleanup() {
  if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for t in locust taskset python3 getconf; do
  command -v "$t" >/dev/null || { echo "worker.sh: $t is required (Locust: pip install locust==2.47.0)" >&2; exit 2; }
done
log "building release binaries (mock-api, loadgen)"
cargo build --release --locked -q -p mock-api -p loadgen

taskset -c "$SERVER_CPU" "$BIN/mock-api" --port 0 --database sqlite::memory: --log warn --profile fast \
  >"$work/mock.log" 2>&1 &
mock_pid=$!
addr=""
for _ in $(seq 100); do
  addr=$(grep -o 'listening on http://[0-9.:]*' "$work/mock.log" | head -n 1 | sed 's|listening on http://||' || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "worker.sh: mock-api did not start:" >&2; cat "$work/mock.log" >&2; exit 1; }
url="http://$addr"

cp benches/worker/health.py "$work/http.py"
sed -e 's/^from locust import HttpUser, /from locust import FastHttpUser as HttpUser, /' \
  benches/worker/health.py >"$work/fast.py"
grep -q FastHttpUser "$work/fast.py" || { echo "worker.sh: cannot make the FastHttpUser locustfile" >&2; exit 2; }

clk=$(getconf CLK_TCK)
# cpu_ticks PID: user + system clock ticks of PID so far (fields 14 and 15 of its stat
# line, counted after the command name's closing parenthesis).
cpu_ticks() { local line; line=$(cat "/proc/$1/stat") && echo "${line##*) }" | awk '{print $12 + $13}'; }
# wait_log FILE TEXT: waits (at most DURATION + 60 s) for TEXT in FILE.
wait_log() {
  for _ in $(seq $(( (DURATION + 60) * 10 ))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "worker.sh: no \"$2\" in $1:" >&2; cat "$1" >&2; exit 1
}

# run KIND LOCUSTFILE WORKER_CMD...: one master, one worker; prints "requests cpu_seconds",
# the worker's CPU counted from "All users spawned" to the run time's end (so a Python
# worker's start-up, importing Locust, is not charged to the load).
run() {
  local kind=$1 file=$2; shift 2
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  taskset -c "$SERVER_CPU" locust -f "$file" --master --master-bind-host 127.0.0.1 --master-bind-port "$port" \
    --headless --only-summary --expect-workers 1 -u "$USERS" -r "$USERS" -t "${DURATION}s" \
    -H "$url" --csv "$work/$kind" >"$work/$kind.master.log" 2>&1 &
  local master=$!
  # taskset executes the worker in its own process, so $! is the worker.
  taskset -c "$TOOL_CPU" "$@" --master-port "$port" >"$work/$kind.worker.log" 2>&1 &
  local worker=$!
  wait_log "$work/$kind.master.log" "All users spawned"
  local t0; t0=$(cpu_ticks "$worker")
  # The worker exits as soon as the master quits: sample until the run time is up and
  # keep the last reading taken while it ran.
  local t1=$t0 t
  for _ in $(seq $(( (DURATION + 60) * 10 ))); do
    grep -q "run-time limit reached" "$work/$kind.master.log" && break
    if t=$(cpu_ticks "$worker" 2>/dev/null) && [ -n "$t" ]; then t1=$t; fi
    sleep 0.1
  done
  wait "$master" || true
  wait "$worker" || true
  local requests; requests=$(awk -F, '$2 == "\"Aggregated\"" || $2 == "Aggregated" {print $3}' "$work/${kind}_stats.csv")
  echo "${requests:-0} $(awk -v a="$t0" -v b="$t1" -v hz="$clk" 'BEGIN { printf "%.2f", (b - a) / hz }')"
}

log "loadgen worker, $USERS users, ${DURATION}s"
read -r lg_n lg_cpu < <(run loadgen "$work/http.py" "$BIN/loadgen" --worker -f "$work/http.py" -H "$url")
log "Locust worker with HttpUser"
read -r py_n py_cpu < <(run http "$work/http.py" locust -f "$work/http.py" --worker --master-host 127.0.0.1)
log "Locust worker with FastHttpUser"
read -r fast_n fast_cpu < <(run fast "$work/fast.py" locust -f "$work/fast.py" --worker --master-host 127.0.0.1)

per_cpu() { awk -v n="$1" -v c="$2" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
lg=$(per_cpu "$lg_n" "$lg_cpu"); py=$(per_cpu "$py_n" "$py_cpu"); fast=$(per_cpu "$fast_n" "$fast_cpu")
printf '\n%-28s %10s %12s %16s\n' "worker" "requests" "cpu seconds" "requests/cpu-s"
printf '%-28s %10s %12s %16s\n' "loadgen --worker" "$lg_n" "$lg_cpu" "$lg"
printf '%-28s %10s %12s %16s\n' "locust --worker HttpUser" "$py_n" "$py_cpu" "$py"
printf '%-28s %10s %12s %16s\n' "locust --worker FastHttpUser" "$fast_n" "$fast_cpu" "$fast"
printf '\nloadgen / HttpUser: %sx   loadgen / FastHttpUser: %sx (goal >= 10x)\n' \
  "$(ratio "$lg" "$py")" "$(ratio "$lg" "$fast")"
