#!/usr/bin/env bash
# Installs what is missing (with the browser for the dashboard test), builds
# everything (Debug) and runs the whole test suite through ctest. SANITIZE=1
# builds with ASan + UBSan in build/asan.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dashboard's e2e test drives headless Chromium: install it too.
export INSTALL_BROWSER=1
bash scripts/install-deps.sh
build=build/debug
flags=(-DCMAKE_BUILD_TYPE=Debug)
if [ "${SANITIZE:-0}" = "1" ]; then
  build=build/asan
  flags+=(-DCRMSYNC_SANITIZE=ON)
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0"
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j2
cd "$build"
ctest -j2 --output-on-failure --timeout 600 "$@"
