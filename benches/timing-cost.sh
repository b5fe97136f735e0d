#!/usr/bin/env bash
# What mock-api's Server-Timing and X-Request-Id headers cost, measured against the same
# source with the layer that writes them taken out, in one run, as ratios:
#   1. user-space instructions per request (callgrind, which counts them exactly: the
#      steadiest figure on a shared machine), /health and /api/clients;
#   2. requests/s and server CPU per request under wrk, both servers running at once on
#      SERVER_CPU and the wrk runs alternating between them (medians of the pairs).
# The second build is a git worktree of HEAD with the layer's one line removed, built
# into its own target dir (TARGET/timing-cost, so target/release keeps the real mock-api;
# the first run builds that copy's dependencies, a few minutes); both are release builds.
# With AGAINST=REV the second build is mock-api as it was at REV instead (whole, nothing
# removed): the mock now against the mock before the headers, say.
#
#   benches/timing-cost.sh                 # defaults below
#   RUNS=3 DURATION=3 benches/timing-cost.sh
#   AGAINST=536c677^ benches/timing-cost.sh   # now vs the commit before the headers
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5}       # seconds per wrk run
RUNS=${RUNS:-7}               # wrk pairs per route
SERVER_CPU=${SERVER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
work=$(mktemp -d "${TMPDIR:-/tmp}/timing-cost.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  git worktree remove --force "$work/without" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
log() { printf '==> %s\n' "$*" >&2; }
for t in wrk valgrind callgrind_control taskset python3; do
  command -v "$t" >/dev/null || { echo "timing-cost.sh: $t is required" >&2; exit 2; }
done

AGAINST=${AGAINST:-}
if [ -n "$AGAINST" ]; then
  other="mock-api at $AGAINST"
  log "building mock-api as it is, and as it was at $AGAINST"
else
  other="without Server-Timing and X-Request-Id"
  log "building mock-api as it is, and without the timing layer"
fi
cargo build --release --locked -q -p mock-api
cp "$TARGET/release/mock-api" "$work/with"
git worktree add -q --detach "$work/without" "${AGAINST:-HEAD}"
if [ -z "$AGAINST" ]; then
  layer='.layer(timing::TimingLayer(state.clone()))'
  grep -qF "$layer" "$work/without/mock-api/src/app.rs" \
    || { echo "timing-cost.sh: the layer's line is not in mock-api/src/app.rs" >&2; exit 1; }
  grep -vF "$layer" "$work/without/mock-api/src/app.rs" >"$work/app.rs"
  cp "$work/app.rs" "$work/without/mock-api/src/app.rs"
fi
(cd "$work/without" && RUSTFLAGS="-A warnings" CARGO_TARGET_DIR="$TARGET/timing-cost" cargo build --release --locked -q -p mock-api)
cp "$TARGET/timing-cost/release/mock-api" "$work/without-bin"

# start NAME BIN [WRAPPER...]: the server's address in $work/NAME.addr, its pid in $work/NAME.pid.
start() {
  local name=$1 bin=$2; shift 2
  "$@" "$bin" --profile fast --port 0 --database sqlite::memory: --log warn >"$work/$name.log" 2>&1 &
  echo $! >"$work/$name.pid"; pids+=("$!")
  for _ in $(seq 600); do
    addr=$(grep -o 'listening on http://[0-9.:]*' "$work/$name.log" | head -n 1 | sed 's|listening on http://||' || true)
    [ -n "$addr" ] && { echo "$addr" >"$work/$name.addr"; return 0; }
    sleep 0.1
  done
  echo "timing-cost.sh: $name did not start" >&2; cat "$work/$name.log" >&2; exit 1
}

log "callgrind: instructions per request (after a 2 s warm-up, counters zeroed)"
declare -A ir
for path in /health /api/clients; do
  for v in with without; do
    bin="$work/$v"; [ "$v" = without ] && bin="$work/without-bin"
    mkdir -p "$work/cg-$v"
    start "cg-$v" "$bin" valgrind --tool=callgrind --callgrind-out-file="$work/cg-$v/out.%p"
    pid=$(cat "$work/cg-$v.pid"); addr=$(cat "$work/cg-$v.addr")
    wrk -t1 -c10 -d2s "http://$addr$path" >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1
    wrk -t1 -c10 -d5s "http://$addr$path" >"$work/cg-$v.wrk" 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    n=$(awk '/requests in/ {print $1}' "$work/cg-$v.wrk")
    total=$(awk '/^summary:/ {print $2; exit}' "$work"/cg-"$v"/out.*.1)
    ir[$path,$v]=$((total / n))
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$work/cg-$v"
  done
done

log "wrk: both servers at once on CPU $SERVER_CPU, runs alternating"
start with "$work/with" taskset -c "$SERVER_CPU"
start without "$work/without-bin" taskset -c "$SERVER_CPU"
clk=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
: >"$work/pairs"
for path in /health /api/clients; do
  for i in $(seq "$RUNS"); do
    for v in with without; do
      pid=$(cat "$work/$v.pid"); addr=$(cat "$work/$v.addr"); t0=$(ticks "$pid")
      taskset -c "$TOOL_CPU" wrk -t1 -c50 -d"${DURATION}s" --timeout 10s "http://$addr$path" >"$work/wrk.out" 2>&1
      t1=$(ticks "$pid")
      n=$(awk '/requests in/ {print $1}' "$work/wrk.out"); rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.out")
      echo "$path $i $v $rps $(awk -v a="$t0" -v b="$t1" -v hz="$clk" -v n="$n" 'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')" >>"$work/pairs"
    done
  done
done

echo
echo "mock-api as it is / $other ($(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-14s %22s %10s %28s %24s\n' route "instructions/request" ratio "requests/s ratio (pairs)" "CPU us/request ratio"
for path in /health /api/clients; do
  python3 - "$work/pairs" "$path" "${ir[$path,with]}" "${ir[$path,without]}" <<'EOF'
import statistics, sys
pairs, path, ir_with, ir_without = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs = {}
for line in open(pairs):
    p, i, v, rps, cpu = line.split()
    if p == path:
        runs.setdefault(i, {})[v] = (float(rps), float(cpu))
rps = statistics.median(r["with"][0] / r["without"][0] for r in runs.values())
cpu = statistics.median(r["with"][1] / r["without"][1] for r in runs.values())
slower = sum(r["with"][0] < r["without"][0] for r in runs.values())
print(f"{path:<14} {ir_with:>10} / {ir_without:<9} {ir_with / ir_without:>10.3f} "
      f"{rps:>14.3f} ({slower}/{len(runs)} slower) {cpu:>20.3f}")
EOF
done
