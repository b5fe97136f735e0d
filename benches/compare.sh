#!/usr/bin/env bash
# Side-by-side comparisons on one machine, printed as ONE table of ratios:
#   1. throughput: loadgen (zero-wait users) vs wrk vs oha against mock-api's `fast` profile,
#      same connections and duration, each tool pinned to one core and the server to the
#      other; CPU time per request of each tool;
#   1b. acis: loadgen's CPU per request with the ACIS scenario (scenarios/acis.toml with its
#      waits removed: templates drawn per request, JSON bodies, three user classes) beside
#      the one-route scenario, against the same `fast` server, runs alternating;
#   2. overhead: mock-api `fast` vs a bare axum server (benches/src/baseline.rs) answering
#      the same bytes on /health and /api/clients, under the same wrk load;
#   3. delay precision: mock-api's own delay-error histogram (actual server time minus the
#      sampled latency, GET /admin/stats) with 1,000 and 10,000 requests in flight;
#   4. measurement fidelity: loadgen's and wrk's p50/p99 against a fixed 10 ms profile at
#      about 1,000 requests/s;
#   5. scale: 10,000 loadgen users, each with its own connection, against a 1 s profile for
#      a minute (SCALE_USERS, SCALE_SECS): failures, peak RSS of both and bytes per user;
#   6. https: loadgen vs oha over HTTPS against the same loopback TLS server (the bare
#      baseline with a certificate made at start), requests/s and CPU per request; then
#      10,000 loadgen users over HTTPS and over plain HTTP (TLS_USERS, TLS_SECS): bytes
#      per user, and what TLS adds to them.
# Builds the release binaries first and installs wrk (Debian) and oha (cargo) if missing.
# Every run is bounded: DURATION seconds each, RUNS repetitions (medians are printed).
#
#   benches/compare.sh                         # defaults below
#   DURATION=5 RUNS=1 benches/compare.sh       # a quick look
#   SECTIONS=https NO_OHA=1 benches/compare.sh  # without oha (not installed, not built)
#   SECTIONS="precision scale" benches/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}      # seconds per run
RUNS=${RUNS:-3}               # repetitions of each throughput run (the median is printed)
CONNS=${CONNS:-50}            # connections (= loadgen users) of the throughput runs
SERVER_CPU=${SERVER_CPU:-0}   # the core the server is pinned to
TOOL_CPU=${TOOL_CPU:-1}       # the core the load tool is pinned to
SECTIONS=${SECTIONS:-throughput acis overhead precision fidelity scale https}
BIN=${CARGO_TARGET_DIR:-target}/release
work=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX")
server_pid=""

log() { printf '==> %s\n' "$*" >&2; }
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- tools -------------------------------------------------------------------------------
log "building release binaries (mock-api, loadgen, baseline)"
cargo build --release --locked -q -p mock-api -p loadgen -p benches --bins
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
# NO_OHA=1 leaves oha out (its rows read n/a) where it is not installed and cannot be built.
if [ "${NO_OHA:-0}" != 1 ] && ! command -v oha >/dev/null; then
  log "installing oha (cargo install, a few minutes)"
  cargo install oha --locked -q
fi
for t in taskset python3 curl /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "compare.sh: $t is required" >&2; exit 2; }
done
# 10,000 connections need 10,000 descriptors in wrk and in the server (mock-api raises
# its own soft limit; the tools inherit this shell's).
ulimit -n "$(ulimit -Hn)"

# --- helpers -----------------------------------------------------------------------------
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)

