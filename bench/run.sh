#!/usr/bin/env bash
# Throughput bench: stampede against wrk, oha and Locust (FastHttpUser and
# HttpUser) on a plain GET to nginx, and stampede's shop scenario against its
# plain GET, all on loopback.
#
#   bench/run.sh                       # one round, 20 s per tool, 50 connections
#   DURATION=10 CONNS=100 ROUNDS=2 bench/run.sh
#   TOOLS="wrk stampede locust-fast" DURATION=10 bench/run.sh   # a quick subset
#
# The target runs on core TARGET_CPU (0), each generator in turn on core
# GEN_CPU (1), so every generator gets one core and the same target. Each
# round runs wrk, oha, stampede (plain GET), stampede (shop scenario), Locust
# FastHttpUser and Locust HttpUser (bench/locustfile.py, the same plain GET,
# one Locust process) one after the other; the order rotates from round to
# round, so a slow spell of this shared machine does not always hit the same
# tool. Compare the ratios within a round, not absolute numbers across runs.
#
# Results: a markdown table on stdout, raw outputs in bench/out/run-*/, and
# the table spliced into docs/BENCHMARKS.md (section "throughput").
# Env: DURATION (s, 20), CONNS (50), ROUNDS (1), TOOLS (the generators, out
# of "wrk oha stampede stampede-shop locust-fast locust-http", all by
# default), SKIP_BUILD=1 (use the existing target/release/stampede), DOC
# (docs/BENCHMARKS.md; DOC=/dev/null to leave it alone).
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-1}
ALL_TOOLS="wrk oha stampede stampede-shop locust-fast locust-http"
read -r -a TOOLS <<<"${TOOLS:-$ALL_TOOLS}"
[[ ${#TOOLS[@]} -gt 0 ]] || die "TOOLS is empty"
for tool in "${TOOLS[@]}"; do
    [[ " $ALL_TOOLS " == *" $tool "* ]] || die "unknown tool $tool (TOOLS: $ALL_TOOLS)"
done
# uses TOOL: whether TOOL is one of this run's generators.
uses() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }
# A generator that has not exited this long after its duration is killed.
LIMIT=$((DURATION + 30))

# use_target TOOL: points measure() at the target TOOL loads.
use_target() {
    if [[ $1 == stampede-shop ]]; then
        TARGET_PIDS=("${SHOP_PIDS[@]}")
        SERVED_CMD=(shop_served)
    else
        TARGET_PIDS=("${NGINX_PIDS[@]}")
        SERVED_CMD=(nginx_served)
    fi
}

# run_tool ROUND TOOL: one measured run, parsed into results.jsonl.
run_tool() {
    local round=$1 tool=$2 name="r$1-$2"
    tool_cmd "$tool" "$RUN_DIR/$name"
    use_target "$tool"
    measure "$name" "$LIMIT" "${CMD[@]}"
    python3 "$BENCH_DIR/report.py" parse "$tool" "$RUN_DIR" "$name" "$round" >>"$RUN_DIR/results.jsonl"
    tail -n1 "$RUN_DIR/results.jsonl" >&2
    sleep 2 # let TIME_WAIT sockets and the target settle between runs
}

# 1. Tools and the stampede binary.
require_tools nginx curl python3 taskset pgrep
for tool in wrk oha; do
    if uses "$tool"; then require_tools "$tool"; fi
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found: run bench/setup.sh first"
if uses locust-fast || uses locust-http; then
    [[ -x $LOCUST ]] || die "$LOCUST not found: run bench/setup.sh first"
fi
build_stampede

RUN_DIR=$OUT_DIR/run-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
log "outputs in $RUN_DIR"

# 2. Targets on core TARGET_CPU, both up for the whole run (the idle one uses
#    no CPU): nginx for the plain GET, the shop for the shop scenario.
TARGET_LIFETIME=$((ROUNDS * ${#TOOLS[@]} * (LIMIT + 5) + 60))
start_nginx "$TARGET_LIFETIME"
NGINX_PIDS=("${TARGET_PIDS[@]}")
if uses stampede-shop; then
    start_shop "$TARGET_LIFETIME"
    SHOP_PIDS=("${TARGET_PIDS[@]}")
fi

# 3. The runs, ROUNDS times, rotating the order of the tools.
for ((round = 1; round <= ROUNDS; round++)); do
    for ((i = 0; i < ${#TOOLS[@]}; i++)); do
        run_tool "$round" "${TOOLS[$(((i + round - 1) % ${#TOOLS[@]}))]}"
    done
done
cleanup

# 4. The report: machine, commands, the table and the ratios.
{
    echo "Run of \`bench/run.sh\` (DURATION=$DURATION CONNS=$CONNS ROUNDS=$ROUNDS):"
    echo
    machine_md
    echo "- target: nginx (bench/nginx.conf, 1 worker) on core $TARGET_CPU for the plain GET;" \
        "\`stampede shop\` on core $TARGET_CPU for the shop scenario; each generator alone on core $GEN_CPU;" \
        "targets and generators at nice $NICE (the machine is shared with other builds)"
    echo
    echo "Commands (each run as \`nice -n $NICE taskset -c $GEN_CPU /usr/bin/time -f '%U %S %M %e %x' timeout $LIMIT CMD\`):"
    echo
    echo '```'
    for tool in "${TOOLS[@]}"; do
        tool_cmd "$tool"
        printf '%s\n' "${CMD[*]}" | sed -e "s#$REPO_DIR/##g" -e "s#${SHOP_URL:-SHOP_URL}#http://127.0.0.1:SHOP_PORT#g"
    done
    echo '```'
    echo
    python3 "$BENCH_DIR/report.py" throughput "$RUN_DIR/results.jsonl"
} >"$RUN_DIR/report.md"
cat "$RUN_DIR/report.md"
splice_doc throughput "$RUN_DIR/report.md"
log "report in $RUN_DIR/report.md and $DOC"
