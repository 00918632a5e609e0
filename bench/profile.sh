#!/usr/bin/env bash
# Where the generators' CPU goes, on the plain GET against nginx (loopback):
#   1. `perf stat` of wrk, oha and stampede, each alone on core GEN_CPU:
#      CPU time, system calls and context switches per request, per the
#      requests nginx counted (the same yardstick for every tool);
#   2. `perf record` of stampede: the symbols it spends its CPU in.
#
#   bench/profile.sh                 # 10 s per tool, 50 connections
#   DURATION=20 bench/profile.sh
#
# Needs perf (bench/setup.sh installs linux-perf); software events only
# (cpu-clock, tracepoints), which work in a container without PMU access.
# Results: bench/out/profile-*/report.md, spliced into docs/BENCHMARKS.md
# (section "profile"). Env as bench/run.sh: DURATION (10), CONNS (50),
# SKIP_BUILD=1, DOC.
set -euo pipefail
DURATION=${DURATION:-10}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

LIMIT=$((DURATION + 30))
EVENTS=task-clock,context-switches,raw_syscalls:sys_enter

# stat_tool TOOL: perf stat of one generator run; appends a table row.
stat_tool() {
    local tool=$1 s0 s1
    tool_cmd "$tool"
    log "perf stat $tool"
    s0=$(nginx_served)
    "${ON_GEN[@]}" timeout -k 5 "$LIMIT" perf stat -x, -e "$EVENTS" -o "$RUN_DIR/$tool.stat" -- "${CMD[@]}" \
        >"$RUN_DIR/$tool.out" 2>"$RUN_DIR/$tool.err" || log "warning: $tool exited with status $?"
    s1=$(nginx_served)
    # perf stat -x, lines: value,unit,event,... (task-clock in ms).
    awk -F, -v tool="$tool" -v n=$((s1 - s0)) -v secs="$DURATION" '
        $3 == "task-clock"             { cpu_ms = $1 }
        $3 == "context-switches"       { cs = $1 }
        $3 == "raw_syscalls:sys_enter" { sc = $1 }
        END {
            printf "| %s | %d | %.0f | %.1f | %.2f | %.3f |\n", tool, n, n / secs,
                cpu_ms / n * 1000, sc / n, cs / n
        }' "$RUN_DIR/$tool.stat" >>"$RUN_DIR/stat.md"
    sleep 2
}

# 1. Tools, binary, nginx on TARGET_CPU.
require_tools perf nginx wrk oha curl taskset pgrep
build_stampede
RUN_DIR=$OUT_DIR/profile-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
log "outputs in $RUN_DIR"
start_nginx $((5 * LIMIT + 120))

# 2. perf stat of each generator.
for tool in wrk oha stampede; do
    stat_tool "$tool"
done

# 3. perf record of stampede (sampling its CPU at ~2 kHz).
tool_cmd stampede
log "perf record stampede"
"${ON_GEN[@]}" timeout -k 5 "$LIMIT" perf record -q -F 1999 -e cpu-clock -o "$RUN_DIR/stampede.perf.data" -- "${CMD[@]}" \
    >"$RUN_DIR/stampede-record.out" 2>"$RUN_DIR/stampede-record.err" || log "warning: perf record exited with status $?"
cleanup
perf report -i "$RUN_DIR/stampede.perf.data" --no-children --sort dso --stdio 2>/dev/null |
    grep '%' | sed -n '1,6p' >"$RUN_DIR/dso.txt"
perf report -i "$RUN_DIR/stampede.perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep '%' | sed -E -n '1,40s/ +$//p' >"$RUN_DIR/symbols.txt"

# 4. The report.
{
    echo "Run of \`bench/profile.sh\` (DURATION=$DURATION CONNS=$CONNS), plain GET against nginx:"
    echo
    machine_md
    echo
    echo "| generator | requests (nginx count) | req/s | CPU µs / request | syscalls / request | context switches / request |"
    echo "|---|--:|--:|--:|--:|--:|"
    cat "$RUN_DIR/stat.md"
    echo
    echo "stampede's CPU by object (\`perf record -e cpu-clock\`, \`perf report --sort dso\`):"
    echo
    echo '```'
    cat "$RUN_DIR/dso.txt"
    echo '```'
    echo
    echo "Its top symbols (\`--sort dso,symbol\`, self time):"
    echo
    echo '```'
    cut -c1-150 "$RUN_DIR/symbols.txt"
    echo '```'
} >"$RUN_DIR/report.md"
cat "$RUN_DIR/report.md"
splice_doc profile "$RUN_DIR/report.md"
log "report in $RUN_DIR/report.md and $DOC"
