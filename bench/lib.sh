# shellcheck shell=bash
# Shared helpers for bench/run.sh, bench/idle-memory.sh and bench/profile.sh
# (sourced, not run): paths, logging, building stampede, the targets (nginx,
# the shop), the generators' command lines, measured runs, and splicing
# results into docs/BENCHMARKS.md.
#
# Everything here talks to loopback addresses only, and every process it
# starts is bounded by `timeout` and stopped by the EXIT trap (cleanup).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
DOC=${DOC:-$REPO_DIR/docs/BENCHMARKS.md}
# cargo builds into CARGO_TARGET_DIR when set (a worktree sharing a target dir).
STAMPEDE=${STAMPEDE:-${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/stampede}
# Locust, installed by bench/setup.sh in a venv (bench/.venv).
LOCUST=${LOCUST:-$BENCH_DIR/.venv/bin/locust}
# The target runs on TARGET_CPU, the load generator on GEN_CPU.
TARGET_CPU=${TARGET_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
# The machine is shared: other sessions' builds compete for both cores. The
# bench's own processes (targets and generators) run at this niceness so
# that they get most of their core while a build runs (-10 when root: about
# 9 parts in 10 of a contended core; 0 otherwise, as nobody else may lower it).
if [[ -z ${NICE:-} ]]; then
    if [[ $(id -u) == 0 ]]; then NICE=-10; else NICE=0; fi
fi
# Command prefixes: run a program on the target's / the generator's core at
# the bench's niceness. Arrays, not functions, so that `"${ON_GEN[@]}" cmd &`
# stays one process chain (nice and taskset exec) and $! is cmd's pid.
ON_TARGET=(nice -n "$NICE" taskset -c "$TARGET_CPU")
ON_GEN=(nice -n "$NICE" taskset -c "$GEN_CPU")
# nginx.conf listens here (a fixed port is fine for the bench).
NGINX_URL=http://127.0.0.1:18080
CLK_TCK=$(getconf CLK_TCK)
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# require_tools CMD...: fails early, pointing at setup.sh, when a tool is missing.
require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "$t not found: run bench/setup.sh first"
    done
}

# --- background processes -------------------------------------------------

# Pids (of the `timeout` wrappers) of everything started in the background;
# cleanup stops them, timeout passes the signal on to its child.
BG_PIDS=()
cleanup() {
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BG_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# forget_bg PID: drops PID (waited for already) from what cleanup stops.
forget_bg() {
    local keep=() p
    for p in "${BG_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
}

# child_pid PID: the (first) child of PID, e.g. the program under `timeout`.
child_pid() {
    local _ child
    for _ in $(seq 50); do
        child=$(pgrep -P "$1" | head -n1 || true)
        [[ -n $child ]] && { echo "$child"; return 0; }
        sleep 0.1
    done
    return 1
}

# wait_http URL SECONDS: waits until URL answers.
wait_http() {
    local _
    for _ in $(seq $(($2 * 10))); do
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# --- stampede ---------------------------------------------------------------

# build_stampede: `cargo build --release -p stampede` (a no-op when up to
# date). SKIP_BUILD=1 uses the existing binary as is. Others edit the crates
# concurrently: when the build fails but a binary exists, warn and use it.
build_stampede() {
    if [[ ${SKIP_BUILD:-0} == 1 ]]; then
        [[ -x $STAMPEDE ]] || die "SKIP_BUILD=1 but $STAMPEDE does not exist"
        return 0
    fi
    log "cargo build --release -p stampede"
    if ! (cd "$REPO_DIR" && cargo build --release -p stampede) >&2; then
        [[ -x $STAMPEDE ]] || die "the release build failed"
        log "warning: the release build failed; using the existing $STAMPEDE"
    fi
}

# stampede_ident: version and source revision of the binary, for the report.
stampede_ident() {
    local rev
    rev=$(git -C "$REPO_DIR" describe --always --dirty 2>/dev/null || echo unknown)
    printf '%s (tree %s, binary built %s)' "$("$STAMPEDE" --version)" "$rev" \
        "$(date -r "$STAMPEDE" '+%Y-%m-%d %H:%M')"
}

# --- targets ----------------------------------------------------------------

# Pids whose CPU time counts as "the target's" (target_ticks), and a command
# that prints how many requests the target has served so far (served_count).
TARGET_PIDS=()
SERVED_CMD=()

# start_nginx SECONDS: starts nginx (bench/nginx.conf) on TARGET_CPU for at
# most SECONDS, with its pid file, error log and temp dirs in $OUT_DIR/nginx.
start_nginx() {
    local prefix=$OUT_DIR/nginx master
    mkdir -p "$prefix/tmp"
    : >"$prefix/error.log"
    if curl -fsS -o /dev/null --max-time 1 "$NGINX_URL/" 2>/dev/null; then
        die "something already listens on $NGINX_URL (a leftover nginx?)"
    fi
    "${ON_TARGET[@]}" timeout "$1" \
        nginx -p "$prefix/" -e error.log -c "$BENCH_DIR/nginx.conf" &
    BG_PIDS+=($!)
    # shellcheck disable=SC2034 # for the scripts that source this file
    NGINX_BG=$!
    wait_http "$NGINX_URL/" 10 || die "nginx did not start: $(cat "$prefix/error.log")"
    master=$(cat "$prefix/nginx.pid")
    mapfile -t TARGET_PIDS < <(pgrep -P "$master")
    SERVED_CMD=(nginx_served)
    log "nginx on $NGINX_URL (master $master, worker ${TARGET_PIDS[*]}, core $TARGET_CPU)"
}

# nginx_served: requests served so far, from stub_status (minus this request).
nginx_served() {
    curl -fsS --max-time 2 "$NGINX_URL/nginx_status" | awk 'NR == 3 { print $3 - 1 }'
}

# start_shop SECONDS [SHOP ARGS...]: starts `stampede shop` on TARGET_CPU on a
# free port (with e.g. --latency 20ms) and sets SHOP_URL.
start_shop() {
    local out=$OUT_DIR/shop.out _ seconds=$1
    shift
    : >"$out"
    "${ON_TARGET[@]}" timeout "$seconds" "$STAMPEDE" shop --listen 127.0.0.1:0 "$@" >"$out" 2>"$OUT_DIR/shop.err" &
    BG_PIDS+=($!)
    SHOP_BG=$!
    SHOP_URL=
    for _ in $(seq 100); do
        SHOP_URL=$(sed -n 's/^shop listening on //p' "$out")
        [[ -n $SHOP_URL ]] && break
        sleep 0.1
    done
    [[ -n $SHOP_URL ]] || die "the shop did not start: $(cat "$OUT_DIR/shop.err")"
    TARGET_PIDS=("$(child_pid "$SHOP_BG")")
    SERVED_CMD=(shop_served)
    log "shop on $SHOP_URL (pid ${TARGET_PIDS[*]}, core $TARGET_CPU)"
}

# shop_served: requests served so far, from the shop's /_stats.
shop_served() {
    curl -fsS --max-time 2 "$SHOP_URL/_stats" | python3 -c 'import json, sys; print(json.load(sys.stdin)["served"])'
}

# target_ticks: CPU time (clock ticks, user+sys) used so far by TARGET_PIDS.
target_ticks() {
    local pid total=0
    for pid in "${TARGET_PIDS[@]}"; do
        # Fields 14 and 15 of /proc/PID/stat: utime and stime.
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}

# --- measured runs ----------------------------------------------------------

# measure NAME SECONDS CMD...: runs CMD on GEN_CPU, killed after SECONDS,
# under GNU time. Leaves in $RUN_DIR:
#   NAME.out / NAME.err  the command's stdout and stderr
#   NAME.time            "user_s sys_s maxrss_kB elapsed_s exit_status"
#   NAME.target          "target_cpu_s served_requests" during the run
measure() {
    local name=$1 limit=$2 t0 t1 s0 s1
    shift 2
    log "run $name: $*"
    s0=$("${SERVED_CMD[@]}")
    t0=$(target_ticks)
    # time wraps timeout so the generator's CPU and RSS are counted even when
    # it has to be killed; the rusage of timeout itself is negligible.
    "${ON_GEN[@]}" /usr/bin/time -f '%U %S %M %e %x' -o "$RUN_DIR/$name.time" \
        timeout -k 5 "$limit" "$@" >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" || true
    t1=$(target_ticks)
    s1=$("${SERVED_CMD[@]}")
    echo "$(awk -v t=$((t1 - t0)) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }') $((s1 - s0))" \
        >"$RUN_DIR/$name.target"
}

# --- the generators ---------------------------------------------------------

# Every generator runs DURATION seconds with CONNS connections (virtual users).
DURATION=${DURATION:-20}
CONNS=${CONNS:-50}

# tool_cmd TOOL [CSV_PREFIX]: sets CMD to the command line of one generator
# run (stampede-shop needs SHOP_URL, from start_shop). Locust writes its
# stats to CSV_PREFIX_stats.csv (and a few more CSV_PREFIX_*.csv files).
# Locust runs as one process (one Python thread, gevent for the users), all
# users spawned in the first second (-r CONNS); FastGetter and HttpGetter
# are the classes of bench/locustfile.py.
tool_cmd() {
    local csv=${2:-PREFIX}
    case $1 in
    wrk) CMD=(wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$NGINX_URL/") ;;
    oha) CMD=(oha -z "${DURATION}s" -c "$CONNS" --no-tui --output-format json "$NGINX_URL/") ;;
    stampede) CMD=("$STAMPEDE" run -f "$BENCH_DIR/plain-get.yaml" --host "$NGINX_URL"
        -u "$CONNS" -r 10000 -t "${DURATION}s" --headless --only-summary) ;;
    stampede-shop) CMD=("$STAMPEDE" run -f "$BENCH_DIR/shop-nowait.yaml" --host "$SHOP_URL"
        -u "$CONNS" -r 10000 -t "${DURATION}s" --headless --only-summary) ;;
    locust-fast | locust-http)
        CMD=("$LOCUST" -f "$BENCH_DIR/locustfile.py" --host "$NGINX_URL" -u "$CONNS" -r "$CONNS"
            -t "${DURATION}s" --headless --only-summary --csv "$csv")
        if [[ $1 == locust-fast ]]; then CMD+=(FastGetter); else CMD+=(HttpGetter); fi
        ;;
    *) die "unknown tool $1" ;;
    esac
}

