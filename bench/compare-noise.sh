#!/usr/bin/env bash
# False alarms of `stampede compare` (issue #20): how often are two runs of
# one build, against one unchanged target, flagged as a regression?
#
#   bench/compare-noise.sh                      # 20 runs of 5 s: ~3 min
#   RUNS=20 DURATION=20 bench/compare-noise.sh  # 20-s runs: ~8 min
#
# RUNS unchanged runs, one after the other. Each starts a fresh `stampede shop
# --latency SHOP_LATENCY` (core TARGET_CPU), as a CI job starts the service it
# tests, and runs `stampede run -f compare-noise.yaml --headless -u USERS -r
# SPAWN_RATE -t DURATION --only-summary --json runK.json` (core GEN_CPU): a
# login, then three endpoints in a loop (list the products, one product, add
# to the cart), 10 ms of think time after each. Then one run against a shop
# with one endpoint slowed (`--slow SLOW`, on top of the latency): a real
# regression, which must be caught.
#
# Compared with `stampede compare --json`, at each `--noise` margin of
# MARGINS with the gates of GATES: each pair of consecutive runs (base K, new
# K+1: a pipeline comparing each build with the one before), and every pair
# K < L (a stored base compared with later runs). Counted: pairs where any
# metric of any row is marked regressed beyond noise, pairs where each gate
# failed. The slowed run is compared with every unchanged run as its base:
# whether its endpoint (SLOW_ROW) is flagged, and which gates fail.
# The machine is shared: each run records the load average at its end and,
# from /proc/stat, how many cores were busy during it and how much of that was
# not this bench's own processes (the shop's and stampede's CPU time).
#
# Time: (RUNS + 1) x (DURATION + ~2 s) for the runs, then MARGINS x (RUNS x
# (RUNS - 1) / 2 + RUNS) comparisons of ~10-20 ms each (1,050 with the
# defaults, under a minute): about 3 min in all with the defaults. Every
# process is bounded by `timeout` (a run DURATION + 30 s, a shop DURATION +
# 60 s, a comparison 30 s).
#
# Results: markdown tables on stdout, raw outputs in bench/out/compare-noise-*/
# (the reports, the consecutive pairs' and the slowed run's comparisons,
# runs.jsonl with the load), and the tables spliced into docs/BENCHMARKS.md
# (section "compare-noise").
# Env: RUNS (20), DURATION (s, 5), USERS (10), SPAWN_RATE (100), SHOP_LATENCY
# (5ms..15ms, uniform), SLOW (/api/cart/=3ms) and SLOW_ROW ("POST cart", the
# row SLOW slows), MARGINS ("0 5 10 20 30"), GATES ("p95:+10%;p99:+20%;
# rps:-5%;fail_ratio:+1pp", separated by ;), MIN_SAMPLES (100), SKIP_BUILD=1,
# DOC (DOC=/dev/null to leave docs/BENCHMARKS.md alone).
set -euo pipefail
# Defaults before lib.sh, whose own (for bench/run.sh) would win otherwise.
RUNS=${RUNS:-20}
DURATION=${DURATION:-5}
USERS=${USERS:-10}
SPAWN_RATE=${SPAWN_RATE:-100}
SHOP_LATENCY=${SHOP_LATENCY:-5ms..15ms}
SLOW=${SLOW:-/api/cart/=3ms}
SLOW_ROW=${SLOW_ROW:-POST cart}
MARGINS=${MARGINS:-0 5 10 20 30}
GATES=${GATES:-p95:+10%;p99:+20%;rps:-5%;fail_ratio:+1pp}
MIN_SAMPLES=${MIN_SAMPLES:-100}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

((RUNS >= 2)) || die "RUNS must be 2 or more"
SCENARIO='name: compare-noise
users:
  - name: Shopper
    wait: {constant: 10ms}
    on_start:
      - post: /api/auth/login/
        name: login
        json: {username: "load_test_user_{{ user_index }}", password: testpass123}
        expect: {status: 200}
        extract:
          token: {jsonpath: $.access}
      - set_headers:
          Authorization: "Bearer {{ token }}"
    sequence:
      - get: /api/products/
        name: list
      - get: "/api/products/{{ random_int(1, 100) }}/"
        name: one
      - post: /api/cart/items/
        name: cart
        json: {product: "{{ random_int(1, 100) }}", quantity: 1}
        expect: {status: 201}
'

require_tools curl python3 taskset pgrep
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found: run bench/setup.sh first"
build_stampede
RUN_DIR=$OUT_DIR/compare-noise-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
printf '%s' "$SCENARIO" >"$RUN_DIR/compare-noise.yaml"
log "outputs in $RUN_DIR"

