#!/usr/bin/env bash
# Cluster fault tests on real containers (docs/CLUSTER-TESTS.md): validates the
# Kubernetes manifests, builds the image, brings up the compose cluster (shop
# and 3 workers, project name unique to this run), then runs headless master
# runs of deploy/scenarios/cluster-test.yaml and checks the merged request
# count against what the shop served (GET /_stats, over 127.0.0.1):
#
#   0. a run with no fault: counts equal;
#   1. `docker kill` a worker mid-run: the run completes (exit 0), the two others
#      take its users, and the count is short by at most what the killed worker
#      measured since its last report plus its in-flight requests;
#   2. `docker network disconnect` a worker from its master for 10 s: marked
#      missing, rejoins, its buffered reports arrive once: counts equal;
#   3. stop the master mid-run (`docker stop`: SIGTERM): the interrupted run
#      ends gracefully with equal counts; a new master (a new state dir), the
#      workers reconnect by themselves and the next run completes (exit 0),
#      counts equal;
#   2b. the same for 30 s, longer than the worker's --master-timeout (20 s
#      here): it stops its load, rejoins, runs its users again: counts equal;
#   3b. `docker kill` the master mid-run and `docker start` it again: the same
#      command on the same state dir resumes the run, which ends on time with
#      one report counting exactly what the shop served over the whole run
#      (the workers measured through the outage), the outage in it.
#   4. recreate the master with docker-compose.ui.yml (the web UI): 401
#      without the token, the page with it, the workers join, a 10 s run
#      started with POST /api/swarm: counts equal.
#
#   bash deploy/test-cluster.sh
#
# Needs docker (a reachable daemon), docker-compose v1, curl, python3 and
# kubernetes-validate (pip install kubernetes-validate); without them it fails
# loudly (it never passes without running). All load stays on the project's
# private Docker networks; the host only reads the shop's /_stats and the
# master's /metrics over 127.0.0.1. Logs and results: target/cluster-tests/.
# CT_SKIP_BUILD=1 reuses an existing stampede:<version> image (development only);
# STAMPEDE_BUILD_PROFILE goes to build-image.sh (.ci/run sets ci-image).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out="$root/target/cluster-tests"
t0=$SECONDS

# ---------------------------------------------------------------- helpers

log() { printf '[%s %4ss] %s\n' "$(date +%T)" "$((SECONDS - t0))" "$*"; }

loud() {
  {
    echo
    echo "######################################################################"
    echo "##"
    echo "##  CLUSTER TESTS DID NOT RUN: $*"
    echo "##"
    echo "##  This is a failure, not a skip: the container image, the compose"
    echo "##  cluster and its fault tests were NOT checked on this machine."
    echo "##"
    echo "######################################################################"
    echo
  } >&2
  exit 1
}

FAILED=""
fail() {
  FAILED="$*"
  echo "FAIL: $*" >&2
  exit 1
}

# Microseconds since the epoch.
now_us() { echo "${EPOCHREALTIME/./}"; }
# Seconds between two now_us stamps, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: polls COMMAND every 0.2 s until it
# succeeds; fails the test after TIMEOUT_S.
wait_for() {
  local what=$1 timeout=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${timeout}s waiting for: $what"
    fi
    sleep 0.2
  done
}

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---------------------------------------------------------------- preflight

command -v docker >/dev/null || loud "docker is not installed"
if ! docker_err=$(docker info 2>&1 >/dev/null); then
  loud "the Docker daemon is unreachable: $(tail -n1 <<<"$docker_err")"
fi
command -v docker-compose >/dev/null || loud "docker-compose (v1, the hyphenated command) is not installed"
for tool in curl python3 awk flock; do
  command -v "$tool" >/dev/null || loud "$tool is not installed"
done
command -v kubernetes-validate >/dev/null ||
  loud "kubernetes-validate is not installed (pip install kubernetes-validate)"

