#!/usr/bin/env bash
# Latency accuracy: are stampede's reported p50 and p99 the target's truth?
#
#   bench/accuracy.sh                   # delays 20ms and 100ms, closed and open model
#   DELAYS="50ms" DURATION=30 bench/accuracy.sh
#
# The shop (`stampede shop --latency D`, core TARGET_CPU) delays every /api/
# request by D and measures, server side, how long it took to answer each one
# (HDR histogram, GET /_stats/latency): that is the truth. stampede (core
# GEN_CPU) sends a plain GET of one product for DURATION s, once closed-loop
# (USERS users, no wait) and once open-loop (RATE iterations/s, latency from
# each iteration's intended start), and reports its own p50/p99 in --json.
# The table gives both and the error of stampede's against the truth; what
# stampede adds on top is loopback, HTTP parsing and its own scheduling.
#
# Results: a markdown table on stdout, raw outputs in bench/out/accuracy-*/,
# and the table spliced into docs/BENCHMARKS.md (section "accuracy").
# Env: DELAYS ("20ms 100ms"), DURATION (15), USERS (20), RATE (100),
# SKIP_BUILD=1, DOC (DOC=/dev/null to leave docs/BENCHMARKS.md alone).
set -euo pipefail
# Defaults before lib.sh, whose own (for bench/run.sh) would win otherwise.
DELAYS=${DELAYS:-20ms 100ms}
DURATION=${DURATION:-15}
USERS=${USERS:-20}
RATE=${RATE:-100}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

SCENARIO='users:
  - name: Reader
    sequence:
      - get: /api/products/1/
'

require_tools curl python3 taskset
build_stampede
RUN_DIR=$OUT_DIR/accuracy-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"

# measure_model NAME FLAGS...: one run against SHOP_URL (reset first); writes
# NAME.json (stampede's report) and NAME.truth.json (the shop's answer times).
measure_model() {
    local name=$1
    shift
    curl -fsS -X POST --max-time 2 "$SHOP_URL/_stats/reset" >/dev/null
    log "run $name"
    printf '%s' "$SCENARIO" | "${ON_GEN[@]}" timeout -k 5 $((DURATION + 60)) "$STAMPEDE" run \
        -f - --host "$SHOP_URL" --headless -t "${DURATION}s" --only-summary \
        --json "$RUN_DIR/$name.json" "$@" >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" ||
        die "stampede failed in $name: $(tail -n 3 "$RUN_DIR/$name.err")"
    curl -fsS --max-time 2 "$SHOP_URL/_stats/latency" >"$RUN_DIR/$name.truth.json"
}

for delay in $DELAYS; do
    start_shop $((DURATION * 2 + 60)) --latency "$delay"
    measure_model "closed-$delay" -u "$USERS" -r 1000
    measure_model "open-$delay" --arrival-rate "$RATE/s" --max-users $((RATE * 10))
    cleanup
done

python3 - "$RUN_DIR" "$DELAYS" >"$RUN_DIR/report.md" <<'EOF'
import json, sys
run_dir, delays = sys.argv[1], sys.argv[2].split()
rows = []
worst = 0.0
for delay in delays:
    for model in ("closed", "open"):
        r = json.load(open(f"{run_dir}/{model}-{delay}.json"))
        t = json.load(open(f"{run_dir}/{model}-{delay}.truth.json"))
        kinds = [("closed loop", r["total"])] if model == "closed" else [
            ("open model, service time", r["service_time"]["total"]),
            ("open model, from intended start", r["total"]),
        ]
        for label, e in kinds:
            p = e["percentiles_ms"]
            cells = []
            for ours, truth in ((p["p50"], t["p50_ms"]), (p["p99"], t["p99_ms"])):
                err = (ours - truth) / truth * 100
                if "intended" not in label:
                    worst = max(worst, abs(err))
                cells += [f"{ours:.3f}", f"{truth:.3f}", f"{err:+.2f}%"]
            rows.append(f"| {delay} | {label} | {e['requests']:,} | {t['count']:,} | " + " | ".join(cells) + " |")
print("| delay | model | requests (stampede) | answered (shop) | p50 stampede ms | p50 shop ms | p50 error | p99 stampede ms | p99 shop ms | p99 error |")
print("|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
print()
print(f"Largest error of the measured request times: {worst:.2f}% (aim: within 1%). "
      "The open model's times from the intended start add the schedule's own lateness "
      "(tokio's timers fire on millisecond ticks), which is what they are for.")
EOF

publish accuracy "Run of \`bench/accuracy.sh\` (DELAYS=\"$DELAYS\" DURATION=$DURATION USERS=$USERS RATE=$RATE):"
