#!/usr/bin/env bash
# The master under the load of a big cluster: WORKERS simulated workers (default
# 100), each reporting ENDPOINTS request names (default 50) every REPORT_MS
# milliseconds (default 250, as real workers; 1000 was the old cadence) with
# SAMPLES samples per name per second in its histograms, for DURATION seconds
# (default 600). Records the master process's CPU (share of one core) and RSS every
# 10 s, and writes a summary. All traffic is on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-100}
ENDPOINTS=${ENDPOINTS:-50}
SAMPLES=${SAMPLES:-20}
DURATION=${DURATION:-600}
REPORT_MS=${REPORT_MS:-250}
OUT=bench/out/master-load
mkdir -p "$OUT"

cargo build --release -p stampede --bin stampede
cargo build --release -p stampede-master --example sim_workers
BIN=target/release/stampede
SIM=target/release/examples/sim_workers

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=bench-token
# The master runs a (never contacted) host: simulated workers send no load.
timeout $((DURATION + 120)) "$BIN" master -f scenarios/browse.yaml --host http://127.0.0.1:9 -u 1000 -r 1000 \
  -t "$((DURATION))s" --headless --expect-workers "$WORKERS" --expect-workers-max-wait 60s \
  --bind "127.0.0.1:$port" --token "$token" --only-summary >"$OUT/master.out" 2>"$OUT/master.err" &
wrapper=$!
trap 'kill $wrapper 2>/dev/null || true' EXIT
# `timeout` forks the master: measure the master itself, not the wrapper.
master=""
for _ in $(seq 100); do
  master=$(pgrep -P "$wrapper" -n || true)
  [ -n "$master" ] && break
  sleep 0.1
done
[ -n "$master" ] || { echo "the master did not start" >&2; exit 1; }

timeout $((DURATION + 120)) "$SIM" "127.0.0.1:$port" "$token" "$WORKERS" "$ENDPOINTS" "$SAMPLES" "$((DURATION + 30))" "$REPORT_MS" >"$OUT/sim.out" &
sim=$!
sim_started=$(date +%s.%N)
# Join time: from the simulation's start to the run's (all WORKERS connected).
(
  while ! grep -q "run started" "$OUT/master.err" 2>/dev/null; do
    kill -0 "$sim" 2>/dev/null || exit 0
    sleep 0.1
  done
  python3 -c "print(f'join time: {$(date +%s.%N) - $sim_started:.1f} s for $WORKERS workers')" >"$OUT/join.txt"
) &

ticks=$(getconf CLK_TCK)
echo "elapsed_s,cpu_share_of_one_core,rss_kb" >"$OUT/samples.csv"
prev=""
start=$(date +%s)
while kill -0 "$master" 2>/dev/null; do
  read -r utime stime < <(awk '{print $14, $15}' /proc/"$master"/stat)
  rss=$(awk '/VmRSS/ {print $2}' /proc/"$master"/status)
  now=$(date +%s.%N)
  if [ -n "$prev" ]; then
    read -r pt pu ps <<<"$prev"
    share=$(python3 -c "print(round((($utime+$stime)-($pu+$ps))/$ticks/($now-$pt), 4))")
    echo "$(( $(date +%s) - start )),$share,$rss" >>"$OUT/samples.csv"
  fi
  prev="$now $utime $stime"
  sleep 10
done
wait $sim || true
python3 - "$OUT/samples.csv" <<'PY'
import csv, sys, statistics
rows = list(csv.DictReader(open(sys.argv[1])))
steady = [r for r in rows if int(r["elapsed_s"]) >= 60] or rows
cpu = [float(r["cpu_share_of_one_core"]) for r in steady]
rss = [int(r["rss_kb"]) for r in steady]
print(f"samples: {len(rows)} (steady state from 60 s: {len(steady)})")
print(f"master cpu, share of one core: mean {statistics.mean(cpu):.3f}, max {max(cpu):.3f}")
print(f"master rss kB: first {rss[0]}, last {rss[-1]}, max {max(rss)}, growth {100*(rss[-1]-rss[0])/rss[0]:.1f}%")
PY
grep -E "^scenario " "$OUT/master.out" || true
cat "$OUT/join.txt" 2>/dev/null || echo "join time: the run never started"
echo "workers marked missing: $(grep -c 'marked missing' "$OUT/master.err" || true), readmitted: $(grep -c 'readmitted' "$OUT/master.err" || true), buffered: $(grep -c 'buffering until it reads' "$OUT/master.err" || true)"
cat "$OUT/sim.out"
