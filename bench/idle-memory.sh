#!/usr/bin/env bash
# Idle-user memory bench: how much memory stampede needs per virtual user
# that sits idle between tasks with its keep-alive connection open.
#
#   bench/idle-memory.sh                         # baseline 1 user, then 10000 and 50000
#   USER_COUNTS="10000 18000" bench/idle-memory.sh
#
# Each user of bench/idle.yaml does one GET in on_start, one GET in its task,
# then waits 1 h, so after the ramp every user idles with a connection open to
# nginx (bench/nginx.conf, core TARGET_CPU). stampede runs on core GEN_CPU;
# its VmRSS is read from /proc once all users are spawned and idle (SETTLE s
# after the ramp), for a 1-user baseline and for each count in USER_COUNTS:
#   kB per idle user = (VmRSS(N) - VmRSS(1)) / (N - 1)
# The users are spread over 127.0.0.1-4 (bench/idle.yaml): one destination
# address:port offers 28,232 ephemeral ports, and connect() already crawls
# past ~14,000 of them. A count is skipped, with the reason, when this machine
# cannot hold that many connections: the open-files hard limit (one fd per
# connection in stampede and one in nginx) or the ephemeral ports.
#
# Results: a markdown table on stdout, raw outputs in bench/out/idle-*/, and
# the table spliced into docs/BENCHMARKS.md (section "idle-memory").
# Env: USER_COUNTS ("10000 50000"), SPAWN_RATE (2000), SETTLE (10),
# SKIP_BUILD=1, DOC (DOC=/dev/null to leave docs/BENCHMARKS.md alone).
# MIMALLOC_PURGE_DELAY=0 (passed on to stampede) makes its allocator return
# freed memory at once, so VmRSS shows live memory without the ramp's garbage.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

USER_COUNTS=${USER_COUNTS:-10000 50000}
DEST_ADDRESSES=4 # loopback addresses bench/idle.yaml spreads the users over
SPAWN_RATE=${SPAWN_RATE:-2000}
SETTLE=${SETTLE:-10}

# raise_fd_limit: as many open files as allowed (65536 wanted, capped by the
# hard limit, which an unprivileged container cannot raise).
raise_fd_limit() {
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    FD_LIMIT=$(ulimit -n)
    read -r PORT_LO PORT_HI </proc/sys/net/ipv4/ip_local_port_range
    EPHEMERAL_PORTS=$((PORT_HI - PORT_LO + 1))
    log "open files limit $FD_LIMIT (hard $(ulimit -Hn)), ephemeral ports $PORT_LO-$PORT_HI ($EPHEMERAL_PORTS)"
}

# infeasible USERS: prints why USERS idle connections cannot fit, if they cannot.
infeasible() {
    local users=$1 margin=200
    if ((users + margin > FD_LIMIT)); then
        echo "needs about $((users + margin)) open files per process (stampede and nginx each hold one per connection); the limit here is $FD_LIMIT and the hard limit cannot be raised in this container"
    elif ((users > EPHEMERAL_PORTS * DEST_ADDRESSES / 2)); then
        echo "needs $users client ports over $DEST_ADDRESSES addresses; connect() slows to a crawl past half of the $EPHEMERAL_PORTS ephemeral ports ($PORT_LO-$PORT_HI) per address"
    fi
}

# elapsed_since EPOCH_SECONDS: whole seconds since then.
elapsed_since() {
    echo $(($(date +%s) - $1))
}

# open_conns: established connections to nginx's port right now.
open_conns() {
    ss -Htn state established "( dport = :18080 )" | wc -l
}