# One run at a time per checkout: a second one would wipe this one's logs and
# reports under target/cluster-tests/.
mkdir -p "$root/target"
exec {lock_fd}>"$root/target/.cluster-tests.lock"
flock -n "$lock_fd" ||
  fail "another deploy/test-cluster.sh is running in this checkout (it holds $root/target/.cluster-tests.lock)"

rm -rf "$out"
mkdir -p "$out"
results="$out/results.md"
: >"$results"
record() { echo "$*" | tee -a "$results"; }

log "== Kubernetes manifests"
bash deploy/k8s/validate.sh >"$out/k8s-validate.log" 2>&1 || {
  cat "$out/k8s-validate.log" >&2
  fail "the Kubernetes manifests do not validate"
}
record "- k8s: $(grep -c ' passed for resource ' "$out/k8s-validate.log") resources in deploy/k8s/ pass \`kubernetes-validate --strict\` (Kubernetes ${K8S_VERSION:-1.30.0})"

log "== image"
build_start=$SECONDS
if [[ ${CT_SKIP_BUILD:-} == 1 ]]; then
  version=$(cargo metadata --format-version 1 --no-deps --locked |
    json 'next(p["version"] for p in d["packages"] if p["name"] == "stampede")')
  image="stampede:$version"
  docker image inspect "$image" >/dev/null 2>&1 || fail "CT_SKIP_BUILD=1 but there is no image $image"
  log "CT_SKIP_BUILD=1: using the existing $image"
else
  # Its progress on stderr, to the terminal and the log (the pipeline waits for
  # tee, so the log is complete here); the image name on stdout's last line.
  bash deploy/build-image.sh 2>&1 >"$out/image-name" | tee "$out/build-image.log" >&2 ||
    fail "the image build failed (log: $out/build-image.log)"
  image=$(tail -n1 "$out/image-name")
fi
image_size=$(docker image inspect -f '{{.Size}}' "$image")
if [[ ${CT_SKIP_BUILD:-} == 1 ]]; then
  record "- image: $image, $((image_size / 1000 / 1000)) MB (not rebuilt: CT_SKIP_BUILD=1)"
else
  static_build=$(sed -nE 's/.*static build \(([^)]*)\) done in ([0-9]+) s.*/\2 s, profile \1/p' "$out/build-image.log" | tail -n1)
  record "- image: $image, $((image_size / 1000 / 1000)) MB, built in $((SECONDS - build_start)) s (the static build included: ${static_build:-?})"
fi

# ---------------------------------------------------------------- the cluster

project="stampede-ct-$(date +%s)-$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/stampede-ct.XXXXXX")
reports="$work/reports"
mkdir -p "$reports"
chmod 0777 "$reports" # the master runs as nobody (65534)

export STAMPEDE_IMAGE="$image"
export STAMPEDE_TOKEN
STAMPEDE_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export STAMPEDE_SCENARIOS="$root/deploy/scenarios"
export STAMPEDE_MASTER_PORT="" STAMPEDE_UI_PORT="" STAMPEDE_SHOP_PORT="" # ephemeral, 127.0.0.1
export CT_REPORTS="$reports"
export CT_USERS=30 CT_SPAWN_RATE=30 CT_RUN_TIME=25s CT_RUN=run CT_MASTER_TIMEOUT=${CT_MASTER_TIMEOUT:-20s}
WORKERS=3
WAIT_MS=200    # the scenario's constant wait
REPORT_S=1     # the workers' report interval

dc() {
  docker-compose --ansi never -p "$project" \
    -f deploy/docker-compose.yml -f deploy/docker-compose.test.yml "$@"
}