# cpu_ticks: "busy steal" clock ticks of the whole machine so far (/proc/stat:
# busy is user + nice + system + irq + softirq; steal is the hypervisor's).
cpu_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat
}

# one_run NAME [SHOP ARGS...]: a fresh shop, one measured run against it
# (NAME.json), the shop stopped; a line of runs.jsonl with the load.
one_run() {
    local name=$1 c0 c1 w0 w1
    shift
    start_shop $((DURATION + 60)) --latency "$SHOP_LATENCY" "$@"
    c0=$(cpu_ticks)
    w0=$(date +%s.%N)
    measure "$name" $((DURATION + 30)) "$STAMPEDE" run -f "$RUN_DIR/compare-noise.yaml" \
        --host "$SHOP_URL" --headless -u "$USERS" -r "$SPAWN_RATE" -t "${DURATION}s" \
        --only-summary --json "$RUN_DIR/$name.json"
    w1=$(date +%s.%N)
    c1=$(cpu_ticks)
    [[ -s $RUN_DIR/$name.json ]] || die "$name: no report: $(tail -n 3 "$RUN_DIR/$name.err")"
    kill "$SHOP_BG" 2>/dev/null || true
    wait "$SHOP_BG" 2>/dev/null || true
    forget_bg "$SHOP_BG"
    # NAME.time: "user_s sys_s maxrss_kB elapsed_s exit_status" of stampede;
    # NAME.target: "target_cpu_s served_requests".
    python3 - "$name" "$w0" "$w1" "$c0" "$c1" "$CLK_TCK" "$RUN_DIR" <<'EOF' >>"$RUN_DIR/runs.jsonl"
import json, sys
name, w0, w1, c0, c1, hz, run_dir = sys.argv[1:]
wall = float(w1) - float(w0)
(b0, s0), (b1, s1) = (map(int, c.split()) for c in (c0, c1))
hz = int(hz)
user, system, _rss, _elapsed, code = open(f"{run_dir}/{name}.time").read().split()
shop_cpu, served = open(f"{run_dir}/{name}.target").read().split()
gen, shop = float(user) + float(system), float(shop_cpu)
busy = (b1 - b0) / hz
print(json.dumps({
    "name": name, "wall_s": round(wall, 2), "exit": int(code), "served": int(served),
    "busy_cores": round(busy / wall, 2), "steal_cores": round((s1 - s0) / hz / wall, 3),
    "stampede_cpu_s": gen, "shop_cpu_s": shop,
    "others_cores": round(max(0.0, busy - gen - shop) / wall, 2),
    "loadavg": open("/proc/loadavg").read().split()[0],
}))
EOF
    log "$name: $(tail -n1 "$RUN_DIR/runs.jsonl")"
}

log "load before: $(cat /proc/loadavg)"
uptime >"$RUN_DIR/uptime-before.txt"
for ((k = 1; k <= RUNS; k++)); do
    one_run "$(printf 'run%02d' "$k")"
done
one_run slow --slow "$SLOW"
uptime >"$RUN_DIR/uptime-after.txt"
log "load after: $(cat /proc/loadavg)"
cleanup

log "comparing: $(wc -w <<<"$MARGINS") margins x $((RUNS * (RUNS - 1) / 2 + RUNS)) pairs"
python3 - "$STAMPEDE" "$RUN_DIR" "$RUNS" "$MARGINS" "$GATES" "$MIN_SAMPLES" "$SLOW_ROW" >"$RUN_DIR/report.md" <<'EOF'
import json, statistics, subprocess, sys
from collections import Counter

stampede, run_dir, runs, margins, gates, min_samples, slow_row = sys.argv[1:]
runs = int(runs)
margins = [float(m) for m in margins.split()]
gates = [g.strip() for g in gates.split(";") if g.strip()]
names = [f"run{k:02d}" for k in range(1, runs + 1)]
LATENCY = lambda m: m not in ("rps", "fail_ratio")

def compare(base, new, margin, out):
    """stampede compare BASE NEW at MARGIN with the gates; the parsed --json."""
    args = [stampede, "compare", f"{run_dir}/{base}.json", f"{run_dir}/{new}.json",
            "--noise", f"{margin:g}", "--min-samples", min_samples, "--json", out]
    for g in gates:
        args += ["--fail-if", g]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if p.returncode not in (0, 1):
        sys.exit(f"stampede compare {base} {new}: exit {p.returncode}: {p.stderr.strip()}")
    c = json.load(open(out))
    assert (p.returncode == 0) == c["passed"], (base, new, p.returncode)
    return c

def row_name(r):
    return f"{r['method']} {r['name']}".strip()

