#!/usr/bin/env bash
# Runs `crmsync_bench scaleout`: starts a PostgreSQL server and a redis-server
# on free loopback ports in a temp folder (Debian's postgresql and
# redis-server packages; scripts/install-deps.sh with INSTALL_BROWSER=1
# installs both), creates one database per engine count, runs the benchmark
# and stops both servers.
#
#   bash bench/scale_out.sh [--events N] [--clients N] [--queue redis|store]
#
# --queue store runs the same engines with the queue in PostgreSQL (FOR UPDATE
# SKIP LOCKED) instead of on Redis, for comparison.
#
# Builds Release into build/release first. Prints what crmsync_bench prints.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target crmsync_bench crmsync generic-rest-crm reference-crm >/dev/null

work="$(mktemp -d /tmp/crmsync-scale-XXXXXX)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
pg_port="$(free_port)"
redis_port="$(free_port)"
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"${as_pg[@]}" "$pg_bin/initdb" -N -A trust -U postgres -E UTF8 --locale=C -D "$work/pg" >/dev/null
# Durable commits, as production runs: synchronous_commit and fsync stay on.
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
for n in 1 2 3; do
  "${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "bench_$n"
done
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  --daemonize no >/dev/null &
redis_pid=$!
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

"$build/bench/crmsync_bench" scaleout \
  --pg-url "host=127.0.0.1 port=$pg_port user=postgres dbname=bench_" \
  --redis-url "redis://127.0.0.1:$redis_port" "$@"
