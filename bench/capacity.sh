#!/usr/bin/env bash
# Capacity search (issue #20): does `--capacity` find a target's capacity,
# and how exactly? The target is `stampede shop --latency L --concurrency N`,
# which serves N API requests at once, L each: N / L requests per second at
# most. For each shop of SHOPS, a search in one process (`stampede run`) and
# one with a master and two worker processes (`stampede master` +
# 2 x `stampede worker`), judged by `p95 < 2 L` with STEP-second steps up to
# 4 x the capacity.
#
#   bench/capacity.sh                     # 3 shops x 2 setups: ~4 min
#   SHOPS="50ms:10 20ms:40" STEP=5 bench/capacity.sh
#
# Time: each search runs about 9 steps of STEP s (default 2) plus ~0.2 s
# between steps; every process is bounded by `timeout` (a search 300 s, a
# shop 900 s). Load goes to 127.0.0.1 only.
#
# Results: a markdown table on stdout (capacity nominal and at the first
# step's median service time, found, off by, steps, the time the search took), the JSON documents in bench/out/capacity-*/,
# and the table spliced into docs/BENCHMARKS.md (section "capacity").
# Env: SHOPS ("50ms:10 20ms:10 10ms:40": LATENCY:CONCURRENCY), STEP (2),
# PRECISION (percent, 5).
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"

SHOPS=${SHOPS:-"50ms:10 20ms:10 10ms:40"}
STEP=${STEP:-2}
PRECISION=${PRECISION:-5}
RUN_DIR=$OUT_DIR/capacity-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
build_stampede

cat >"$RUN_DIR/s.yaml" <<'EOF'
name: capacity-bench
users:
  - name: U
    sequence:
      - get: /api/products/
        name: list
EOF

# ms LATENCY: the latency in milliseconds (50ms -> 50).
ms() { sed 's/ms$//' <<<"$1"; }

# search NAME CAPACITY SETUP: one search against SHOP_URL; its JSON in
# RUN_DIR/NAME.json, how long it took on stdout.
search() {
    local name=$1 capacity=$2 setup=$3 latency_ms=$4 started
    local args=(-f "$RUN_DIR/s.yaml" --host "$SHOP_URL" --headless --capacity
        --max-rate "$((capacity * 4))/s" --step-time "${STEP}s" --precision "$PRECISION"
        --threshold "p95<$((latency_ms * 2))ms" --only-summary --json "$RUN_DIR/$name.json")
    started=$(date +%s.%N)
    if [[ $setup == process ]]; then
        "${ON_GEN[@]}" timeout -k 5 300 "$STAMPEDE" run "${args[@]}" \
            >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" || true
    else
        "${ON_GEN[@]}" timeout -k 5 300 env RUST_LOG=info NO_COLOR=1 "$STAMPEDE" master "${args[@]}" \
            --expect-workers 2 --expect-workers-max-wait 60s --bind 127.0.0.1:0 \
            >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" &
        local master=$! addr="" w _ workers=()
        for _ in $(seq 100); do
            addr=$(sed -n 's/.*master listening for workers.*addr=\([0-9.:]*\).*/\1/p' "$RUN_DIR/$name.err" | head -n1)
            [[ -n $addr ]] && break
            sleep 0.1
        done
        [[ -n $addr ]] || die "the master did not listen: $(tail -n3 "$RUN_DIR/$name.err")"
        for w in 0 1; do
            "${ON_GEN[@]}" timeout -k 5 300 "$STAMPEDE" worker --master "$addr" --id "w$w" \
                >/dev/null 2>"$RUN_DIR/$name.w$w.err" &
            workers+=($!)
        done
        wait "$master" || true
        # The search is over: its workers go (they would wait for a master).
        kill "${workers[@]}" 2>/dev/null || true
        wait "${workers[@]}" 2>/dev/null || true
    fi
    python3 -c "import time; print(f'{time.time() - $started:.0f}')"
}

{
    echo "| shop | capacity | setup | served at 1st step (p50) | capacity at that | found | off by (nominal) | off by (at p50) | first that failed | steps | took |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$RUN_DIR/table.md"
for shop in $SHOPS; do
    latency=${shop%%:*} concurrency=${shop##*:}
    capacity=$((concurrency * 1000 / $(ms "$latency")))
    start_shop 900 --latency "$latency" --concurrency "$concurrency"
    for setup in process cluster; do
        name="$latency-$concurrency-$setup"
        log "search: shop --latency $latency --concurrency $concurrency ($capacity/s), $setup"
        took=$(search "$name" "$capacity" "$setup" "$(ms "$latency")")
        python3 - "$RUN_DIR/$name.json" "$latency" "$concurrency" "$capacity" "$setup" "$took" >>"$RUN_DIR/table.md" <<'EOF'
import json, sys
path, latency, concurrency, capacity, setup, took = sys.argv[1:]
doc = json.load(open(path))
found, failed = doc["result"]["capacity"], doc["result"]["failed_rate"]
capacity = float(capacity)
# The shop's real service time is its latency plus the timer's overshoot
# and the exchange: the first step's median (far below capacity, no queue).
p50 = doc["steps"][0]["percentiles_ms"]["p50"]
real = int(concurrency) * 1000 / p50
off = lambda c: "–" if found is None else f"{(found - c) / c * 100:+.1f}%"
where = "1 process" if setup == "process" else "master + 2 workers"
print(f"| `--latency {latency} --concurrency {concurrency}` | {capacity:.0f}/s | {where} | {p50:.2f} ms | "
      f"{real:.0f}/s | {found if found is not None else 'none'}/s | {off(capacity)} | {off(real)} | "
      f"{failed}/s | {len(doc['steps'])} | {took} s |")
EOF
    done
    cleanup
done

{
    echo "Run of \`bench/capacity.sh\` (SHOPS=\"$SHOPS\" STEP=$STEP PRECISION=$PRECISION):"
    echo
    machine_md
    echo "- each search: \`--capacity --max-rate 4xCAPACITY --step-time ${STEP}s --precision $PRECISION --threshold 'p95<2xLATENCY'\`, one endpoint (\`GET /api/products/\`), shop on core $TARGET_CPU, stampede on core $GEN_CPU at nice $NICE"
    echo
    cat "$RUN_DIR/table.md"
} >"$RUN_DIR/section.md"
cat "$RUN_DIR/section.md"
splice_doc capacity "$RUN_DIR/section.md"
