#!/usr/bin/env bash
# Installs what is missing, builds crmsync (Release) and runs the service on its
# embedded default: SQLite under ./var/, the mock-crm plugin, 127.0.0.1:8080.
# Extra arguments go to `crmsync serve` (e.g. --set server.port=9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCRMSYNC_BUILD_TESTS=OFF \
  -DCRMSYNC_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j2 --target crmsync mock-crm generic-rest-crm reference-crm
mkdir -p var
exec build/release/engine/crmsync serve --config config/crmsync.properties "$@"
