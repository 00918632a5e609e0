#!/usr/bin/env bash
# Regenerates docs/report-screenshot.png: writes a sample HTML report from a
# synthetic 2-minute run (the ignored test `write_sample_report`) and takes a
# headless Chromium screenshot of it. Needs `chromium` (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test -p stampede-master --test html_report -- --ignored write_sample_report
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run \
    --user-data-dir="$profile" --window-size=1280,2400 \
    --screenshot=docs/report-screenshot.png "file://$PWD/target/sample-report.html"
echo "wrote docs/report-screenshot.png"
