#!/usr/bin/env bash
# Soak with faults (docs/SOAK.md): one long headless run of the seed's workload
# (scenarios/shop.yaml, 1000 users at 10/s over 4 workers: the compose file's
# defaults) on the compose cluster, while a fault is injected every
# SOAK_FAULT_EVERY, in turn: a worker killed (`docker kill`, then `docker
# start`), a worker cut off from the master (`docker network disconnect` for
# SOAK_CUT_S, then `connect`), the master killed (`docker kill`, SOAK_MASTER_DOWN_S
# down, `docker start`: it resumes the run from its state dir, the
# master-state volume). The VmRSS of every container's process is sampled every
# SOAK_SAMPLE_S. At the end the master's one JSON report is checked against what
# the shop served (GET /_stats over 127.0.0.1):
#   0 <= served - counted <= the sum, over the worker kills, of what a killed
#   worker can lose (its users x (1 + 1 login + 1 in flight + 1 s / 1 s wait));
#   cut-offs and master restarts lose nothing, so with no kill: counted = served.
#
#   bash bench/soak.sh [MINUTES]          # default 60
#   SOAK_SKIP_BUILD=1 SOAK_FAULT_EVERY=20 bash bench/soak.sh 3   # a quick check
#
# Env: SOAK_SKIP_BUILD=1 (reuse stampede:<version>), STAMPEDE_BUILD_PROFILE
# (to build-image.sh), SOAK_FAULT_EVERY (seconds, 80), SOAK_FAULTS (the
# rotation, "kill,cut,master"), SOAK_CUT_S (15), SOAK_MASTER_DOWN_S (5),
# SOAK_SAMPLE_S (30), SOAK_HEAL_S (300: the longest wait for full load around
# a fault; longer is a note, not a failure), SOAK_USERS (1000), SOAK_SPAWN_RATE
# (10), SOAK_WORKERS (4).
# Results: target/soak/<stamp>/ (events.log, rss.csv, soak.json, results.md,
# compose.log); target/soak/latest points at the last one. Exit 0 only if the
# count check passes, the master exits 0 and no process died unexpectedly.
# Load stays on the project's private networks; the cluster is always removed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
MINUTES=${1:-60}
[[ $MINUTES =~ ^[0-9]+$ ]] && ((MINUTES > 0)) || { echo "usage: bench/soak.sh [MINUTES]" >&2; exit 2; }
EVERY=${SOAK_FAULT_EVERY:-80}
EVERY=${EVERY%s}
FAULTS=${SOAK_FAULTS:-kill,cut,master}
CUT_S=${SOAK_CUT_S:-15}
DOWN_S=${SOAK_MASTER_DOWN_S:-5}
SAMPLE_S=${SOAK_SAMPLE_S:-30}
HEAL_S=${SOAK_HEAL_S:-300}
USERS=${SOAK_USERS:-1000}
RATE=${SOAK_SPAWN_RATE:-10}
WORKERS=${SOAK_WORKERS:-4}
WAIT_MIN_S=1 # the scenario's shortest wait (between: [1s, 5s])
REPORT_S=1   # an upper bound of the workers' report interval (250 ms)

