#!/usr/bin/env bash
# The cost of the master's --state-dir snapshot, saved every second: its time
# and size for 20 and 50 endpoints after 10 minutes of run (the history's
# closed seconds are appended to their own log, not in the snapshot).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p stampede-common --example state_cost
for e in 20 50 200; do
  target/release/examples/state_cost "$e" 100 600 200
done
