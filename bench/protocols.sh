#!/usr/bin/env bash
# HTTPS and HTTP/2 bench: stampede beside h2load (nghttp2-client) and
# `oha --http2` on HTTP/2 over TLS, beside wrk and oha on HTTPS (HTTP/1.1
# over TLS), TLS handshakes with and without session resumption, and the
# memory of an idle HTTP/2 user. All against one nginx on loopback.
#
#   bench/protocols.sh                        # every row, 10 s each
#   DURATION=20 ROWS="h2 https" bench/protocols.sh
#
# nginx (one worker, core TARGET_CPU) serves a tiny body on 127.0.0.1:18443
# (TLS; ALPN h2 and http/1.1) with a self-signed certificate made here, and
# its request counter on 127.0.0.1:18082. Each generator runs in turn on core
# GEN_CPU with the same connections and streams per connection:
#   h2      HTTP/2, CONNS connections, 1 stream each (stampede: CONNS users)
#   h2mux   HTTP/2, MUX_CONNS connections, MUX_STREAMS streams each
#           (stampede: CONNS users on --http2-connections MUX_CONNS)
#   https   HTTP/1.1 over TLS, CONNS connections (stampede --http-version 1.1)
#   tls     a new TLS connection per request (`connection: close`), with
#           and without resumption (stampede --no-tls-resumption)
#   idle    stampede's RSS with IDLE_USERS idle HTTP/2 users (and HTTP/1.1
#           over TLS) against 1 user: kB per idle user
# Requests are counted by nginx (the same counter for every tool); the CPU
# is the generator's user+sys time. Compare within one run: the machine is
# shared and noisy, CPU per request is steadier than requests per second.
#
# Results: a markdown table on stdout, raw outputs in bench/out/protocols-*/,
# and the table spliced into docs/BENCHMARKS.md (section "protocols").
# Env: DURATION (10), CONNS (50), MUX_CONNS (4), MUX_STREAMS (25), ROWS
# ("h2 h2mux https tls idle"), IDLE_USERS (5000), SKIP_BUILD=1, DOC.
set -euo pipefail
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
MUX_CONNS=${MUX_CONNS:-4}
MUX_STREAMS=${MUX_STREAMS:-25}
IDLE_USERS=${IDLE_USERS:-5000}
read -r -a ROWS <<<"${ROWS:-h2 h2mux https tls idle}"
LIMIT=$((DURATION + 30))
TLS_URL=https://localhost:18443
NGINX_URL=http://127.0.0.1:18082 # nginx_served reads the counter here

require_tools nginx curl python3 taskset pgrep openssl h2load wrk oha
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found: run bench/setup.sh first"
build_stampede

RUN_DIR=$OUT_DIR/protocols-$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN_DIR/nginx/tmp"
log "outputs in $RUN_DIR"

# 1. A certificate for localhost, and nginx with it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4 \
    -keyout "$RUN_DIR/key.pem" -out "$RUN_DIR/cert.pem" 2>/dev/null
cat >"$RUN_DIR/nginx.conf" <<EOF
daemon off;
master_process off; # one process: the one whose CPU counts as the target's
worker_processes 1;
pid $RUN_DIR/nginx/nginx.pid;
events { worker_connections 20000; multi_accept on; }
http {
    access_log off;
    error_log $RUN_DIR/nginx/error.log warn;
    keepalive_requests 10000000;
    keepalive_timeout 600s;
    http2_max_concurrent_streams 256;
    client_body_temp_path $RUN_DIR/nginx/tmp/body;
    proxy_temp_path $RUN_DIR/nginx/tmp/proxy;
    fastcgi_temp_path $RUN_DIR/nginx/tmp/fcgi;
    uwsgi_temp_path $RUN_DIR/nginx/tmp/uwsgi;
    scgi_temp_path $RUN_DIR/nginx/tmp/scgi;
    ssl_certificate $RUN_DIR/cert.pem;
    ssl_certificate_key $RUN_DIR/key.pem;
    ssl_session_cache shared:tls:10m;
    ssl_session_tickets on;
    server {
        listen 127.0.0.1:18443 ssl http2 backlog=4096;
        listen 127.0.0.2:18443 ssl http2 backlog=4096;
        listen 127.0.0.3:18443 ssl http2 backlog=4096;
        listen 127.0.0.4:18443 ssl http2 backlog=4096;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:18082;
        location = /nginx_status { stub_status; }
    }
}
EOF
curl -fsS -o /dev/null --max-time 1 "$NGINX_URL/nginx_status" 2>/dev/null &&
    die "something already listens on $NGINX_URL (a leftover nginx?)"
