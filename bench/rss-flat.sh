#!/usr/bin/env bash
# Memory over a long run: does stampede's RSS stay flat?
#
#   bench/rss-flat.sh                        # the seed's workload, 10 minutes
#   DURATION=120 USERS=200 bench/rss-flat.sh # a shorter look
#
# `stampede run` (master and worker in one process, core GEN_CPU) runs the
# seed's scenario (scenarios/shop.yaml: log in, browse, view, add to cart,
# order, pay; 1-5 s waits) with USERS users against the shop (core
# TARGET_CPU) for DURATION s. VmRSS is read from /proc every INTERVAL s.
# Flatness compares the RSS once the ramp is over and the first WARMUP s have
# passed (caches, connection pools, the allocator's arenas) with the highest
# RSS after that and the last reading: aim within 5%.
#
# Results: a markdown table on stdout, the samples in bench/out/rss-*/, and the
# table spliced into docs/BENCHMARKS.md (section "rss-flat").
# Env: DURATION (600), USERS (1000), SPAWN_RATE (100), INTERVAL (5),
# WARMUP (60), SKIP_BUILD=1, DOC (DOC=/dev/null to leave docs/BENCHMARKS.md alone).
set -euo pipefail
# Defaults before lib.sh, whose own (for bench/run.sh) would win otherwise.
DURATION=${DURATION:-600}
USERS=${USERS:-1000}
SPAWN_RATE=${SPAWN_RATE:-100}
INTERVAL=${INTERVAL:-5}
WARMUP=${WARMUP:-60}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

require_tools curl python3 taskset
build_stampede
RUN_DIR=$OUT_DIR/rss-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
start_shop $((DURATION + 120))

log "run: $USERS users at $SPAWN_RATE/s for ${DURATION}s, VmRSS every ${INTERVAL}s"
run_headless_bg "$REPO_DIR/scenarios/shop.yaml" -u "$USERS" -r "$SPAWN_RATE"
pid=$RUN_PID
started=$(date +%s)
: >"$RUN_DIR/samples"
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $rss ]] && echo "$(($(date +%s) - started)) $rss" >>"$RUN_DIR/samples"
    sleep "$INTERVAL"
done
wait "$RUN_BG" || die "stampede failed: $(tail -n 3 "$RUN_DIR/run.err")"
forget_bg "$RUN_BG"
served=$(shop_served)

python3 - "$RUN_DIR" "$WARMUP" "$USERS" "$SPAWN_RATE" "$served" >"$RUN_DIR/report.md" <<'EOF'
import json, sys
run_dir, warmup, users, rate, served = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
samples = [tuple(map(int, l.split())) for l in open(f"{run_dir}/samples") if l.strip()]
settled_at = users / rate + warmup
after = [(t, kb) for t, kb in samples if t >= settled_at]
if not after:
    sys.exit(f"no sample after {settled_at:.0f} s: run longer")
base = after[0][1]
peak_t, peak = max(after, key=lambda s: s[1])
last_t, last = after[-1]
report = json.load(open(f"{run_dir}/report.json"))
mb = lambda kb: f"{kb / 1024:.1f}"
print("| users | duration | requests (stampede / shop) | RSS at settle | peak after | last | peak vs settle | last vs settle |")
print("|---|---|---|---|---|---|---|---|")
print(f"| {users} | {last_t} s | {report['total']['requests']:,} / {served:,} | {mb(base)} MB ({after[0][0]} s) "
      f"| {mb(peak)} MB ({peak_t} s) | {mb(last)} MB | {(peak - base) / base * 100:+.1f}% | {(last - base) / base * 100:+.1f}% |")
print()
by_min = {}
for t, kb in samples:
    by_min.setdefault(t // 60, kb)
print("RSS at the start of each minute (MB): " + ", ".join(f"{m}m {mb(kb)}" for m, kb in sorted(by_min.items())))
EOF

publish rss-flat "Run of \`bench/rss-flat.sh\` (DURATION=$DURATION USERS=$USERS SPAWN_RATE=$SPAWN_RATE INTERVAL=$INTERVAL WARMUP=$WARMUP):"