def flagged(c, latency_only=False):
    """(row, metric) pairs marked regressed beyond noise."""
    return [(row_name(r), m) for r in c["rows"] for m in r["regressed"]
            if not latency_only or LATENCY(m)]

def failed_gates(c):
    return {g["gate"] for g in c["gates"] if not g["passed"]}

def of(n, total):
    return f"{n} of {total} ({100 * n / total:.0f}%)" if total else "-"

consecutive = [(names[i], names[i + 1]) for i in range(runs - 1)]
all_pairs = [(names[i], names[j]) for i in range(runs) for j in range(i + 1, runs)]
scratch = f"{run_dir}/scratch-compare.json"
default = 10.0
results = {}
culprits = {}
for margin in margins:
    res = {}
    for label, pairs in (("consecutive", consecutive), ("all", all_pairs)):
        any_metric = latency = any_gate = 0
        per_gate = Counter()
        why = Counter()
        for base, new in pairs:
            keep = label == "consecutive"
            out = f"{run_dir}/cmp-{base}-{new}-noise{margin:g}.json" if keep else scratch
            c = compare(base, new, margin, out)
            f = flagged(c)
            any_metric += bool(f)
            latency += bool(flagged(c, True))
            fails = failed_gates(c)
            any_gate += bool(fails)
            per_gate.update(fails)
            why.update(f)
        res[label] = {"pairs": len(pairs), "any_metric": any_metric, "latency": latency,
                      "any_gate": any_gate, "gates": dict(per_gate)}
        culprits[(margin, label)] = why
    # The slowed run against each unchanged run as its base.
    det = Counter()
    slow_gates = Counter()
    for base in names:
        c = compare(base, "slow", margin, f"{run_dir}/cmp-{base}-slow-noise{margin:g}.json")
        rows = {row_name(r): r for r in c["rows"]}
        reg = rows[slow_row]["regressed"]
        det["row"] += any(m in reg for m in ("avg", "p50", "p95"))
        det["p95"] += "p95" in reg
        det["others"] += any(LATENCY(m) for n, r in rows.items()
                             if n not in (slow_row, "Aggregated") for m in r["regressed"])
        fails = failed_gates(c)
        det["any_gate"] += bool(fails)
        slow_gates.update(fails)
    res["slow"] = {"pairs": runs, **det, "gates": dict(slow_gates)}
    results[margin] = res
json.dump({str(k): v for k, v in results.items()}, open(f"{run_dir}/results.json", "w"), indent=1)

short = lambda g: g.split(":")[0]
print(f"Unchanged pairs ({runs} runs: {len(consecutive)} consecutive pairs, {len(all_pairs)} pairs K < L), "
      "flagged by `stampede compare` (\"regressed\": any metric of any row regressed beyond noise; "
      "\"latency\": the same without rps and fail_ratio; a gate counts when it failed):")
print()
print("| `--noise` | consecutive: regressed | latency | " +
      " | ".join(f"`{g}` failed" for g in gates) + " | any gate failed | all pairs: regressed | all pairs: any gate failed |")
print("|---|" + "---|" * (len(gates) + 5))
for m in margins:
    c, a = results[m]["consecutive"], results[m]["all"]
    n = c["pairs"]
    cells = [of(c["any_metric"], n), of(c["latency"], n)]
    cells += [of(c["gates"].get(g, 0), n) for g in gates]
    cells += [of(c["any_gate"], n), of(a["any_metric"], a["pairs"]), of(a["any_gate"], a["pairs"])]
    bold = "**" if m == default else ""
    print(f"| {bold}{m:g}%{bold} | " + " | ".join(cells) + " |")
print()
for m in margins:
    why = culprits[(m, "consecutive")]
    if why and m >= default:
        top = ", ".join(f"{r} {k} {n}x" for (r, k), n in why.most_common(8))
        print(f"- at {m:g}%, what was flagged in the consecutive pairs: {top}")
print()
print(f"The slowed run (`--slow` on `{slow_row}`) against each of the {runs} unchanged runs as its base:")
print()
print(f"| `--noise` | `{slow_row}` flagged (avg, p50 or p95) | its p95 flagged | other endpoints' latency flagged | " +
      " | ".join(f"`{g}` failed" for g in gates) + " | any gate failed |")
print("|---|" + "---|" * (len(gates) + 4))
for m in margins:
    s = results[m]["slow"]
    n = s["pairs"]
    cells = [of(s.get("row", 0), n), of(s.get("p95", 0), n), of(s.get("others", 0), n)]
    cells += [of(s["gates"].get(g, 0), n) for g in gates]
    cells += [of(s.get("any_gate", 0), n)]
    bold = "**" if m == default else ""
    print(f"| {bold}{m:g}%{bold} | " + " | ".join(cells) + " |")
print()

