#!/usr/bin/env bash
# Installs the Debian packages crmsync needs to build, run and test, when any is
# missing. Safe to run again: it does nothing when all are present.
# INSTALL_BROWSER=1 (set by scripts/test.sh) adds what the tests need beyond the
# build: Debian's chromium, and node/npm when no node is on PATH, for the
# dashboard test (it installs playwright-core with npm; node 20 or later), the
# PostgreSQL server the store.backend=postgres tests start on loopback, and
# redis-server, which the Redis tests start on loopback on a free port (its
# client library, PocoRedis, comes with libpoco-dev), and the Prometheus
# client's Python parser, which reads /metrics in the e2e tests.
set -euo pipefail

packages=(build-essential cmake pkg-config libpoco-dev doctest-dev libsqlite3-dev libssl-dev
          libpq-dev openssl curl ca-certificates python3 python3-yaml)
browser_packages=(chromium postgresql redis-server python3-prometheus-client)
if ! command -v node >/dev/null 2>&1; then
  browser_packages+=(nodejs npm)
fi
if [ "${INSTALL_BROWSER:-0}" = "1" ]; then
  packages+=("${browser_packages[@]}")
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "crmsync: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