cleanup() {
  local rc=$?
  set +e
  if docker ps -aq --filter "label=com.docker.compose.project=$project" | grep -q .; then
    dc logs --no-color -t >"$out/compose.log" 2>&1
    if ((rc != 0)); then
      echo "---- last lines of each container's log ($out/compose.log has them all)" >&2
      for c in $(docker ps -aq --filter "label=com.docker.compose.project=$project"); do
        echo "-- $(docker inspect -f '{{.Name}}' "$c")" >&2
        docker logs --tail 25 "$c" 2>&1 | sed 's/^/   /' >&2
      done
    fi
  fi
  cp -r "$reports" "$out/" 2>/dev/null
  dc down -v --remove-orphans -t 5 >/dev/null 2>&1
  # Whatever compose left behind (a container started by hand, a network).
  docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null 2>&1
  docker ps -aq --filter "label=stampede.cluster-test=$project" | xargs -r docker rm -f >/dev/null 2>&1
  docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null 2>&1
  rm -rf "$work"
  if ((rc == 0)); then
    log "PASS: all cluster fault tests ($((SECONDS - t0)) s); results in $results"
  else
    log "FAILED${FAILED:+: $FAILED} (logs in $out)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "== image checks"
# The seed's scenario, mounted read-only, is readable by nobody and valid.
docker run --rm --network none -v "$root/scenarios:/scenarios:ro" "$image" \
  check -f /scenarios/shop.yaml >"$out/image-check.log" 2>&1 ||
  fail "the image cannot check /scenarios/shop.yaml: $(cat "$out/image-check.log")"
# The CA bundle is found by rustls-native-certs: a one-second HTTPS run against
# a shop on the container's own loopback (no network at all) loads the roots.
ca_shop="$project-ca-shop"
docker run -d --rm --name "$ca_shop" --label "stampede.cluster-test=$project" \
  --network none "$image" shop --listen 127.0.0.1:8000 >/dev/null
wait_for "the loopback shop for the CA check" 20 bash -c "docker logs $ca_shop 2>&1 | grep -q 'shop listening'"
timeout 60 docker run --rm -i --label "stampede.cluster-test=$project" --network "container:$ca_shop" \
  -e RUST_LOG=info,stampede_worker::http=debug "$image" \
  run -f - --host https://127.0.0.1:8000 -u 1 -r 1 -t 1s --headless --only-summary \
  <deploy/scenarios/cluster-test.yaml >"$out/image-ca.log" 2>&1 || true
docker rm -f "$ca_shop" >/dev/null 2>&1 || true
roots=$(sed -nE 's/.*loaded system root certificates added=([0-9]+).*/\1/p' "$out/image-ca.log" | head -n1)
((${roots:-0} > 0)) || fail "the image loads no CA certificate (log: $out/image-ca.log)"
record "- image checks: runs as $(docker image inspect -f '{{.Config.User}}' "$image"), validates the mounted scenarios/shop.yaml, loads $roots CA roots from /etc/ssl/certs/ca-certificates.crt"

log "== cluster: project $project, shop and $WORKERS workers"
dc up -d --scale worker=$WORKERS shop worker 2>"$out/compose-up.log" || {
  cat "$out/compose-up.log" >&2
  fail "docker-compose up failed"
}
shop_addr=$(dc port shop 8000)
[[ $shop_addr == 127.0.0.1:* ]] || fail "the shop is published on '$shop_addr', expected 127.0.0.1:PORT"
shop_url="http://$shop_addr"
wait_for "the shop's /_stats on $shop_url" 30 curl -fsS --max-time 2 "$shop_url/_stats"

served() { curl -fsS --max-time 3 "$shop_url/_stats" | json 'd["served"]'; }

# Worker containers, in order, and the id each one announced.
mapfile -t workers < <(dc ps -q worker | sort)
((${#workers[@]} == WORKERS)) || fail "expected $WORKERS worker containers, got ${#workers[@]}"
worker_id() {
  docker logs "$1" 2>&1 | grep 'worker starting' | tail -n1 | sed -E 's/.*worker=([^ ]+).*/\1/'
}
for c in "${workers[@]}"; do
  wait_for "worker ${c:0:12} to start" 20 bash -c "docker logs $c 2>&1 | grep -q 'worker starting'"
done
log "workers: $(for c in "${workers[@]}"; do printf '%s ' "$(worker_id "$c")"; done)"

# ---------------------------------------------------------------- master runs

master=""
metrics_url=""

# start_master NAME: (re)creates the master for a headless run writing
# /reports/NAME.json, and waits until all workers run their users.
start_master() {
  export CT_RUN=$1
  dc up -d --no-deps master 2>>"$out/compose-up.log" || fail "cannot start the master"
  master=$(dc ps -q master)
  attach_master
}

# attach_master: finds the master's metrics port and waits for the full load.
attach_master() {
  local addr
  wait_for "the master's metrics port" 20 dc port master 9646
  addr=$(dc port master 9646)
  metrics_url="http://$addr/metrics"
  wait_for "all $CT_USERS users running on $WORKERS workers" 60 \
    metrics_are "stampede_users $CT_USERS" "stampede_workers{state=\"running\"} $WORKERS"
}

# metrics_are LINE...: every LINE is in the master's /metrics now.
metrics_are() {
  local m
  m=$(curl -fsS --max-time 2 "$metrics_url") || return 1
  for line in "$@"; do
    grep -qxF "$line" <<<"$m" || return 1
  done
}

master_log() { docker logs "$master" 2>&1; }

# master_says PATTERN: the master's log has a line matching PATTERN (ERE).
master_says() { master_log | grep -Eq "$1"; }

# finish_run NAME: waits for the master to exit; checks exit 0; sets
# REQUESTS, FAILURES from the JSON report.
finish_run() {
  local name=$1 code
  wait_for "the master to finish run $name" 120 bash -c \
    "[[ \$(docker inspect -f '{{.State.Status}}' $master) == exited ]]"
  code=$(docker inspect -f '{{.State.ExitCode}}' "$master")
  master_log >"$out/master-$name.log"
  ((code == 0)) || fail "run $name: the master exited with $code (log: $out/master-$name.log)"
  [[ -s $reports/$name.json ]] || fail "run $name: no JSON report"
  REQUESTS=$(json 'd["total"]["requests"]' <"$reports/$name.json")
  FAILURES=$(json 'd["total"]["failures"]' <"$reports/$name.json")
  ((FAILURES == 0)) || fail "run $name: $FAILURES requests failed"
}

# summary_line NAME: the first line of the master's summary.
summary_line() { grep -m1 '^scenario ' "$out/master-$1.log" || true; }

# ---------------------------------------------------------------- 0. no fault

log "== 0. a run with no fault"
s0=$(served)
start_master baseline
finish_run baseline
served_run=$(($(served) - s0))
log "merged $REQUESTS requests, the shop served $served_run"
((REQUESTS == served_run)) || fail "baseline: merged $REQUESTS requests, the shop served $served_run"
record "- 0. no fault (the workers reached master:5557 and shop:8000 by compose service name): merged $REQUESTS = served $served_run; exit 0; $(summary_line baseline)"

# ---------------------------------------------------------------- 1. kill a worker

log "== 1. docker kill a worker mid-run"
victim=${workers[0]}
victim_id=$(worker_id "$victim")
s0=$(served)
start_master kill
sleep 5 # let the load run before the fault
kill_us=$(now_us)
docker kill "$victim" >/dev/null
log "killed worker $victim_id"
wait_for "the master to mark $victim_id missing" 15 \
  master_says "marked missing.*worker=$victim_id|worker=$victim_id.*marked missing"
detect_us=$(now_us)
wait_for "the two other workers to run all $CT_USERS users" 30 \
  metrics_are "stampede_users $CT_USERS" "stampede_workers{state=\"running\"} $((WORKERS - 1))" \
  "stampede_workers{state=\"missing\"} 1"
recover_us=$(now_us)
finish_run kill
served_run=$(($(served) - s0))
per_worker=$((CT_USERS / WORKERS))
# Lost at most: what the killed worker measured since its last report (each of
# its users completes at most REPORT_S/WAIT + 1 requests in one report
# interval) plus one in-flight request per user (served, never measured).
bound=$((per_worker * (REPORT_S * 1000 / WAIT_MS + 1) + per_worker))
lost=$((served_run - REQUESTS))
log "merged $REQUESTS, served $served_run: lost $lost (bound $bound)"
((lost >= 0)) || fail "kill: merged $REQUESTS requests but the shop served only $served_run (counted twice?)"
((lost <= bound)) || fail "kill: merged $REQUESTS, served $served_run: $lost lost, over the bound $bound"
record "- 1. kill: marked missing $(secs "$kill_us" "$detect_us") s after the kill, all $CT_USERS users running on the 2 others $(secs "$kill_us" "$recover_us") s after it; merged $REQUESTS, served $served_run, lost $lost (bound $bound = $per_worker users x ($((REPORT_S * 1000 / WAIT_MS)) + 1 requests per report interval + 1 in flight)); exit 0; $(summary_line kill)"
docker start "$victim" >/dev/null
wait_for "the killed worker's container to start again" 20 bash -c \
  "[[ \$(docker logs $victim 2>&1 | grep -c 'worker starting') -ge 2 ]]"
log "worker container restarted as $(worker_id "$victim")"

# ---------------------------------------------------------------- 2. partition a worker

net="${project}_cluster"

# partition NAME CUT_S RUN_TIME VICTIM: cuts VICTIM from the master's network
# CUT_S seconds into a RUN_TIME run, reconnects it, checks exact counts.
partition() {
  local name=$1 cut=$2 victim=$3 victim_id s0 stops_before stopped=""
  export CT_RUN_TIME=$4
  victim_id=$(worker_id "$victim")
  stops_before=$(docker logs "$victim" 2>&1 | grep -c 'reason="the master is unreachable"' || true)
  s0=$(served)
  start_master "$name"
  sleep 5
  cut_us=$(now_us)
  docker network disconnect "$net" "$victim"
  log "cut worker $victim_id from the master"
  wait_for "the master to mark $victim_id missing" 15 \
    master_says "marked missing.*worker=$victim_id|worker=$victim_id.*marked missing"
  detect_us=$(now_us)
  wait_for "the two other workers to run all $CT_USERS users" 20 \
    metrics_are "stampede_users $CT_USERS" "stampede_workers{state=\"running\"} $((WORKERS - 1))"
  takeover_us=$(now_us)
  # The fault lasts CUT_S seconds.
  sleep "$(awk -v c="$cut" -v a="$cut_us" -v b="$(now_us)" 'BEGIN { s = c - (b - a) / 1e6; print (s > 0 ? s : 0) }')"
  docker network connect "$net" "$victim"
  heal_us=$(now_us)
  log "reconnected worker $victim_id after $(secs "$cut_us" "$heal_us") s"
  wait_for "$victim_id to rejoin" 20 master_says "worker joined.*worker=$victim_id.*rejoin=true"
  rejoin_us=$(now_us)
  wait_for "all $CT_USERS users running on $WORKERS workers again" 20 \
    metrics_are "stampede_users $CT_USERS" "stampede_workers{state=\"running\"} $WORKERS"
  rebalanced_us=$(now_us)
  finish_run "$name"
  served_run=$(($(served) - s0))
  log "merged $REQUESTS, served $served_run"
  ((REQUESTS == served_run)) || fail "$name: merged $REQUESTS requests, the shop served $served_run"
  if (($(docker logs "$victim" 2>&1 | grep -c 'reason="the master is unreachable"' || true) > stops_before)); then
    stopped="the cut worker stopped its load after --master-timeout $CT_MASTER_TIMEOUT and started it again on rejoining"
  else
    stopped="the cut worker kept its load (--master-timeout $CT_MASTER_TIMEOUT)"
  fi
  missing_line=$(grep -E "marked missing.*worker=$victim_id|worker=$victim_id.*marked missing" "$out/master-$name.log" | head -n1 | sed -E 's/^.*(WARN|INFO) //')
  PARTITION_RESULT="$(secs "$cut_us" "$heal_us") s cut, $stopped: marked missing $(secs "$cut_us" "$detect_us") s after the cut (\`$missing_line\`), its users on the others $(secs "$cut_us" "$takeover_us") s after it; rejoined (rejoin=true) $(secs "$heal_us" "$rejoin_us") s after the reconnect, users rebalanced over 3 workers $(secs "$heal_us" "$rebalanced_us") s after it; merged $REQUESTS = served $served_run; exit 0; $(summary_line "$name")"
}

CUT_S=${CT_CUT_S:-10}
log "== 2. docker network disconnect a worker for $CUT_S s"
partition partition "$CUT_S" "${workers[1]}" 35s
if ((CUT_S < 15)) && [[ $PARTITION_RESULT != *"kept its load"* ]]; then
  fail "partition: the cut worker stopped its load within a ${CUT_S} s cut (--master-timeout $CT_MASTER_TIMEOUT)"
fi
record "- 2. partition: $PARTITION_RESULT"

log "== 2b. docker network disconnect a worker for 30 s, longer than its --master-timeout"
partition partition-long 30 "${workers[2]}" 55s
[[ $PARTITION_RESULT == *"stopped its load"* ]] ||
  fail "partition-long: the cut worker did not stop its load after --master-timeout $CT_MASTER_TIMEOUT"
record "- 2b. long partition: $PARTITION_RESULT"

# ---------------------------------------------------------------- 3. restart the master

log "== 3. restart the master mid-run (docker stop, docker start)"
export CT_RUN_TIME=25s
s0=$(served)
start_master restart
sleep 5
stop_us=$(now_us)
docker stop -t 20 "$master" >/dev/null # SIGTERM: the run stops gracefully
finish_run restart
stopped_us=$(now_us)
served_run=$(($(served) - s0))
stop_reason=$(json 'd["run"]["stop_reason"]' <"$reports/restart.json")
log "interrupted run ($stop_reason): merged $REQUESTS, served $served_run"
[[ $stop_reason == interrupted ]] || fail "restart: stop_reason $stop_reason, expected interrupted"
((REQUESTS == served_run)) || fail "restart: the interrupted run merged $REQUESTS requests, the shop served $served_run"
interrupted_summary=$(summary_line restart)
interrupted="merged $REQUESTS = served $served_run, stopped $(secs "$stop_us" "$stopped_us") s after SIGTERM, stop_reason interrupted, exit 0 ($interrupted_summary)"
mv "$reports/restart.json" "$reports/restart-interrupted.json"
s0=$(served)
# Its state dir holds a finished run now: the next run is a new master's.
start_us=$(now_us)
start_master restart-next
attached_us=$(now_us)
finish_run restart-next
served_run=$(($(served) - s0))
log "next run: merged $REQUESTS, served $served_run"
((REQUESTS == served_run)) || fail "restart: the next run merged $REQUESTS requests, the shop served $served_run"
record "- 3. master stopped mid-run (\`docker stop\`): the interrupted run $interrupted; a new master: all $WORKERS workers reconnected by themselves and ran all $CT_USERS users $(secs "$start_us" "$attached_us") s later; the next run: merged $REQUESTS = served $served_run; exit 0; $(summary_line restart-next)"

# ---------------------------------------------------------------- 3b. crash the master

# CT_MASTER_CRASH=0 skips it.
if [[ ${CT_MASTER_CRASH:-1} == 1 ]]; then
  log "== 3b. docker kill the master mid-run, docker start it: it resumes the run"
  s0=$(served)
  start_master crash
  sleep 5 # let the load run before the fault
  kill_us=$(now_us)
  docker kill "$master" >/dev/null
  log "killed the master; the workers measure on"
  sleep 2 # the outage
  docker start "$master" >/dev/null
  start_us=$(now_us)
  wait_for "the master to resume its run" 20 master_says "run resumed from the state dir"
  attach_master
  attached_us=$(now_us)
  finish_run crash
  served_run=$(($(served) - s0))
  outages=$(json 'len(d["outages"])' <"$reports/crash.json")
  outage_s=$(json 'd["outages"][0]["length_s"] if d["outages"] else 0' <"$reports/crash.json")
  duration=$(json 'd["run"]["duration_s"]' <"$reports/crash.json")
  log "resumed run: merged $REQUESTS, served $served_run, outage ${outage_s} s, run ${duration} s"
  ((REQUESTS == served_run)) || fail "crash: the resumed run merged $REQUESTS requests, the shop served $served_run"
  ((outages == 1)) || fail "crash: the report shows $outages outages, expected 1"
  record "- 3b. master killed mid-run (\`docker kill\`) and started again (\`docker start\`, the same command on the same state dir): it resumed the run, all $WORKERS workers were back with all $CT_USERS users $(secs "$start_us" "$attached_us") s after the start; one report for the whole run (${duration} s, the outage of ${outage_s} s in it): merged $REQUESTS = served $served_run over the whole run; exit 0; $(summary_line crash)"
fi

# ---------------------------------------------------------------- 4. the web UI

# The master of docker-compose.ui.yml, on the same workers: the UI answers on its
# published 127.0.0.1 port, wants the token, and a bounded run started through
# its API counts what the shop served.
log "== 4. the master with its web UI (docker-compose.ui.yml)"
export STAMPEDE_WEB_TOKEN STAMPEDE_SCENARIO=/scenarios/cluster-test.yaml
STAMPEDE_WEB_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
dc -f deploy/docker-compose.ui.yml up -d --no-deps master 2>>"$out/compose-up.log" ||
  fail "cannot start the master with docker-compose.ui.yml"
master=$(dc ps -q master)
ui_start_us=$(now_us)
wait_for "the web UI's published port" 20 dc -f deploy/docker-compose.ui.yml port master 8089
ui_addr=$(dc -f deploy/docker-compose.ui.yml port master 8089)
[[ $ui_addr == 127.0.0.1:* ]] || fail "the web UI is published on '$ui_addr', expected 127.0.0.1:PORT"
ui="http://$ui_addr"
wait_for "the web UI's /healthz on $ui" 20 curl -fsS --max-time 2 "$ui/healthz"
api() { curl -fsS --max-time 5 -H "Authorization: Bearer $STAMPEDE_WEB_TOKEN" "$@"; }
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$ui/")
[[ $code == 401 ]] || fail "ui: / without the token answered $code, expected 401"
api -o "$out/ui-index.html" "$ui/" || fail "ui: / with the token failed"
grep -qi '<html' "$out/ui-index.html" || fail "ui: / is not the page (saved in $out/ui-index.html)"
ui_workers() { [[ $(api "$ui/api/workers" | json 'len(d["workers"])') == "$WORKERS" ]]; }
wait_for "$WORKERS workers connected to the UI master" 30 ui_workers
ui_ready_us=$(now_us)
s0=$(served)
api -X POST "$ui/api/swarm" -H 'content-type: application/json' \
  -d "{\"users\": $CT_USERS, \"spawn_rate\": $CT_SPAWN_RATE, \"run_time\": \"10s\"}" >"$out/ui-swarm.json" ||
  fail "ui: POST /api/swarm failed"
ui_stats_are() { [[ $(api "$ui/api/stats" | json "$1") == "$2" ]]; }
wait_for "the UI run to reach $CT_USERS users" 20 ui_stats_are 'd["user_count"]' "$CT_USERS"
wait_for "the UI run to stop at its run time" 40 ui_stats_are 'd["state"]' stopped
# The stats are final once the state is stopped; the shop's count must match.
ui_requests=$(api "$ui/api/stats" | json 'd["total"]["requests"]')
served_run=$(($(served) - s0))
log "merged $ui_requests, served $served_run"
((ui_requests == served_run)) || fail "ui: the run merged $ui_requests requests, the shop served $served_run"
docker stop -t 20 "$master" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "$master")
master_log >"$out/master-ui.log"
((code == 0)) || fail "ui: the master exited with $code after SIGTERM (log: $out/master-ui.log)"
record "- 4. web UI (\`-f deploy/docker-compose.ui.yml\`): published on 127.0.0.1, 401 without the token, the page with it; the $WORKERS workers joined the new master $(secs "$ui_start_us" "$ui_ready_us") s after its start; a 10 s run of $CT_USERS users started with \`POST /api/swarm\`: merged $ui_requests = served $served_run; exit 0 on SIGTERM"