# --- the report -------------------------------------------------------------

# locust_ident: Locust's and its Python's versions, for the report.
locust_ident() {
    "$LOCUST" --version 2>/dev/null | sed -n 's/^locust \([^ ]*\) from .*(Python \([^)]*\)).*/Locust \1 (Python \2)/p' | grep . ||
        echo "Locust missing"
}

# machine_md: the machine, as markdown bullet points.
machine_md() {
    cat <<EOF
- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)
- stampede: $(stampede_ident)
- tools: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }'), $(oha --version 2>/dev/null || echo "oha missing"), $(locust_ident)
EOF
}

# splice_doc SECTION FILE: puts FILE's content into docs/BENCHMARKS.md between
# the markers <!-- bench:SECTION:begin --> and <!-- bench:SECTION:end -->
# (appended at the end when the markers are not there yet). The text around
# the markers, the hand-written reading of the numbers, is kept.
splice_doc() {
    python3 "$BENCH_DIR/report.py" splice "$DOC" "$1" "$2"
}

# --- the scripts of issue #9 (accuracy.sh, many-users.sh, rss-flat.sh) -----

# run_headless_bg SCENARIO ARGS...: `stampede run -f SCENARIO --headless` on
# the generator's core against SHOP_URL for DURATION s (bounded), JSON report
# in RUN_DIR/report.json; sets RUN_BG (the timeout wrapper) and RUN_PID.
run_headless_bg() {
    local scenario=$1
    shift
    "${ON_GEN[@]}" timeout -k 5 $((DURATION + 60)) "$STAMPEDE" run -f "$scenario" \
        --host "$SHOP_URL" -t "${DURATION}s" --headless --only-summary \
        --json "$RUN_DIR/report.json" "$@" >"$RUN_DIR/run.out" 2>"$RUN_DIR/run.err" &
    RUN_BG=$!
    BG_PIDS+=("$RUN_BG")
    # shellcheck disable=SC2034 # for the scripts that source this file
    RUN_PID=$(child_pid "$RUN_BG") || die "stampede did not start"
}

# publish SECTION TITLE: RUN_DIR/report.md under TITLE and the machine, printed
# and spliced into docs/BENCHMARKS.md as SECTION.
publish() {
    {
        echo "$2"
        echo
        machine_md
        echo
        cat "$RUN_DIR/report.md"
    } >"$RUN_DIR/section.md"
    cat "$RUN_DIR/section.md"
    splice_doc "$1" "$RUN_DIR/section.md"
}