# start_server NAME CMD...: runs CMD on SERVER_CPU, waits for its "listening on" line.
start_server() {
  local name=$1; shift
  taskset -c "$SERVER_CPU" "$@" >"$work/$name.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    addr=$(grep -o 'listening on https\?://[0-9.:]*' "$work/$name.log" | head -n 1 | sed 's|listening on https\?://||' || true)
    if [ -n "$addr" ]; then return 0; fi
    sleep 0.1
  done
  echo "compare.sh: $name did not start:" >&2; cat "$work/$name.log" >&2; exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
mock() { start_server mock-api "$BIN/mock-api" --port 0 --database sqlite::memory: --log warn "$@"; }

# timed NAME CMD...: runs CMD on TOOL_CPU under /usr/bin/time; its CPU seconds go to
# $work/NAME.cpu and its output to $work/NAME.out.
timed() {
  local name=$1; shift
  /usr/bin/time -f '%U %S' -o "$work/$name.time" taskset -c "$TOOL_CPU" "$@" >"$work/$name.out" 2>&1 || true
  awk '{print $1 + $2}' "$work/$name.time" | tail -n 1 >"$work/$name.cpu"
}

# wrk's latency lines ("50%  10.12ms") in ms.
wrk_ms() { awk -v p="$1" '$1 == p {v=$2; u=v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v);
  f = (u == "us") ? 0.001 : (u == "s") ? 1000 : 1; printf "%.3f", v * f}' "$2"; }
wrk_requests() { awk '/requests in/ {print $1}' "$1"; }
wrk_rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }

run_wrk() { # NAME CONNS URL
  timed "$1" wrk -t1 -c"$2" -d"${DURATION}s" --timeout 10s --latency "$3"
}
run_oha() { # NAME CONNS URL [OHA FLAGS...]
  timed "$1" oha -z "${DURATION}s" -c "$2" --no-tui --output-format json "${@:4}" "$3"
  # The JSON is the whole output when oha succeeds.
  cp "$work/$1.out" "$work/$1.json"
}
run_loadgen() { # NAME USERS HOST SCENARIO [LOADGEN FLAGS...]
  timed "$1" "$BIN/loadgen" -f "$4" -H "$3" -u "$2" -r "$2" -t "${DURATION}s" \
    --headless --only-summary --json "$work/$1.json" "${@:5}"
}
cpu_per_request_us() { awk -v c="$(cat "$work/$1.cpu")" -v n="$2" 'BEGIN {if (n > 0) printf "%.1f", c * 1e6 / n; else print "n/a"}'; }

want() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
rows=()
row() { rows+=("$(printf '%-58s %12s %12s %6s' "$1" "$2" "$3" "$4")"); }
verdict() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN {
  if (v == "n/a" || v == "") {print "?"; exit}
  ok = (op == ">=") ? (v >= g) : (v <= g); print ok ? "ok" : "MISS"}'; }

# --- 1. throughput ------------------------------------------------------------------------
if want throughput; then
log "throughput: $CONNS connections, ${DURATION}s, $RUNS runs of each tool"
mock --profile fast
url="http://$addr"
lg_rps=(); wrk_rps_all=(); oha_rps_all=(); lg_cpu=(); wrk_cpu=(); oha_cpu=()
for i in $(seq "$RUNS"); do
  run_loadgen "lg$i" "$CONNS" "$url" benches/health.toml
  n=$(json "$work/lg$i.json" "d['aggregated']['num_requests']")
  lg_rps+=("$(json "$work/lg$i.json" "d['aggregated']['total_rps']")")
  lg_cpu+=("$(cpu_per_request_us "lg$i" "$n")")
  run_wrk "wrk$i" "$CONNS" "$url/health"
  wrk_rps_all+=("$(wrk_rps "$work/wrk$i.out")")
  wrk_cpu+=("$(cpu_per_request_us "wrk$i" "$(wrk_requests "$work/wrk$i.out")")")
  run_oha "oha$i" "$CONNS" "$url/health"
  o_rps=$(json "$work/oha$i.json" "d['summary']['requestsPerSec']" 2>/dev/null || echo 0)
  oha_rps_all+=("$o_rps")
  oha_cpu+=("$(cpu_per_request_us "oha$i" "$(awk -v r="$o_rps" -v d="$DURATION" 'BEGIN {printf "%d", r * d}')")")
done
stop_server
m_lg=$(median "${lg_rps[@]}"); m_wrk=$(median "${wrk_rps_all[@]}"); m_oha=$(median "${oha_rps_all[@]}")
r=$(ratio "$m_lg" "$m_wrk"); row "loadgen / wrk requests/s (fast, /health)" "$r" ">= 0.7" "$(verdict "$r" 0.7 '>=')"
r=$(ratio "$m_lg" "$m_oha"); row "loadgen / oha requests/s (fast, /health)" "$r" ">= 1.0" "$(verdict "$r" 1.0 '>=')"
row "  requests/s: loadgen | wrk | oha" "$(printf '%.0f|%.0f' "$m_lg" "$m_wrk")" "$(printf '%.0f' "$m_oha")" ""
row "  CPU us per request: loadgen | wrk (tool's own core)" "$(median "${lg_cpu[@]}")" "$(median "${wrk_cpu[@]}")" ""
row "  CPU us per request: oha" "$(median "${oha_cpu[@]}")" "" ""
fi

