#!/usr/bin/env bash
# bench/scripting.sh: what Luau scripting costs, side by side in one run,
# against `stampede shop` on TARGET_CPU with stampede alone on GEN_CPU:
#
# 1. requests per CPU second of a plain GET by a YAML user
#    (bench/scripting/get.yaml) and by a scripted user (get-scripted.yaml,
#    whose task calls http.get), USERS users, no wait, DURATION s each,
#    alternating for ROUNDS rounds (aim: scripted >= 0.8x YAML);
# 2. the same for the shop flow of bench/shop-nowait.yaml and its copy with a
#    script function (an HMAC-SHA256 signature) in every request
#    (bench/scripting/shop-signed.yaml);
# 3. memory per idle user: VmRSS at IDLE_USERS users minus VmRSS at 1 user,
#    divided by IDLE_USERS - 1, for YAML users idle between tasks
#    (idle.yaml), scripted users idle between tasks (idle-scripted.yaml, no
#    coroutine alive) and scripted users idle inside sleep() (idle-sleeping.yaml,
#    one suspended coroutine each) (aim: under 8 kB per idle scripted user).
#
# Requests are the shop's own count (/_stats); CPU is the generator's user +
# sys time from GNU time. Everything on loopback, every process bounded by
# `timeout`. Results: bench/out/scripting-*/ and the section "scripting" of
# docs/BENCHMARKS.md.
# Env: ROUNDS (3), DURATION (10), USERS (50), IDLE_USERS (5000), SETTLE (5),
# PARTS ("get shop idle": which of the three to run),
# SKIP_BUILD=1, DOC (DOC=/dev/null leaves docs/BENCHMARKS.md alone).
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
USERS=${USERS:-50}
IDLE_USERS=${IDLE_USERS:-5000}
SETTLE=${SETTLE:-5}
PARTS=${PARTS:-get shop idle}
S=$BENCH_DIR/scripting

require_tools curl python3 taskset pgrep
build_stampede
RUN_DIR=$OUT_DIR/scripting-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "outputs in $RUN_DIR"
start_shop $((ROUNDS * DURATION * 4 + 600))

# One measured closed-loop run of SCENARIO as NAME, appended to results.jsonl.
closed_run() {
    local name=$1 scenario=$2 round=$3
    measure "$name-r$round" $((DURATION + 30)) "$STAMPEDE" run -f "$scenario" --host "$SHOP_URL" \
        -u "$USERS" -r 10000 -t "${DURATION}s" --headless --only-summary
    read -r user sys rss _ code <"$RUN_DIR/$name-r$round.time"
    read -r _ served <"$RUN_DIR/$name-r$round.target"
    printf '{"kind": "closed", "name": "%s", "round": %s, "cpu_s": %s, "served": %s, "rss_kb": %s, "exit": %s}\n' \
        "$name" "$round" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$served" "$rss" "$code" \
        >>"$RUN_DIR/results.jsonl"
    tail -n1 "$RUN_DIR/results.jsonl" >&2
}

for round in $(seq "$ROUNDS"); do
    # Alternate the order so that neither side always runs first.
    pairs=()
    if ((round % 2)); then
        [[ " $PARTS " == *" get "* ]] && pairs+=(yaml-get scripted-get)
        [[ " $PARTS " == *" shop "* ]] && pairs+=(shop shop-signed)
    else
        [[ " $PARTS " == *" get "* ]] && pairs+=(scripted-get yaml-get)
        [[ " $PARTS " == *" shop "* ]] && pairs+=(shop-signed shop)
    fi
    for name in "${pairs[@]}"; do
        case $name in
        yaml-get) closed_run "$name" "$S/get.yaml" "$round" ;;
        scripted-get) closed_run "$name" "$S/get-scripted.yaml" "$round" ;;
        shop) closed_run "$name" "$BENCH_DIR/shop-nowait.yaml" "$round" ;;
        shop-signed) closed_run "$name" "$S/shop-signed.yaml" "$round" ;;
        esac
    done
done