out="$root/target/soak/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
ln -sfn "$(basename "$out")" "$root/target/soak/latest"
t0=$SECONDS
t0_epoch=$(date +%s)
log() { printf '[%s %5ss] %s\n' "$(date +%T)" "$((SECONDS - t0))" "$*" | tee -a "$out/events.log"; }
FAILED=""
fail() { FAILED="$*"; log "FAIL: $*"; exit 1; }
PROBLEMS=()
problem() { PROBLEMS+=("$*"); log "PROBLEM: $*"; }
# A slow recovery is worth knowing but is no failure (the counts and the processes are).
NOTES=()
note() { NOTES+=("$*"); log "NOTE: $*"; }
# wait_for DESCRIPTION TIMEOUT_S COMMAND...: 0 once COMMAND succeeds, 1 after TIMEOUT_S.
wait_for() {
  local what=$1 timeout=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after ${timeout}s waiting for: $what"; return 1; }
    sleep 0.5
  done
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for tool in docker docker-compose curl python3 flock timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done
docker info >/dev/null 2>&1 || fail "the Docker daemon is unreachable"
exec {lock_fd}>"$root/target/.soak.lock"
flock -n "$lock_fd" || fail "another bench/soak.sh runs in this checkout"

# ---------------------------------------------------------------- image
if [[ ${SOAK_SKIP_BUILD:-} == 1 ]]; then
  version=$(cargo metadata --format-version 1 --no-deps --locked |
    json 'next(p["version"] for p in d["packages"] if p["name"] == "stampede")')
  image="stampede:$version"
  docker image inspect "$image" >/dev/null 2>&1 || fail "SOAK_SKIP_BUILD=1 but there is no image $image"
else
  bash deploy/build-image.sh 2>"$out/build-image.log" >"$out/image-name" ||
    fail "the image build failed (log: $out/build-image.log)"
  image=$(tail -n1 "$out/image-name")
fi
log "image $image (profile $(docker image inspect -f '{{index .Config.Labels "stampede.build-profile"}}' "$image"))"

# ---------------------------------------------------------------- the cluster
project="stampede-soak-$(date +%s)-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/stampede-soak.XXXXXX")
mkdir -p "$work/reports" && chmod 0777 "$work/reports" # the master runs as nobody
cat >"$work/soak.yml" <<EOF
# bench/soak.sh's override: the seed's workload for ${MINUTES} minutes, a JSON
# report, metrics on an ephemeral 127.0.0.1 port, the state dir on the volume.
services:
  master:
    command: [master, -f, /scenarios/shop.yaml, --host, "http://shop:8000",
      -u, "$USERS", -r, "$RATE", -t, "${MINUTES}m", --headless,
      --expect-workers, "$WORKERS", --expect-workers-max-wait, 120s,
      --bind, "0.0.0.0:5557", --health-listen, "0.0.0.0:8081",
      --metrics-listen, "0.0.0.0:9646", --print-stats-interval, 60s,
      --json, /reports/soak.json, --state-dir, /state]
    volumes: ["$work/reports:/reports"]
    ports: ["127.0.0.1::9646"]
EOF
export STAMPEDE_IMAGE="$image" STAMPEDE_SCENARIOS="$root/scenarios"
export STAMPEDE_MASTER_PORT="" STAMPEDE_UI_PORT="" STAMPEDE_SHOP_PORT="" # ephemeral, 127.0.0.1
export STAMPEDE_TOKEN
STAMPEDE_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
dc() { timeout 120 docker-compose --ansi never -p "$project" -f deploy/docker-compose.yml -f "$work/soak.yml" "$@"; }
sampler=""

