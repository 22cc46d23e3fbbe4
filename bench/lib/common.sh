# Shared by the out-of-process benchmarks (bench/edges.sh, bench/compare.sh).
# Builds Release (unless BENCH_BUILD names one), then offers: start_crm, start_engine, wait_leads, proc_stats.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# BENCH_BUILD=DIR: an existing Release build to run (nothing is built).
build="${BENCH_BUILD:-$root/build/release}"
if [ -z "${BENCH_BUILD:-}" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target crmsync generic-rest-crm mock-crm reference-crm >/dev/null
fi
work="$(mktemp -d /tmp/crmsync-bench-XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 1
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# start_crm NAME [reference-crm flags...]: sets crm_pid, crm_port.
start_crm() {
  local name="$1"; shift
  crm_port="$(free_port)"
  "$build/tools/reference-crm/reference-crm" --port "$crm_port" --threads 256 \
    --api-key bench-key --api-secret bench-secret "$@" \
    >"$work/$name.crm.log" 2>&1 &
  crm_pid=$!
  pids+=("$crm_pid")
  until curl -sf "http://127.0.0.1:$crm_port/_stats" >/dev/null; do sleep 0.05; done
}

# start_engine NAME [--set k=v...]: the shipped config/crmsync.properties with only
# the CRM chosen (generic-rest-crm, the reference mapping, the CRM's URL and
# credentials), a fresh
# store and a free port. Sets engine_pid, engine_port.
start_engine() {
  local name="$1"; shift
  engine_port="$(free_port)"
  (cd "$work" && CRM_API_KEY=bench-key CRM_API_SECRET=bench-secret exec "$build/engine/crmsync" serve --config "$root/config/crmsync.properties" \
    --set "server.port=$engine_port" --set "store.path=$work/$name.db" \
    --set "plugins.dir=$build/plugins" --set crm.plugin=generic-rest-crm \
    --set "crm.mapping=$root/config/crms/sunshine-reference.json" \
    --set "crm.api.url=http://127.0.0.1:$crm_port" "$@" >"$work/$name.engine.log" 2>&1) &
  engine_pid=$!
  pids+=("$engine_pid")
  # engine_scheme=https with engine_cacert: the engine was given server.tls.*.
  until curl -sf ${engine_cacert:+--cacert "$engine_cacert"} "${engine_scheme:-http}://127.0.0.1:$engine_port/readyz" >/dev/null; do
    kill -0 "$engine_pid" 2>/dev/null || { cat "$work/$name.engine.log" >&2; exit 1; }
    sleep 0.05
  done
}

crm_stat() { curl -s "http://127.0.0.1:$crm_port/_stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# wait_leads N: until the CRM holds N leads (at most 600 s); sets drained_at.
wait_leads() {
  local want="$1" deadline=$((SECONDS + 600))
  while [ "$(crm_stat leads)" -lt "$want" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "CRM holds $(crm_stat leads) of $want leads after 600 s" >&2; exit 1; }
    sleep 0.05
  done
  drained_at="$(now)"
}

# cpu_seconds PID: user + system CPU time the process has used.
cpu_seconds() {
  awk -v tck="$(getconf CLK_TCK)" '{print ($14 + $15) / tck}' "/proc/$1/stat"
}
# peak_rss_mb PID: the process's peak resident set, in MB.
peak_rss_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
