#!/usr/bin/env bash
# Runs the timing-sensitive tests (ctest labels `integration` and `e2e`: the
# ones with threads, servers, ports, child processes and deadlines) N times and
# prints, per case, how often it failed. Not part of .ci/run: it takes about
# N times the suite's time. A case that fails once in N is a failing case.
#
#   bash scripts/flake-hunt.sh [N] [--busy] [ctest args...]
#
#   N          runs (default 20)
#   --busy     keep both cores busy with stress-ng (installed if missing) for the
#              whole hunt, to find the cases that only fail on a loaded machine
#   ctest args passed on, e.g. -R dispatcher to hunt in one executable
#
# FLAKE_LABELS (default 'integration|e2e') picks the labels; BUILD_DIR (default
# build/debug) the build. Logs of runs with failures stay in
# $BUILD_DIR/flake-hunt/. Exits 1 when any case failed.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=20
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  runs=$1
  shift
fi
busy=0
args=()
for a in "$@"; do
  if [ "$a" = "--busy" ]; then busy=1; else args+=("$a"); fi
done
labels=${FLAKE_LABELS:-integration|e2e}
build=${BUILD_DIR:-build/debug}

INSTALL_BROWSER=1 bash scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2 >/dev/null

stress_pid=
cleanup() { [ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null; true; }
trap cleanup EXIT
if [ "$busy" = 1 ]; then
  if ! command -v stress-ng >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null; }
  fi
  stress-ng --cpu 2 --timeout 0 --quiet &
  stress_pid=$!
fi

logs="$PWD/$build/flake-hunt"
rm -rf "$logs"
mkdir -p "$logs"
failed_list="$PWD/$build/Testing/Temporary/LastTestsFailed.log"
declare -A fails=()
cases=$(cd "$build" && ctest -N -L "$labels" "${args[@]}" | sed -n 's/^ *Test *#[0-9]*: //p')
total=$(printf '%s\n' "$cases" | grep -c . || true)
echo "flake-hunt: $total case(s) labelled '$labels', $runs run(s)$([ "$busy" = 1 ] && echo ', machine kept busy')"

for ((i = 1; i <= runs; i++)); do
  rm -f "$failed_list"
  start=$(date +%s)
  log="$logs/run-$i.log"
  (cd "$build" && ctest -j2 -L "$labels" --timeout 600 --output-on-failure "${args[@]}" >"$log" 2>&1) ||
    true
  took=$(($(date +%s) - start))
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  names=()
  if [ -f "$failed_list" ]; then
    while IFS= read -r line; do
      name=${line#*:}
      [ -n "$name" ] || continue
      names+=("$name")
      fails[$name]=$((${fails[$name]:-0} + 1))
    done <"$failed_list"
  fi
  if [ ${#names[@]} -eq 0 ]; then
    rm -f "$log"
    echo "run $i/$runs: all passed (${took} s, load $load)"
  else
    echo "run $i/$runs: ${#names[@]} failed (${took} s, load $load; log $log):"
    printf '    %s\n' "${names[@]}"
  fi
done

echo
echo "per case, failures in $runs run(s):"
# Every case that failed, the fixtures' steps included (ctest adds those).
for name in "${!fails[@]}"; do
  printf '%4d/%d  %s\n' "${fails[$name]}" "$runs" "$name"
done | sort -rn
flaky=${#fails[@]}
echo "$((total - flaky < 0 ? 0 : total - flaky)) of $total case(s): 0/$runs failures; $flaky case(s) failed at least once"
[ "$flaky" -eq 0 ]