# --- 1b. loadgen with the ACIS scenario ----------------------------------------------------
# The same users and duration as the throughput runs, against the same `fast` server; the
# two scenarios alternate so each pair sees the same load from other programs. What
# differs is loadgen's work per request: a task drawn by weight among three classes,
# templates in paths and bodies drawn per request, JSON bodies encoded, one statistics row
# per request name. The server's speed differs too (the ACIS routes read and write the
# database), which changes loadgen's rate but not its CPU per request much.
if want acis; then
log "acis: loadgen, $CONNS users, ACIS scenario without waits vs one route, $RUNS runs each"
sed '/^wait = /d' scenarios/acis.toml >"$work/acis.toml"
mock --profile fast
url="http://$addr"
one_cpu=(); acis_cpu=(); acis_rps=(); acis_ratio=()
for i in $(seq "$RUNS"); do
  run_loadgen "lgo$i" "$CONNS" "$url" benches/health.toml
  one_cpu+=("$(cpu_per_request_us "lgo$i" "$(json "$work/lgo$i.json" "d['aggregated']['num_requests']")")")
  run_loadgen "lga$i" "$CONNS" "$url" "$work/acis.toml"
  acis_cpu+=("$(cpu_per_request_us "lga$i" "$(json "$work/lga$i.json" "d['aggregated']['num_requests']")")")
  acis_rps+=("$(json "$work/lga$i.json" "d['aggregated']['total_rps']")")
  acis_ratio+=("$(ratio "${acis_cpu[-1]}" "${one_cpu[-1]}")")
done
stop_server
row "loadgen CPU us per request: ACIS scenario | one route" "$(median "${acis_cpu[@]}")" "$(median "${one_cpu[@]}")" ""
row "  ACIS / one route (median of pairs) | ACIS requests/s" "$(median "${acis_ratio[@]}")" "$(median "${acis_rps[@]}" | xargs printf '%.0f')" ""
fi