"${ON_TARGET[@]}" timeout 3600 nginx -e "$RUN_DIR/nginx/error.log" -c "$RUN_DIR/nginx.conf" &
BG_PIDS+=($!)
wait_http "$NGINX_URL/nginx_status" 10 || die "nginx did not start: $(cat "$RUN_DIR/nginx/error.log")"
TARGET_PIDS=("$(child_pid "${BG_PIDS[-1]}")")
SERVED_CMD=(nginx_served)
log "nginx on $TLS_URL (pid ${TARGET_PIDS[*]}, core $TARGET_CPU)"

# Scenarios: a plain GET in a loop, the same closing its connection after
# each request, and an idle user (one GET, then a one-hour wait).
printf 'users:\n  - name: G\n    sequence: [{get: /}]\n' >"$RUN_DIR/get.yaml"
printf 'users:\n  - name: G\n    headers: {connection: close}\n    sequence: [{get: /}]\n' >"$RUN_DIR/close.yaml"
cat >"$RUN_DIR/idle.yaml" <<'EOF'
users:
  - name: Idler
    wait: {constant: 1h}
    sequence:
      - get: "https://127.0.0.{{ user_index % 4 + 1 }}:18443/"
        name: /
EOF
# No tool verifies the certificate (all check the handshake signatures).
ST_BASE=("$STAMPEDE" run --headless --only-summary --insecure)
ST=("${ST_BASE[@]}" -r 10000 -t "${DURATION}s")

# row NAME CMD...: one measured run, one line of results.tsv.
row() {
    local name=$1
    shift
    measure "$name" "$LIMIT" "$@"
    read -r user sys rss elapsed _ <"$RUN_DIR/$name.time"
    read -r target served <"$RUN_DIR/$name.target"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$served" "$elapsed" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$rss" "$target" \
        >>"$RUN_DIR/results.tsv"
    tail -n1 "$RUN_DIR/results.tsv" >&2
    sleep 2
}