# The runs themselves: the spread of the Aggregated row, and the load.
load = [json.loads(l) for l in open(f"{run_dir}/runs.jsonl")]
reps = {n: json.load(open(f"{run_dir}/{n}.json")) for n in names + ["slow"]}
def spread(vals):
    lo, hi = min(vals), max(vals)
    return f"{lo:.2f} / {statistics.median(vals):.2f} / {hi:.2f} ({100 * (hi - lo) / lo:.0f}%)"
rows = []
for l in load:
    t = reps[l["name"]]["total"]
    p = t["percentiles_ms"]
    rows.append((l, t, p))
unchanged = [r for r in rows if r[0]["name"] != "slow"]
print("The unchanged runs' Aggregated row, min / median / max, and in brackets (max - min) / min:")
print()
print("| requests | req/s | avg ms | p50 ms | p95 ms | p99 ms | failures |")
print("|---|---|---|---|---|---|---|")
req = [t["requests"] for _, t, _ in unchanged]
print(f"| {min(req):,} / {int(statistics.median(req)):,} / {max(req):,} | "
      f"{spread([t['rps'] for _, t, _ in unchanged])} | "
      f"{spread([t['avg_ms'] for _, t, _ in unchanged])} | "
      f"{spread([p['p50'] for _, _, p in unchanged])} | "
      f"{spread([p['p95'] for _, _, p in unchanged])} | "
      f"{spread([p['p99'] for _, _, p in unchanged])} | "
      f"{sum(t['failures'] for _, t, _ in unchanged)} |")
print()
busy = [l["busy_cores"] for l, _, _ in rows]
others = [l["others_cores"] for l, _, _ in rows]
la = [float(l["loadavg"]) for l, _, _ in rows]
steal = [l["steal_cores"] for l, _, _ in rows]
print(f"Load during the runs: 1-minute load average {min(la):.2f}-{max(la):.2f} (at each run's end); "
      f"cores busy {min(busy):.2f}-{max(busy):.2f} of 2 (median {statistics.median(busy):.2f}), "
      f"of which not this bench's {min(others):.2f}-{max(others):.2f} (median {statistics.median(others):.2f}); "
      f"steal {max(steal):.3f} cores at most.")
print()
print("<details><summary>Each run</summary>")
print()
print("| run | requests | req/s | p50 ms | p95 ms | p99 ms | failures | load avg | cores busy | not the bench's | stampede CPU s | shop CPU s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for l, t, p in rows:
    print(f"| {l['name']} | {t['requests']:,} | {t['rps']:.1f} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} | "
          f"{t['failures']} | {l['loadavg']} | {l['busy_cores']:.2f} | {l['others_cores']:.2f} | "
          f"{l['stampede_cpu_s']:.2f} | {l['shop_cpu_s']:.2f} |")
print()
print("</details>")
EOF
rm -f "$RUN_DIR/scratch-compare.json"

{
    echo "- runs: $RUNS unchanged of ${DURATION} s and one slowed (\`--slow $SLOW\`), each against a fresh" \
        "\`stampede shop --latency $SHOP_LATENCY\` on core $TARGET_CPU, stampede on core $GEN_CPU, at nice $NICE;" \
        "load before: $(sed 's/.*load average: //' "$RUN_DIR/uptime-before.txt"), after: $(sed 's/.*load average: //' "$RUN_DIR/uptime-after.txt")"
    echo "- each run: \`stampede run -f compare-noise.yaml --host SHOP_URL --headless -u $USERS -r $SPAWN_RATE" \
        "-t ${DURATION}s --only-summary --json runK.json\` (login, then list / one / cart with 10 ms of think time)"
    echo "- each comparison: \`stampede compare BASE.json NEW.json --noise PCT --min-samples $MIN_SAMPLES" \
        "$(tr ';' '\n' <<<"$GATES" | sed "s/.*/--fail-if '&'/" | paste -sd' ') --json FILE\`"
    echo
    cat "$RUN_DIR/report.md"
} >"$RUN_DIR/report-full.md"
mv "$RUN_DIR/report-full.md" "$RUN_DIR/report.md"
{
    echo "Run of \`bench/compare-noise.sh\` (RUNS=$RUNS DURATION=$DURATION USERS=$USERS SPAWN_RATE=$SPAWN_RATE SHOP_LATENCY=$SHOP_LATENCY SLOW=$SLOW):"
    echo
    # The machine and the binary (not the other benches' tools, unused here).
    machine_md | grep -v '^- tools:'
    cat "$RUN_DIR/report.md"
} >"$RUN_DIR/section.md"
cat "$RUN_DIR/section.md"
splice_doc compare-noise "$RUN_DIR/section.md"
log "report in $RUN_DIR/report.md and $DOC"