# idle_run USERS: runs USERS idle users and records stampede's memory once
# they are all spawned, as one JSON line in results.jsonl.
idle_run() {
    local users=$1 name="u$1" ramp at run_time bg started pid rss hwm thp threads conns served
    ramp=$(((users + SPAWN_RATE - 1) / SPAWN_RATE))
    at=$((ramp + SETTLE))       # when to read the memory
    run_time=$((at + 5))        # the run ends a little after the reading
    log "run $name: $users users at $SPAWN_RATE/s, memory read at ${at}s"
    "${ON_GEN[@]}" timeout -k 5 $((run_time + 60)) \
        "$STAMPEDE" run -f "$BENCH_DIR/idle.yaml" --host "$NGINX_URL" -u "$users" -r "$SPAWN_RATE" \
        -t "${run_time}s" --headless --only-summary >"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" &
    bg=$!
    started=$(date +%s)
    BG_PIDS+=("$bg")
    pid=$(child_pid "$bg") || die "stampede did not start"
    # About every second up to the reading, NAME.samples gets "seconds
    # VmRSS_kB AnonHugePages_kB connections_open stampede_cpu_ticks": it shows
    # the ramp, whether the connections keep up with the spawn rate and
    # whether memory still grows (and how much of it is transparent huge pages).
    echo "# s VmRSS_kB AnonHugePages_kB connections cpu_ticks" >"$RUN_DIR/$name.samples"
    while (($(elapsed_since "$started") < at)); do
        sleep 1
        [[ -r /proc/$pid/status ]] || break
        echo "$(elapsed_since "$started") $(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")" \
            "$(awk '/^AnonHugePages/ { print $2 }' "/proc/$pid/smaps_rollup") $(open_conns)" \
            "$(awk '{ print $14 + $15 }' "/proc/$pid/stat")" >>"$RUN_DIR/$name.samples"
    done
    if [[ -r /proc/$pid/status ]]; then
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
        thp=$(awk '/^AnonHugePages/ { print $2 }' "/proc/$pid/smaps_rollup")
        threads=$(awk '/^Threads/ { print $2 }' "/proc/$pid/status")
        conns=$(open_conns)
    else
        log "warning: stampede exited before the reading: $(tail -n3 "$RUN_DIR/$name.err")"
        rss=null hwm=null thp=null threads=null conns=null
    fi
    served=$(nginx_served)
    wait "$bg" || log "warning: stampede exited with status $? (see $RUN_DIR/$name.err)"
    forget_bg "$bg"
    printf '{"users": %s, "spawn_rate": %s, "read_at_s": %s, "vmrss_kb": %s, "vmhwm_kb": %s, "anon_huge_kb": %s, "threads": %s, "established": %s, "nginx_served_total": %s, "summary": %s}\n' \
        "$users" "$SPAWN_RATE" "$at" "$rss" "$hwm" "$thp" "$threads" "$conns" "$served" \
        "$(python3 "$BENCH_DIR/report.py" summary "$RUN_DIR/$name.out")" >>"$RUN_DIR/results.jsonl"
    tail -n1 "$RUN_DIR/results.jsonl" >&2
    sleep 3 # let the closed connections' ports drain a little
}

# 1. Tools, the binary, limits.
require_tools nginx curl python3 taskset pgrep ss
build_stampede
raise_fd_limit
RUN_DIR=$OUT_DIR/idle-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR"
log "outputs in $RUN_DIR"

# 2. nginx on TARGET_CPU (it inherits the raised open-files limit).
start_nginx 3600

# 3. The baseline, then each count that fits.
idle_run 1
for users in $USER_COUNTS; do
    reason=$(infeasible "$users")
    if [[ -n $reason ]]; then
        log "skip $users users: $reason"
        printf '{"users": %s, "skipped": %s}\n' "$users" \
            "$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$reason")" >>"$RUN_DIR/results.jsonl"
        continue
    fi
    idle_run "$users"
done
cleanup

# 4. The report.
{
    echo "Run of \`bench/idle-memory.sh\` (USER_COUNTS=\"$USER_COUNTS\" SPAWN_RATE=$SPAWN_RATE SETTLE=$SETTLE):"
    echo
    machine_md
    echo "- limits: open files $FD_LIMIT (hard $(ulimit -Hn)), ephemeral ports $PORT_LO-$PORT_HI"
    echo "- allocator: mimalloc, MIMALLOC_PURGE_DELAY=${MIMALLOC_PURGE_DELAY:-(unset: its default delay)}"
    echo
    echo "Command (N = 1, then each count; memory read from /proc/PID/status at ramp + ${SETTLE}s):"
    echo
    echo '```'
    echo "nice -n $NICE taskset -c $GEN_CPU target/release/stampede run -f bench/idle.yaml --host $NGINX_URL -u N -r $SPAWN_RATE -t (N/$SPAWN_RATE + $((SETTLE + 5)))s --headless --only-summary"
    echo '```'
    echo
    python3 "$BENCH_DIR/report.py" idle "$RUN_DIR/results.jsonl"
} >"$RUN_DIR/report.md"
cat "$RUN_DIR/report.md"
splice_doc idle-memory "$RUN_DIR/report.md"
log "report in $RUN_DIR/report.md and $DOC"