# --- 2. mock-api overhead vs a bare axum server --------------------------------------------
# Both servers run at once (on SERVER_CPU) and the wrk runs alternate between them, so each
# pair of runs sees the same load from the machine's other programs; the printed ratio is
# the median of the pairs' ratios, and CPU time per request the median of the runs'.
if want overhead; then
log "overhead: mock-api fast vs bare axum, wrk $CONNS connections, runs alternating"
mock --profile fast
mock_pid=$server_pid; mock_addr=$addr
trap 'kill "$mock_pid" 2>/dev/null || true; cleanup' EXIT
curl -s "http://$mock_addr/health" >"$work/health.json"
curl -s "http://$mock_addr/api/clients" >"$work/clients.json"
start_server baseline "$BIN/baseline" --health "$work/health.json" --clients "$work/clients.json"
base_pid=$server_pid; base_addr=$addr
# cpu_us PID URL NAME: runs wrk as NAME against URL; prints PID's CPU us per request.
cpu_us() {
  local t0; t0=$(cpu_ticks "$1")
  run_wrk "$3" "$CONNS" "$2"
  awk -v t0="$t0" -v t1="$(cpu_ticks "$1")" -v hz="$clk" -v n="$(wrk_requests "$work/$3.out")" \
    'BEGIN {if (n > 0) printf "%.1f", (t1 - t0) * 1e6 / hz / n; else print "n/a"}'
}
for path in /health /api/clients; do
  rs=(); mr=(); br=(); mc=(); bc=(); load=$(cut -d' ' -f1 /proc/loadavg)
  for i in $(seq "$RUNS"); do
    mc+=("$(cpu_us "$mock_pid" "http://$mock_addr$path" "m$i")"); mr+=("$(wrk_rps "$work/m$i.out")")
    bc+=("$(cpu_us "$base_pid" "http://$base_addr$path" "b$i")"); br+=("$(wrk_rps "$work/b$i.out")")
    rs+=("$(ratio "${mr[-1]}" "${br[-1]}")")
  done
  r=$(median "${rs[@]}")
  row "mock-api fast / bare axum requests/s ($path)" "$r" ">= 0.8" "$(verdict "$r" 0.8 '>=')"
  row "  requests/s: mock-api | axum" "$(median "${mr[@]}" | xargs printf '%.0f')" "$(median "${br[@]}" | xargs printf '%.0f')" ""
  row "  server CPU us per request: mock-api | axum" "$(median "${mc[@]}")" "$(median "${bc[@]}")" ""
  row "  CPU per request mock-api / axum | load average" "$(ratio "$(median "${mc[@]}")" "$(median "${bc[@]}")")" "$load" ""
done
stop_server
kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true
trap cleanup EXIT
fi

# --- 3. delay precision -------------------------------------------------------------------
if want precision; then
# The route is GET /api/ml/predict: pure computation, no database, so the delay error
# measures the timer and the runtime (/health would add a SQLite round trip per request).
# In flight = wrk's connections (a closed loop: each connection sends its next request
# when the last is answered, so the deadlines come in synchronised storms), or arrival
# rate x delay with loadgen's open model (--arrival-rate: requests start on a schedule,
# which spreads the deadlines). The time scale stretches 10 ms so that the rate stays at
# 10,000 requests/s (1,000 in flight at 100 ms, 10,000 at 1 s).
# PRECISION_CPUS: the server's cores in this section (default SERVER_CPU; "0-1" gives it
# both, shared with the tool, since the goal is per machine).
PRECISION_CPUS=${PRECISION_CPUS:-$SERVER_CPU}
# PRECISION_RT=N (root only): the server's threads run SCHED_FIFO at priority N, ahead of
# every other program on their core; an experiment that separates the time a response
# waits for a turn on the core from the time the server spends, not a default.
PRECISION_RT=${PRECISION_RT:-}
predict="/api/ml/predict?ticker=AAPL"
# runq PID: per thread "name wait_ns timeslices" from the scheduler's statistics
# (schedstat: time spent runnable but waiting on a run queue, and times run).
runq() { for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm") $(cut -d' ' -f2,3 "$t/schedstat")"; done; }
# runq_us BEFORE AFTER NAME: mean run-queue wait per time slice of NAME's threads, us.
runq_us() { paste -d' ' "$1" "$2" | awk -v n="$3" '$1 == n {w += $5 - $2; k += $6 - $3}
  END {if (k > 0) printf "%.0f", w / k / 1000; else print "n/a"}'; }
precision() { # LABEL IN_FLIGHT TIME_SCALE GOAL_US TOOL (wrk | open)
  local SERVER_CPU=$PRECISION_CPUS
  mock --profile benches/fixed-10ms.toml --time-scale "$3"
  if [ -n "$PRECISION_RT" ]; then chrt -f -a -p "$PRECISION_RT" "$server_pid" >/dev/null; fi
  ( sleep 3; curl -s -X POST "http://$addr/admin/stats/reset" >/dev/null; runq "$server_pid" >"$work/q0" ) &
  local resetter=$! t0 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(cpu_ticks "$server_pid")
  if [ "$5" = open ]; then
    # Rate = in flight / delay; a fifth more users than in flight absorb the jitter.
    local delay_s rate
    delay_s=$(awk -v s="$3" 'BEGIN {print 0.01 * s}')
    rate=$(awk -v n="$2" -v d="$delay_s" 'BEGIN {printf "%d", n / d}')
    taskset -c "$TOOL_CPU" "$BIN/loadgen" -f benches/predict.toml -H "http://$addr" \
      --arrival-rate "$rate" --max-users "$(($2 * 6 / 5))" -t "$((DURATION + 3))s" \
      --headless --only-summary >"$work/p.out" 2>&1 || true
  else
    taskset -c "$TOOL_CPU" wrk -t1 -c"$2" -d"$((DURATION + 3))s" --timeout 10s "http://$addr$predict" >"$work/p.out" 2>&1 || true
  fi
  wait "$resetter" || true
  curl -s "http://$addr/admin/stats" >"$work/p.json"
  runq "$server_pid" >"$work/q1"
  local busy
  busy=$(awk -v t0="$t0" -v t1="$(cpu_ticks "$server_pid")" -v hz="$clk" -v d="$((DURATION + 3))" \
    'BEGIN {printf "%.0f%%", (t1 - t0) * 100 / hz / d}')
  stop_server
  local p50 p99 n
  p50=$(json "$work/p.json" "d['delay_error_us']['p50']")
  p99=$(json "$work/p.json" "d['delay_error_us']['p99']")
  n=$(json "$work/p.json" "d['delay_error_us']['count']")
  row "delay error p99 us, $1" "$p99" "<= $4" "$(verdict "$p99" "$4" '<=')"
  row "  p50 us | responses measured" "$p50" "$n" ""
  row "  server CPU (share of one core) | load average" "$busy" "$load" ""
  # Each response needs the timer thread and then the worker to get the core in turn.
  row "  run-queue wait per wakeup us: timer thread | worker" \
    "$(runq_us "$work/q0" "$work/q1" precise-timer)" "$(runq_us "$work/q0" "$work/q1" tokio-rt-worker)" ""
}
log "delay precision (${DURATION}s each, server on CPU $PRECISION_CPUS${PRECISION_RT:+, SCHED_FIFO $PRECISION_RT})"
precision "1,000 in flight (100 ms, 10k req/s, wrk)" 1000 10 500 wrk
precision "1,000 in flight (100 ms, 10k req/s, open)" 1000 10 500 open
precision "10,000 in flight (1 s, 10k req/s, wrk)" 10000 100 2000 wrk
precision "10,000 in flight (1 s, 10k req/s, open)" 10000 100 2000 open
precision "1,000 in flight at 10 ms (100k req/s asked: saturated)" 1000 1 100 wrk
fi

# --- 4. measurement fidelity ----------------------------------------------------------------
if want fidelity; then
log "fidelity: 10 connections on a fixed 10 ms profile (about 1,000 requests/s)"
mock --profile benches/fixed-10ms.toml
run_loadgen fid-lg 10 "http://$addr" benches/health.toml
lg50=$(json "$work/fid-lg.json" "d['aggregated']['response_time_percentiles']['0.5']")
lg99=$(json "$work/fid-lg.json" "d['aggregated']['response_time_percentiles']['0.99']")
lgr=$(json "$work/fid-lg.json" "d['aggregated']['total_rps']")
run_wrk fid-wrk 10 "http://$addr/health"
w50=$(wrk_ms 50% "$work/fid-wrk.out"); w99=$(wrk_ms 99% "$work/fid-wrk.out")
curl -s "http://$addr/admin/stats" >"$work/fid.json"
stop_server
d50=$(awk -v a="$lg50" 'BEGIN {printf "%.2f", (a > 10 ? a - 10 : 10 - a)}')
d99=$(awk -v a="$lg99" 'BEGIN {printf "%.2f", (a > 10 ? a - 10 : 10 - a)}')
row "loadgen |p50 - 10 ms| (ms)" "$d50" "<= 0.3" "$(verdict "$d50" 0.3 '<=')"
row "loadgen |p99 - 10 ms| (ms)" "$d99" "<= 1.0" "$(verdict "$d99" 1.0 '<=')"
row "  loadgen p50 | p99 ms ($(printf '%.0f' "$lgr") req/s)" "$lg50" "$lg99" ""
row "  wrk p50 | p99 ms (same settings)" "$w50" "$w99" ""
r=$(ratio "$lg50" "$w50"); row "loadgen p50 / wrk p50" "$r" "~ 1" ""
fi

# --- 5. scale: 10,000 users, each with its own connection -----------------------------------
# A full minute by default (SCALE_SECS, at most 300): per-connection buffers that grow only
# after some dozens of requests show up late. Both processes' resident memory is sampled
# every second; the peak (VmHWM) and the last sample are reported, with bytes per user.
if want scale; then
SCALE_USERS=${SCALE_USERS:-10000}
SCALE_SECS=${SCALE_SECS:-60}
if [ "$SCALE_SECS" -gt 300 ]; then SCALE_SECS=300; fi
log "scale: $SCALE_USERS loadgen users against a 1 s profile for ${SCALE_SECS}s"
mock --profile benches/fixed-10ms.toml --time-scale 100
mock_pid=$server_pid
taskset -c "$TOOL_CPU" "$BIN/loadgen" -f benches/health.toml -H "http://$addr" -u "$SCALE_USERS" \
  -r 2000 -t "${SCALE_SECS}s" --headless --only-summary --json "$work/scale.json" >"$work/scale.out" 2>&1 &
lg_pid=$!
load_start=$(cut -d' ' -f1 /proc/loadavg)
mock_kb=0; lg_kb=0; lg_last=0; mock_last=0; curve=""
# kb_of PID FIELD: a /proc/PID/status figure in KB (0 once the process is gone).
kb_of() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
for s in $(seq 0 $((SCALE_SECS + 30))); do
  kill -0 "$lg_pid" 2>/dev/null || break
  v=$(kb_of "$lg_pid" VmHWM); [ -n "$v" ] && [ "$v" -gt "$lg_kb" ] && lg_kb=$v
  v=$(kb_of "$lg_pid" VmRSS); [ -n "$v" ] && lg_last=$v
  v=$(kb_of "$mock_pid" VmHWM); [ -n "$v" ] && [ "$v" -gt "$mock_kb" ] && mock_kb=$v
  v=$(kb_of "$mock_pid" VmRSS); [ -n "$v" ] && mock_last=$v
  if [ $((s % 10)) -eq 0 ]; then curve+=" ${s}s:$((lg_last / 1024))|$((mock_last / 1024))"; fi
  sleep 1
done
load_end=$(cut -d' ' -f1 /proc/loadavg)
wait "$lg_pid" || true
stop_server
s_n=$(json "$work/scale.json" "d['aggregated']['num_requests']")
s_f=$(json "$work/scale.json" "d['aggregated']['num_failures']")
s_r=$(json "$work/scale.json" "round(d['aggregated']['total_rps'])")
row "scale: $SCALE_USERS users ${SCALE_SECS}s, failures | requests" "$s_f" "$s_n" "$(verdict "$s_f" 0 '<=')"
row "  requests/s | load average start-end" "$s_r" "$load_start-$load_end" ""
row "  peak RSS MB: mock-api | loadgen (goal < 300 each)" "$((mock_kb / 1024))" "$((lg_kb / 1024))" \
  "$(verdict "$(( (mock_kb > lg_kb ? mock_kb : lg_kb) / 1024 ))" 300 '<=')"
row "  last RSS MB: mock-api | loadgen" "$((mock_last / 1024))" "$((lg_last / 1024))" ""
row "  peak bytes per user: mock-api | loadgen" "$((mock_kb * 1024 / SCALE_USERS))" "$((lg_kb * 1024 / SCALE_USERS))" ""
row "  RSS MB every 10 s, loadgen|mock-api:$curve" "" "" ""
fi

# --- 6. HTTPS -------------------------------------------------------------------------------
# One TLS server for both tools: the baseline over rustls (ring), answering /health at once.
# loadgen trusts its CA with --ca-cert and sends SNI for `localhost`; oha skips
# verification (--insecure), which changes only the handshake, not the cost of a request
# on a kept-alive connection. Then TLS_USERS users, each with its own connection, against
# the baseline holding every response 1 s, over HTTPS and then plain HTTP with the same
# flags: the peak RSS of each run, per user, and the difference (what TLS costs a user).
if want https; then
TLS_USERS=${TLS_USERS:-10000}
TLS_SECS=${TLS_SECS:-30}
printf '{"status":"healthy"}' >"$work/health-fixed.json"
tls_baseline() { # NAME [FLAGS...]
  local name=$1; shift
  start_server "$name" "$BIN/baseline" --health "$work/health-fixed.json" --clients "$work/health-fixed.json" "$@"
}
log "https: $CONNS connections, ${DURATION}s, $RUNS runs of each tool"
tls_baseline tls --tls-ca-out "$work/ca.pem"
url="https://localhost:${addr##*:}"
t_lg=(); t_oha=(); t_lgc=(); t_ohac=()
for i in $(seq "$RUNS"); do
  run_loadgen "tlg$i" "$CONNS" "$url" benches/health.toml --ca-cert "$work/ca.pem"
  n=$(json "$work/tlg$i.json" "d['aggregated']['num_requests']")
  f=$(json "$work/tlg$i.json" "d['aggregated']['num_failures']")
  if [ "$f" != 0 ]; then log "loadgen over HTTPS: $f of $n requests failed"; fi
  t_lg+=("$(json "$work/tlg$i.json" "d['aggregated']['total_rps']")")
  t_lgc+=("$(cpu_per_request_us "tlg$i" "$n")")
  if [ "${NO_OHA:-0}" != 1 ]; then run_oha "toha$i" "$CONNS" "$url/health" --insecure; else echo '{}' >"$work/toha$i.json"; echo 0 >"$work/toha$i.cpu"; fi
  o_rps=$(json "$work/toha$i.json" "d['summary']['requestsPerSec']" 2>/dev/null || echo 0)
  t_oha+=("$o_rps")
  t_ohac+=("$(cpu_per_request_us "toha$i" "$(awk -v r="$o_rps" -v d="$DURATION" 'BEGIN {printf "%d", r * d}')")")
done
stop_server
m_lg=$(median "${t_lg[@]}"); m_oha=$(median "${t_oha[@]}")
r=$(ratio "$m_lg" "$m_oha"); row "loadgen / oha requests/s over HTTPS (/health)" "$r" ">= 1.0" "$(verdict "$r" 1.0 '>=')"
row "  requests/s over HTTPS: loadgen | oha" "$(printf '%.0f' "$m_lg")" "$(printf '%.0f' "$m_oha")" ""
row "  CPU us per request over HTTPS: loadgen | oha" "$(median "${t_lgc[@]}")" "$(median "${t_ohac[@]}")" ""

# tls_scale NAME SCHEME [LOADGEN FLAGS...]: TLS_USERS users for TLS_SECS against a 1 s
# baseline; prints "peak_kb failures requests".
tls_scale() {
  local name=$1 scheme=$2; shift 2
  local extra=()
  if [ "$scheme" = https ]; then extra=(--tls-ca-out "$work/ca-$name.pem"); fi
  tls_baseline "$name" --delay-ms 1000 "${extra[@]}"
  taskset -c "$TOOL_CPU" "$BIN/loadgen" -f benches/health.toml -H "$scheme://$addr" -u "$TLS_USERS" \
    -r 2000 -t "${TLS_SECS}s" --headless --only-summary --json "$work/$name.json" "$@" >"$work/$name.out" 2>&1 &
  local pid=$! peak=0 v
  for _ in $(seq 0 $((TLS_SECS + 30))); do
    kill -0 "$pid" 2>/dev/null || break
    v=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    if [ -n "$v" ] && [ "$v" -gt "$peak" ]; then peak=$v; fi
    sleep 1
  done
  wait "$pid" || true
  stop_server
  echo "$peak $(json "$work/$name.json" "d['aggregated']['num_failures']") $(json "$work/$name.json" "d['aggregated']['num_requests']")"
}
log "https: $TLS_USERS users for ${TLS_SECS}s over HTTPS, then over plain HTTP"
read -r tls_kb tls_f tls_n < <(tls_scale scale-tls https --ca-cert "$work/ca-scale-tls.pem")
read -r plain_kb plain_f plain_n < <(tls_scale scale-plain http)
row "https scale: $TLS_USERS users ${TLS_SECS}s, failures | requests" "$tls_f" "$tls_n" "$(verdict "$tls_f" 0 '<=')"
row "  peak RSS MB over HTTPS | plain HTTP (goal < 300)" "$((tls_kb / 1024))" "$((plain_kb / 1024))" "$(verdict "$((tls_kb / 1024))" 300 '<=')"
row "  peak bytes per user over HTTPS | plain HTTP" "$((tls_kb * 1024 / TLS_USERS))" "$((plain_kb * 1024 / TLS_USERS))" ""
row "  bytes per user TLS adds | plain run's failures" "$(( (tls_kb - plain_kb) * 1024 / TLS_USERS ))" "$plain_f" ""
fi

# --- the table ----------------------------------------------------------------------------
echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "Runs: ${DURATION}s each, median of $RUNS for throughput; server on CPU $SERVER_CPU, tool on CPU $TOOL_CPU"
printf '%-58s %12s %12s %6s\n' "figure" "measured" "goal" ""
printf '%s\n' "${rows[@]}"
