#!/usr/bin/env bash
# Soak: the randomized fault-schedule test (tests/e2e/fault_schedule_test.cpp)
# with N schedules, default 100000, and its duration and counts. Not part of
# .ci/run: at 100000 schedules it runs for a long while.
#
#   bash scripts/soak.sh [N]
#
# Builds Release in build/release, or uses the build in BUILD_DIR (building
# only the targets the test needs there). CRMSYNC_FAULT_SEED (the first
# schedule's seed, default 1) and CRMSYNC_FAULT_ROUND (schedules at once,
# default 250) pass through to the test. The test's output goes to
# $BUILD_DIR/soak.log, every violation with its schedule to
# $BUILD_DIR/soak-report.txt. Exits with the test's status.
set -euo pipefail
cd "$(dirname "$0")/.."

schedules=${1:-100000}
if ! [[ $schedules =~ ^[0-9]+$ ]] || [ "$schedules" -lt 1 ]; then
  echo "usage: scripts/soak.sh [N]   (N schedules, default 100000)" >&2
  exit 64
fi
build=${BUILD_DIR:-build/release}
if [ -z "${BUILD_DIR:-}" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j2 --target crmsync generic-rest-crm reference-crm e2e_fault_schedule_test

log=$build/soak.log
report=$build/soak-report.txt
started=$(date +%s)
set +e
CRMSYNC_FAULT_SCHEDULES=$schedules CRMSYNC_FAULT_REPORT=$report \
  "$build/tests/e2e/e2e_fault_schedule_test" >"$log" 2>&1
status=$?
set -e
ended=$(date +%s)
# The test's own MESSAGE lines hold the seed range and the counts.
sed -n '/MESSAGE\|ERROR/,/^$/p' "$log" | head -80
echo "soak: $schedules schedules in $((ended - started)) s, exit status $status" \
  "(log: $log, violations: $report)"
exit "$status"