# VmRSS of stampede running USERS idle users of SCENARIO, read once they are
# all started and idle.
idle_rss() {
    local scenario=$1 users=$2 ramp at bg pid rss
    ramp=$(((users + 1999) / 2000))
    at=$((ramp + SETTLE))
    "${ON_GEN[@]}" timeout -k 5 $((at + 60)) "$STAMPEDE" run -f "$scenario" --host "$SHOP_URL" \
        -u "$users" -r 2000 -t "$((at + 3))s" --headless --only-summary >/dev/null 2>"$RUN_DIR/idle.err" &
    bg=$!
    BG_PIDS+=("$bg")
    pid=$(child_pid "$bg") || die "stampede did not start"
    sleep "$at"
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    wait "$bg" || true
    forget_bg "$bg"
    echo "$rss"
}

idle_runs=()
[[ " $PARTS " == *" idle "* ]] && idle_runs=(idle idle-scripted idle-sleeping)
for name in "${idle_runs[@]}"; do
    one=$(MIMALLOC_PURGE_DELAY=0 idle_rss "$S/$name.yaml" 1)
    many=$(MIMALLOC_PURGE_DELAY=0 idle_rss "$S/$name.yaml" "$IDLE_USERS")
    printf '{"kind": "idle", "name": "%s", "users": %s, "rss1_kb": %s, "rssn_kb": %s}\n' \
        "$name" "$IDLE_USERS" "$one" "$many" >>"$RUN_DIR/results.jsonl"
    tail -n1 "$RUN_DIR/results.jsonl" >&2
done
cleanup

{
    echo "Run of \`bench/scripting.sh\` (ROUNDS=$ROUNDS DURATION=$DURATION USERS=$USERS IDLE_USERS=$IDLE_USERS), target \`stampede shop\` on core $TARGET_CPU, stampede on core $GEN_CPU:"
    echo
    # Only the machine and the binary: this bench needs none of the peers.
    machine_md | grep -v '^- tools:'
    echo
    python3 - "$RUN_DIR/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
closed = [r for r in rows if r["kind"] == "closed"]
def per_cpu(r):
    return r["served"] / r["cpu_s"] if r["cpu_s"] else 0.0
print("| run | round | requests (shop's count) | stampede CPU s | requests per CPU s | peak RSS MB |")
print("|---|--:|--:|--:|--:|--:|")
for r in closed:
    print(f"| {r['name']} | {r['round']} | {r['served']} | {r['cpu_s']:.2f} | {per_cpu(r):,.0f} | {r['rss_kb'] / 1024:.0f} |")
print()
print("Ratios, per round (requests per CPU second):")
print()
rounds = sorted({r["round"] for r in closed})
for a, b, what in [("scripted-get", "yaml-get", "scripted user / YAML user, plain GET (aim >= 0.8)"),
                   ("shop-signed", "shop", "shop flow with a script function in every request / without")]:
    ratios = []
    for n in rounds:
        ra = [r for r in closed if r["name"] == a and r["round"] == n]
        rb = [r for r in closed if r["name"] == b and r["round"] == n]
        if ra and rb and per_cpu(rb[0]):
            ratios.append(per_cpu(ra[0]) / per_cpu(rb[0]))
    print(f"- {what}: " + ", ".join(f"{x:.2f}x" for x in ratios))
print()
print("| idle users | VmRSS at 1 user | VmRSS at N | kB per idle user |")
print("|---|--:|--:|--:|")
for r in rows:
    if r["kind"] == "idle":
        per = (r["rssn_kb"] - r["rss1_kb"]) / (r["users"] - 1)
        print(f"| {r['name']} (N = {r['users']}) | {r['rss1_kb'] / 1024:.1f} MB | {r['rssn_kb'] / 1024:.1f} MB | {per:.2f} |")
PY
} >"$RUN_DIR/report.md"
cat "$RUN_DIR/report.md"
splice_doc scripting "$RUN_DIR/report.md"
log "report in $RUN_DIR/report.md and $DOC"
