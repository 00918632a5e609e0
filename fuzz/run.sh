#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation (stable
# rustc flags, as cargo-fuzz passes them without a sanitizer: the code under
# test has no unsafe) and runs each for SECONDS (default 60), starting from
# its committed seeds (fuzz/corpus/TARGET) and growing a working corpus under
# target/fuzz/. A crash, a panic, a hang past 10 s or a leak stops the run
# with exit 1 and leaves the input in target/fuzz/artifacts/TARGET/; copy it
# into fuzz/corpus/TARGET/ so the crates' tests replay it from then on.
#
#   bash fuzz/run.sh                 # every target, 60 s each
#   FUZZ_PROFILE=smoke bash fuzz/run.sh --jobs=2 60   # two at a time, built at
#                                    # opt-level 1 (what .ci/run does)
#   bash fuzz/run.sh 3600 h1_response   # one target for an hour
#
# New inputs that grew coverage stay in the working corpus; `--merge` folds
# them into the committed seeds (minimised by libFuzzer's -merge=1).
set -euo pipefail
cd "$(dirname "$0")"

merge=""
jobs=1
while [[ ${1:-} == --* ]]; do
  case $1 in
    --merge) merge=1 ;;
    --jobs=*) jobs=${1#--jobs=} ;;
    *) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(h1_response histogram scenario template worker_messages)
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
flags=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  -Cllvm-args=-sanitizer-coverage-stack-depth
  --cfg fuzzing
)
target_dir=../target/fuzz
# FUZZ_PROFILE=smoke builds at opt-level 1 (fuzz/Cargo.toml): what .ci/run uses.
profile=${FUZZ_PROFILE:-release}
echo "== building the fuzz targets ($triple)"
# --target keeps the instrumentation off build scripts and proc macros.
RUSTFLAGS="${flags[*]}" cargo build --locked --profile "$profile" --target "$triple" \
  --target-dir "$target_dir/build" --bins

# One target's run; its output goes to its log, its verdict to stdout.
fuzz_one() {
  local t=$1
  local bin="$target_dir/build/$triple/$profile/$t"
  local work="$target_dir/corpus/$t"
  local artifacts="$target_dir/artifacts/$t"
  mkdir -p "$work" "$artifacts" "corpus/$t"
  if ! "$bin" "$work" "corpus/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$artifacts/" -print_final_stats=1 2>"$target_dir/$t.log"; then
    echo "FAILED: $t found an input that fails; see $target_dir/$t.log and $artifacts/" >&2
    tail -n 40 "$target_dir/$t.log" >&2
    return 1
  fi
  echo "== $t: fuzzed for ${seconds}s"
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)" "$target_dir/$t.log" || true
  if [[ -n $merge ]]; then
    "$bin" -merge=1 "corpus/$t" "$work" 2>>"$target_dir/$t.log"
  fi
}

# --jobs=N runs N targets at once (each a single-threaded libFuzzer process,
# each still for SECONDS); .ci/run uses one per core.
status=0
running=0
echo "== fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time"
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || status=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
