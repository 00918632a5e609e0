#!/usr/bin/env bash
# Many users on one worker: does one `stampede run` process hold 50,000
# virtual users, spawned, waiting and requesting, without errors?
#
#   bench/many-users.sh                     # 50,000 users for 2 minutes
#   USERS=20000 DURATION=60 bench/many-users.sh
#
# bench/many-users.yaml: every user sends a GET every 20-40 s (so 50,000 users
# make about 1,700 requests/s) with `Connection: close`, so that waiting users
# hold no socket (see the file for why). stampede runs on core GEN_CPU, the
# shop on TARGET_CPU. Reported: users reached (the JSON history), requests and
# failures (checked against the shop's count), peak RSS and RSS per user, CPU.
#
# Results: a markdown table on stdout, raw outputs in bench/out/many-*/, and
# the table spliced into docs/BENCHMARKS.md (section "many-users").
# Env: USERS (50000), SPAWN_RATE (5000), DURATION (120), SKIP_BUILD=1, DOC.
set -euo pipefail
# Defaults before lib.sh, whose own (for bench/run.sh) would win otherwise.
USERS=${USERS:-50000}
SPAWN_RATE=${SPAWN_RATE:-5000}
DURATION=${DURATION:-120}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

require_tools curl python3 taskset
build_stampede
RUN_DIR=$OUT_DIR/many-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
start_shop $((DURATION + 120))

log "run: $USERS users at $SPAWN_RATE/s for ${DURATION}s"
run_headless_bg "$BENCH_DIR/many-users.yaml" -u "$USERS" -r "$SPAWN_RATE"
pid=$RUN_PID
peak=0
while kill -0 "$pid" 2>/dev/null; do
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true)
    [[ -n $hwm ]] && peak=$hwm
    [[ -n $ticks ]] && cpu_ticks=$ticks
    sleep 1
done
code=0
wait "$RUN_BG" || code=$?
forget_bg "$RUN_BG"
served=$(shop_served)

python3 - "$RUN_DIR" "$USERS" "$peak" "${cpu_ticks:-0}" "$CLK_TCK" "$served" "$code" >"$RUN_DIR/report.md" <<'PY'
import json, sys
run_dir, users, peak_kb, ticks, clk, served, code = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
r = json.load(open(f"{run_dir}/report.json"))
reached = max((p["users"] for p in r["history"]), default=0)
t = r["total"]
print("| users asked | users reached | requests (stampede / shop) | failures | exit | peak RSS | RSS per user | CPU s | p50 / p99 ms |")
print("|---|---|---|---|---|---|---|---|---|")
print(f"| {users:,} | {reached:,} | {t['requests']:,} / {served:,} | {t['failures']:,} | {code} | {peak_kb / 1024:.0f} MB "
      f"| {peak_kb * 1024 / max(reached, 1) / 1000:.1f} kB | {ticks / clk:.1f} | {t['percentiles_ms']['p50']} / {t['percentiles_ms']['p99']} |")
PY

publish many-users "Run of \`bench/many-users.sh\` (USERS=$USERS SPAWN_RATE=$SPAWN_RATE DURATION=$DURATION):"
