#!/usr/bin/env bash
# bench/callgrind.sh: user-space instructions per request of stampede's plain
# GET closed loop, counted by valgrind's callgrind (immune to the machine's
# noise, unlike req/s or CPU time), plus the functions they go to.
#
# Starts nginx with bench/nginx.conf (moved to PORT, so that it can run while
# another bench holds 18080), then for each duration in RUN_SECONDS runs
#   valgrind --tool=callgrind stampede run -f bench/plain-get.yaml \
#     --host http://127.0.0.1:PORT -u USERS -r 10000 -t Ns --headless --only-summary
# on the generator's core, and divides the run's total instructions (Ir) by
# the requests nginx served during it (stub_status). Total Ir includes the
# start-up (runtime, scenario, TLS roots) and the stop; with two durations the
# script also prints the marginal cost, (Ir2 - Ir1) / (requests2 - requests1),
# which leaves them out. Prints the top functions by inclusive and self cost
# of the last run (callgrind_annotate).
#
# Env: SKIP_BUILD=1 (use target/release/stampede as is), STAMPEDE (binary),
# PORT (18090), USERS (50), RUN_SECONDS ("5 10"), TOP (30 lines).
# Output files stay in bench/out/callgrind/.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${PORT:-18090}
USERS=${USERS:-50}
RUN_SECONDS=${RUN_SECONDS:-5 10}
TOP=${TOP:-30}
URL=http://127.0.0.1:$PORT
RUN_DIR=$OUT_DIR/callgrind

require_tools nginx valgrind callgrind_annotate curl taskset
build_stampede
mkdir -p "$RUN_DIR/nginx/tmp"

# nginx as start_nginx runs it, on PORT.
sed "s/127\.0\.0\.\([0-9]\):18080/127.0.0.\1:$PORT/" "$BENCH_DIR/nginx.conf" >"$RUN_DIR/nginx.conf"
: >"$RUN_DIR/nginx/error.log"
if curl -fsS -o /dev/null --max-time 1 "$URL/" 2>/dev/null; then
    die "something already listens on $URL (set PORT)"
fi
"${ON_TARGET[@]}" timeout 900 nginx -p "$RUN_DIR/nginx/" -e error.log -c "$RUN_DIR/nginx.conf" &
BG_PIDS+=($!)
wait_http "$URL/" 10 || die "nginx did not start: $(cat "$RUN_DIR/nginx/error.log")"

# served: requests nginx has served, not counting this status request.
served() {
    curl -fsS --max-time 2 "$URL/nginx_status" | awk 'NR == 3 { print $3 - 1 }'
}

log "stampede: $(stampede_ident)"
prev_ir=0 prev_req=0
for secs in $RUN_SECONDS; do
    out=$RUN_DIR/callgrind.$secs.out
    s0=$(served)
    log "callgrind run of ${secs}s ($USERS users)"
    "${ON_GEN[@]}" timeout -k 5 $((secs * 20 + 120)) \
        valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$STAMPEDE" run -f "$BENCH_DIR/plain-get.yaml" --host "$URL" \
        -u "$USERS" -r 10000 -t "${secs}s" --headless --only-summary \
        >"$RUN_DIR/run.$secs.out" 2>"$RUN_DIR/run.$secs.err" ||
        die "the run failed: $(tail -n 5 "$RUN_DIR/run.$secs.err")"
    # The status request between the two reads counts once more.
    requests=$(($(served) - s0 - 1))
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$out")
    ((requests > 0)) || die "no request was served"
    printf 'run %ss: %s instructions, %s requests: %s instructions per request\n' \
        "$secs" "$ir" "$requests" "$((ir / requests))"
    if ((prev_req > 0 && requests > prev_req)); then
        printf 'marginal (%s - previous run): %s instructions per request\n' \
            "${secs}s" "$(((ir - prev_ir) / (requests - prev_req)))"
    fi
    prev_ir=$ir prev_req=$requests
done

# short: function names without their source file and object.
short() {
    sed -E 's@^( *[0-9,]+ \( *[0-9.]+%\)  )[^ ]*\.(rs|c|h|S):@\1@; s/ \[[^]]*\]$//'
}

# Below, head closes the pipes early: that is not a failure.
set +o pipefail
# Inclusive: the thread start and tokio's scheduler frames that hold
# everything are left out, and each function is shown once (its costliest
# source file).
printf '\ntop functions by inclusive cost (last run; runtime frames left out):\n'
callgrind_annotate --auto=no --inclusive=yes "$out" 2>/dev/null | grep -E '^ *[0-9,]+ ' |
    grep -v -E 'PROGRAM TOTALS|std::sys::|pthread_create|call_once|blocking::pool|runtime::task::|scheduler::multi_thread|context::scoped|task_tracker|runtime::park|Context::run|BlockingTask' |
    short | awk '!seen[substr($0, index($0, "%)") + 3)]++' | head -n "$TOP"
# Self: summed per function (callgrind_annotate lists a function once per
# source file its inlined code comes from).
printf '\ntop functions by self cost (last run, per request):\n'
callgrind_annotate --auto=no "$out" 2>/dev/null | grep -E '^ *[0-9,]+ ' | grep -v 'PROGRAM TOTALS' | short |
    awk -v total="$ir" -v req="$requests" '{
        n = $1; gsub(",", "", n); name = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", name); cost[name] += n
    } END { for (f in cost) printf "%12d %5.2f%% %7.0f  %s\n", cost[f], 100 * cost[f] / total, cost[f] / req, f }' |
    sort -rn | head -n "$TOP"