: >"$RUN_DIR/results.tsv"
for r in "${ROWS[@]}"; do
    case $r in
    h2)
        row "h2 stampede" "${ST[@]}" -f "$RUN_DIR/get.yaml" --host "$TLS_URL" -u "$CONNS" --http2
        row "h2 h2load" h2load -D "$DURATION" -c "$CONNS" -m 1 -t 1 "$TLS_URL/"
        row "h2 oha" oha -z "${DURATION}s" -c "$CONNS" -p 1 --http2 --insecure --no-tui "$TLS_URL/"
        ;;
    h2mux)
        row "h2mux stampede" "${ST[@]}" -f "$RUN_DIR/get.yaml" --host "$TLS_URL" \
            -u $((MUX_CONNS * MUX_STREAMS)) --http2-connections "$MUX_CONNS"
        row "h2mux h2load" h2load -D "$DURATION" -c "$MUX_CONNS" -m "$MUX_STREAMS" -t 1 "$TLS_URL/"
        row "h2mux oha" oha -z "${DURATION}s" -c "$MUX_CONNS" -p "$MUX_STREAMS" --http2 --insecure --no-tui "$TLS_URL/"
        ;;
    https)
        row "https stampede" "${ST[@]}" -f "$RUN_DIR/get.yaml" --host "$TLS_URL" -u "$CONNS" --http-version 1.1
        row "https wrk" wrk -t1 -c"$CONNS" -d"${DURATION}s" "$TLS_URL/"
        row "https oha" oha -z "${DURATION}s" -c "$CONNS" --insecure --no-tui "$TLS_URL/"
        ;;
    tls)
        row "tls stampede resumed" "${ST[@]}" -f "$RUN_DIR/close.yaml" --host "$TLS_URL" -u "$CONNS" --http-version 1.1
        row "tls stampede full" "${ST[@]}" -f "$RUN_DIR/close.yaml" --host "$TLS_URL" -u "$CONNS" --http-version 1.1 --no-tls-resumption
        row "tls oha new-connection" oha -z "${DURATION}s" -c "$CONNS" --disable-keepalive --insecure --no-tui "$TLS_URL/"
        ;;
    idle)
        ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
        for v in 2 1.1; do
            for n in 1 "$IDLE_USERS"; do
                "${ON_GEN[@]}" timeout 300 "${ST_BASE[@]}" -f "$RUN_DIR/idle.yaml" --host "$TLS_URL" -u "$n" -r 2000 \
                    -t $((n / 2000 + 25))s --http-version "$v" >"$RUN_DIR/idle-$v-$n.out" 2>&1 &
                BG_PIDS+=($!)
                pid=$(child_pid "${BG_PIDS[-1]}") || die "stampede did not start: $(cat "$RUN_DIR/idle-$v-$n.out")"
                sleep $((n / 2000 + 15)) # the ramp, then idle users (bounded by -t)
                rss=$(awk '/VmRSS/ { print $2 }' "/proc/$pid/status")
                printf 'idle %s %s\t%s\n' "$v" "$n" "$rss" >>"$RUN_DIR/idle.tsv"
                wait "${BG_PIDS[-1]}" || true
                forget_bg "${BG_PIDS[-1]}"
            done
        done
        ;;
    *) die "unknown row $r" ;;
    esac
done

# 2. The table.
python3 - "$RUN_DIR" "$IDLE_USERS" >"$RUN_DIR/report.md" <<'EOF'
import sys, pathlib
run, idle_n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
print("| row | tool | requests (nginx) | req/s | generator CPU s | µs CPU per request | max RSS MB | nginx CPU s |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for line in (run / "results.tsv").read_text().splitlines():
    name, served, elapsed, cpu, rss, target = line.split("\t")
    row, tool = name.split(" ", 1)
    served, elapsed, cpu = int(served), float(elapsed), float(cpu)
    per = cpu / served * 1e6 if served else float("nan")
    print(f"| {row} | {tool} | {served} | {served / elapsed:,.0f} | {cpu:.2f} | {per:.1f} | {int(rss) / 1024:.0f} | {float(target):.2f} |")
idle = run / "idle.tsv"
if idle.exists():
    rss = {tuple(l.split("\t")[0].split()[1:]): int(l.split("\t")[1]) for l in idle.read_text().splitlines()}
    print()
    print(f"| idle users over TLS | VmRSS 1 user MB | VmRSS {idle_n} users MB | kB per idle user |")
    print("|---|---:|---:|---:|")
    for v, label in (("2", "HTTP/2"), ("1.1", "HTTP/1.1")):
        one, many = rss.get((v, "1")), rss.get((v, str(idle_n)))
        if one and many:
            print(f"| {label} | {one / 1024:.1f} | {many / 1024:.1f} | {(many - one) / (idle_n - 1):.1f} |")
EOF
{
    echo "Run of \`bench/protocols.sh\` (DURATION=$DURATION CONNS=$CONNS MUX_CONNS=$MUX_CONNS MUX_STREAMS=$MUX_STREAMS IDLE_USERS=$IDLE_USERS ROWS=\"${ROWS[*]}\"):"
    echo
    machine_md
    echo "- h2load: $(h2load --version 2>&1 | head -n1)"
    echo
    cat "$RUN_DIR/report.md"
} >"$RUN_DIR/section.md"
cat "$RUN_DIR/section.md"
splice_doc protocols "$RUN_DIR/section.md"