cleanup() {
  local rc=$?
  set +e
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null
  if docker ps -aq --filter "label=com.docker.compose.project=$project" | grep -q .; then
    dc logs --no-color -t >"$out/compose.log" 2>&1
  fi
  cp "$work/reports/soak.json" "$out/" 2>/dev/null
  dc down -v --remove-orphans -t 5 >/dev/null 2>&1
  docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null 2>&1
  docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null 2>&1
  docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null 2>&1
  rm -rf "$work"
  if ((rc == 0)); then log "PASS ($((SECONDS - t0)) s); results in $out/results.md"; else log "FAILED${FAILED:+: $FAILED} (logs in $out)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "project $project: shop and $WORKERS workers; $MINUTES min run, a fault every ${EVERY}s ($FAULTS)"
dc up -d --scale worker="$WORKERS" shop worker 2>"$out/compose-up.log" || fail "docker-compose up failed: $(tail -n3 "$out/compose-up.log")"
shop_url="http://$(dc port shop 8000)"
[[ $shop_url == http://127.0.0.1:* ]] || fail "the shop is published on '$shop_url'"
wait_for "the shop's /_stats" 30 curl -fsS --max-time 2 "$shop_url/_stats" || fail "no shop"
served() { curl -fsS --max-time 5 "$shop_url/_stats" | json 'd["served"]'; }
mapfile -t workers < <(dc ps -q worker | sort)
((${#workers[@]} == WORKERS)) || fail "expected $WORKERS worker containers, got ${#workers[@]}"
net="${project}_cluster"
logs_count() { docker logs "$1" 2>&1 | grep -cE "$2" || true; }
for c in "${workers[@]}"; do
  wait_for "worker ${c:0:12} to start" 30 bash -c "docker logs $c 2>&1 | grep -q 'worker starting'" || fail "a worker did not start"
done
served0=$(served)
dc up -d --no-deps master 2>>"$out/compose-up.log" || fail "cannot start the master"
master=$(dc ps -q master)
# The run starts as soon as the (already started) workers join it: -t counts from here.
run_start=$SECONDS
end=$((run_start + MINUTES * 60))

# The RSS sampler: every SAMPLE_S, VmRSS of each container's process (its pid
# from docker inspect, read in /proc on the host) into rss.csv.
echo "unix_s,elapsed_s,service,container,pid,rss_kb" >"$out/rss.csv"
(
  while :; do
    for c in $(docker ps -q --filter "label=com.docker.compose.project=$project"); do
      read -r name pid svc < <(docker inspect -f '{{.Name}} {{.State.Pid}} {{index .Config.Labels "com.docker.compose.service"}}' "$c" 2>/dev/null) || continue
      rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || continue
      now=$(date +%s)
      [[ -n $rss && $pid != 0 ]] && echo "$now,$((now - t0_epoch)),$svc,${name#/},$pid,$rss" >>"$out/rss.csv"
    done
    sleep "$SAMPLE_S"
  done
) &
sampler=$!

# The master's metrics, on whatever host port its container has now.
metrics() { curl -fsS --max-time 3 "http://$(docker port "$master" 9646/tcp | head -n1)/metrics"; }
healthy() {
  local m
  m=$(metrics) || return 1
  grep -qxF "stampede_users $USERS" <<<"$m" && grep -qxF "stampede_workers{state=\"running\"} $WORKERS" <<<"$m"
}
running_workers() { metrics | sed -nE 's/^stampede_workers\{state="running"\} ([0-9]+)$/\1/p'; }
# gap: served - counted now (counted read first; in flight and unreported included): informative only.
gap() { local s m; m=$(metrics | awk '/^stampede_requests_total\{/ { n += $2 } END { print n + 0 }') && s=$(served) && echo $((s - served0 - m)); }
master_running() { [[ $(docker inspect -f '{{.State.Running}}' "$master") == true ]]; }

ramp=$((USERS / RATE + 120))
wait_for "all $USERS users on $WORKERS workers" "$ramp" healthy || fail "the run never reached full load"
log "full load: $USERS users on $WORKERS workers after $((SECONDS - run_start)) s; the run ends about $(date -d "@$(($(date +%s) + end - SECONDS))" +%T)"

IFS=, read -ra rotation <<<"$FAULTS"
declare -A done_count=([kill]=0 [cut]=0 [master]=0)
declare -A restarts=() # container -> restarts we caused
bound=0 i=0 w=0
next=$((SECONDS + EVERY))
# Full load again, or the run is over (a wait then ends at once).
settled() { ! master_running || healthy; }
# A fault every EVERY s, or as soon as the last one healed if that took longer.
# None in the last 2 minutes (or two fault periods): the last must heal before the end.
while master_running && ((next < end - 120 && next < end - 2 * EVERY)); do
  sleep $((next - SECONDS > 0 ? next - SECONDS : 0))
  wait_for "a healthy cluster before the fault" "$HEAL_S" settled || note "not at full load before fault $((i + 1)) (waited ${HEAL_S} s)"
  master_running && ((SECONDS < end - 120 && SECONDS < end - 2 * EVERY)) || break
  kind=${rotation[i % ${#rotation[@]}]}
  victim=${workers[w % WORKERS]}
  g0=$(gap || echo '?')
  f0=$SECONDS
  case $kind in
    kill)
      running=$(running_workers || echo 1)
      per=$(((USERS + running - 1) / ${running:-1}))
      starts=$(logs_count "$victim" 'worker starting')
      docker kill "$victim" >/dev/null
      bound=$((bound + per * (REPORT_S / WAIT_MIN_S + 3)))
      sleep 2
      docker start "$victim" >/dev/null
      restarts[$victim]=$((${restarts[$victim]:-0} + 1))
      wait_for "the killed worker to start again" 30 bash -c "(( \$(docker logs $victim 2>&1 | grep -c 'worker starting') > $starts ))" ||
        problem "the killed worker ${victim:0:12} did not start again"
      what="killed worker ${victim:0:12} ($per users) and started it again 2 s later"
      w=$((w + 1)) ;;
    cut)
      joins=$(logs_count "$master" 'rejoin=true')
      docker network disconnect "$net" "$victim"
      sleep "$CUT_S"
      docker network connect "$net" "$victim"
      wait_for "the cut worker to rejoin" 60 bash -c "(( \$(docker logs $master 2>&1 | grep -c 'rejoin=true') > $joins ))" ||
        problem "the cut worker ${victim:0:12} did not rejoin"
      what="cut worker ${victim:0:12} off the master for ${CUT_S} s"
      w=$((w + 1)) ;;
    master)
      resumes=$(logs_count "$master" 'run resumed from the state dir')
      docker kill "$master" >/dev/null
      sleep "$DOWN_S"
      docker start "$master" >/dev/null
      restarts[$master]=$((${restarts[$master]:-0} + 1))
      wait_for "the master to resume its run" 60 bash -c "(( \$(docker logs $master 2>&1 | grep -c 'run resumed from the state dir') > $resumes ))" ||
        problem "the master did not resume its run"
      what="killed the master, started it again ${DOWN_S} s later: resumed" ;;
    *) fail "unknown fault '$kind' in SOAK_FAULTS" ;;
  esac
  healed="full load again"
  wait_for "a healthy cluster after the fault" "$HEAL_S" settled && master_running || {
    healed="NOT at full load"
    note "not at full load ${HEAL_S} s after fault $((i + 1)) ($kind)"
  }
  i=$((i + 1))
  done_count[$kind]=$((${done_count[$kind]} + 1))
  log "fault $i ($kind) at run minute $(((f0 - run_start) / 60)): $what; $healed after $((SECONDS - f0)) s; gap served-counted before $g0, after $(gap || echo '?')"
  next=$((next + EVERY > SECONDS ? next + EVERY : SECONDS))
done
log "faults done: ${done_count[kill]} worker kills, ${done_count[cut]} cut-offs, ${done_count[master]} master restarts; waiting for the run's end"

wait_for "the master to finish the run" $((end - SECONDS + 300)) bash -c "! docker inspect -f '{{.State.Running}}' $master | grep -q true" ||
  fail "the master did not finish"
code=$(docker inspect -f '{{.State.ExitCode}}' "$master")
sleep 1
served_run=$(($(served) - served0))
docker logs "$master" >"$out/master.log" 2>&1
kill "$sampler" 2>/dev/null; sampler=""
cp "$work/reports/soak.json" "$out/soak.json" 2>/dev/null || fail "no JSON report"
read -r requests failures duration outages outage_s < <(json '" ".join(map(str, [d["total"]["requests"], d["total"]["failures"], d["run"]["duration_s"], len(d["outages"]), round(sum(o["length_s"] for o in d["outages"]), 1)]))' <"$out/soak.json")
lost=$((served_run - requests))
((code == 0)) || problem "the master exited with $code (log: $out/master.log)"
((lost >= 0)) || problem "counted $requests requests but the shop served only $served_run (counted twice?)"
((lost <= bound)) || problem "counted $requests, served $served_run: $lost lost, over the bound $bound"
((outages == done_count[master])) || problem "the report lists $outages outages, expected ${done_count[master]}"
# No process died but those we killed: each container ran 1 + (our restarts) processes, and is up (the master exited).
for c in "${workers[@]}" "$(dc ps -q shop)"; do
  st=$(docker inspect -f '{{.State.Running}} {{.State.OOMKilled}} {{.RestartCount}}' "$c")
  [[ $st == "true false 0" ]] || problem "container ${c:0:12}: running/oom/restarts = $st"
done
while read -r name pids; do
  id=$(docker inspect -f '{{.Id}}' "$name")
  ((pids == 1 + ${restarts[$id]:-0} + ${restarts[${id:0:12}]:-0})) || problem "$name ran $pids processes, we restarted it ${restarts[$id]:-0} times"
done < <(python3 -c 'import csv,sys,collections
p=collections.defaultdict(set)
for r in csv.DictReader(open(sys.argv[1])): p[r["container"]].add(r["pid"])
for c,s in sorted(p.items()): print(c, len(s))' "$out/rss.csv")

{
  echo "# Soak: $MINUTES min, $(date -u +%FT%TZ)"
  echo
  echo "- image $image; $USERS users at $RATE/s on $WORKERS workers, scenarios/shop.yaml; a fault every ${EVERY}s"
  echo "- faults: ${done_count[kill]} worker kills, ${done_count[cut]} cut-offs of ${CUT_S} s, ${done_count[master]} master kills (down ${DOWN_S} s, resumed)"
  echo "- master: exit $code; run ${duration} s; $outages outages in the report, ${outage_s} s in all"
  echo "- counted $requests requests ($failures failures), the shop served $served_run: lost $lost (bound $bound, 0 with no kill)"
  echo "- $(grep -m1 '^scenario ' "$out/master.log" || echo 'no summary line')"
  echo
  python3 - "$out/rss.csv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| process | pids | samples | RSS min | median | max (MiB) | first 10 min median | last 10 min median | growth |")
print("|---|---|---|---|---|---|---|---|---|")
t_end = max(int(r["elapsed_s"]) for r in rows)
t_beg = min(int(r["elapsed_s"]) for r in rows)
for name in sorted({r["container"] for r in rows}):
    rs = [r for r in rows if r["container"] == name]
    kb = [int(r["rss_kb"]) for r in rs]
    first = [int(r["rss_kb"]) for r in rs if int(r["elapsed_s"]) < t_beg + 600]
    last = [int(r["rss_kb"]) for r in rs if int(r["elapsed_s"]) > t_end - 600]
    mib = lambda v: f"{v / 1024:.1f}"
    f, l = statistics.median(first), statistics.median(last)
    print(f"| {name} | {len({r['pid'] for r in rs})} | {len(rs)} | {mib(min(kb))} | {mib(statistics.median(kb))} | {mib(max(kb))} | {mib(f)} | {mib(l)} | {100 * (l - f) / f:+.0f}% |")
EOF
  echo
  ((${#NOTES[@]} == 0)) || printf -- '- note: %s\n' "${NOTES[@]}"
  if ((${#PROBLEMS[@]})); then printf -- '- PROBLEM: %s\n' "${PROBLEMS[@]}"; else echo "- no problem: counts within the bound, master exit 0, no unexpected process death"; fi
} >"$out/results.md"
cat "$out/results.md"
((${#PROBLEMS[@]} == 0)) || { FAILED="${#PROBLEMS[@]} problems"; exit 1; }
