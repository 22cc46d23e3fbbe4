#!/usr/bin/env bash
# Out-of-process benchmark of both HTTP edges, as users run crmsync:
#   - load from wrk (Debian's wrk), one lead.created event per request, on
#     keep-alive connections (bench/lib/post_events.lua);
#   - the real crmsync binary, Release, on the shipped config/crmsync.properties
#     with only the CRM chosen: generic-rest-crm, the reference mapping, and the
#     URL of tools/reference-crm running as its own process;
#   - a fresh store per scenario.
#
#   bash bench/edges.sh [--duration S] [--only SCENARIO] [--set KEY=VALUE]...
# (10 s of load per scenario; --set departs from the shipped config, to compare)
#
# Scenarios, each printed as one line:
#   intake-50, intake-256    50 / 256 clients as fast as answers come, CRM 0 ms
#   paced-5000               256 clients offering 5,000 requests/s in all, CRM 0 ms
#   latency-20ms-50          50 clients, the CRM answering each request 20 ms late
#   intake-only-256          intake-256 with delivery paused (POST /api/v1/admin/sync/pause):
#                            the intake's own capacity; delivery drains after resume
#   idle+trickle-256         intake-256 while 1,000 idle keep-alive connections and
#                            200 connections trickling a byte a second are held open
#                            (bench/lib/idle_conns.py); /healthz is timed meanwhile
#                            by one more wrk on one connection
#   random-429-50            50 clients, 2% of CRM answers 429 with Retry-After: 1
#   https-intake-50          intake-50 over HTTPS (server.tls.cert/key, a P-256
#                            certificate made here with openssl); wrk keeps its
#                            connections, so this is TLS records, not handshakes
# Columns: intake events/s and p50/p99 intake latency (wrk), end-to-end syncs/s
# (accepted events / time from the first request until the CRM holds them all),
# crmsync's peak RSS and its CPU seconds per 1,000 events (intake + delivery).
# Installs Debian's wrk package first if it is missing.
set -euo pipefail
duration=10
only=""
sets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    *) echo "usage: bench/edges.sh [--duration S] [--only SCENARIO] [--set KEY=VALUE]..." >&2; exit 64 ;;
  esac
done
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
source "$(dirname "$0")/lib/common.sh"
lua="$root/bench/lib/post_events.lua"

printf '%-18s %10s %8s %8s %10s %8s %10s %s\n' scenario "events/s" "p50 ms" "p99 ms" "syncs/s" "RSS MB" "CPU s/1k" notes

# A CA and a certificate for 127.0.0.1 signed by it, in $work/tls (once).
make_tls_files() {
  local d="$work/tls"
  [ -f "$d/server.pem" ] && return 0
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=bench CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 1 \
    -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null
}

# scenario NAME CLIENTS [BENCH_DELAY_MS] -- [reference-crm flags]
scenario() {
  local name="$1" clients="$2" pause="$3"; shift 3
  [ -z "$only" ] || [ "$only" = "$name" ] || return 0
  start_crm "$name" "$@"
  local tls_sets=()
  engine_scheme=http
  engine_cacert=""
  if [[ "$name" == https-* ]]; then
    make_tls_files
    tls_sets=(--set "server.tls.cert=$work/tls/server.pem" --set "server.tls.key=$work/tls/server.key")
    engine_scheme=https
    engine_cacert="$work/tls/ca.pem"
  fi
  start_engine "$name" "${sets[@]}" "${tls_sets[@]}"
  local notes=""
  local out="$work/$name.wrk"
  if [ "$name" = "intake-only-256" ]; then
    curl -sf -XPOST -H 'Authorization: Bearer dev-admin-token' \
      "http://127.0.0.1:$engine_port/api/v1/admin/sync/pause" >/dev/null
  fi
  local t0; t0="$(now)"
  if [ "$name" = "idle+trickle-256" ]; then
    python3 "$root/bench/lib/idle_conns.py" "$engine_port" 1000 200 >"$work/idle.log" 2>&1 &
    local idle_pid=$!
    pids+=("$idle_pid")
    until grep -q ready "$work/idle.log"; do sleep 0.1; done
    t0="$(now)"
    wrk -t1 -c1 -d"${duration}s" --latency "http://127.0.0.1:$engine_port/healthz" >"$work/healthz.wrk" &
    local health_pid=$!
    BENCH_RUN="${name//[^a-zA-Z0-9-]/-}" BENCH_DELAY_MS="$pause" wrk -t2 -c"$clients" -d"${duration}s" -s "$lua" \
      "http://127.0.0.1:$engine_port/api/v1/events" >"$out"
    wait "$health_pid"
    notes="healthz p50 $(awk '/^ +50%/ {print $2}' "$work/healthz.wrk") p99 $(awk '/^ +99%/ {print $2}' "$work/healthz.wrk")"
  else
    BENCH_RUN="${name//[^a-zA-Z0-9-]/-}" BENCH_DELAY_MS="$pause" wrk -t2 -c"$clients" -d"${duration}s" -s "$lua" \
      "$engine_scheme://127.0.0.1:$engine_port/api/v1/events" >"$out"
  fi
  local accepted rate p50 p99
  accepted="$(awk -F= '/^accepted=/ {print $2}' "$out")"
  rate="$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out")"
  p50="$(awk -F= '/^p50_ms=/ {print $2}' "$out")"
  p99="$(awk -F= '/^p99_ms=/ {print $2}' "$out")"
  [ "${accepted:-0}" -gt 0 ] || { echo "$name: no event accepted:" >&2; cat "$out" >&2; exit 1; }
  if [ "$name" = "intake-only-256" ]; then
    notes="syncs/s: the backlog's drain after resume"
    t0="$(now)"
    curl -sf -XPOST -H 'Authorization: Bearer dev-admin-token' \
      "http://127.0.0.1:$engine_port/api/v1/admin/sync/resume" >/dev/null
  fi
  wait_leads "$accepted"
  local e2e cpu rss
  e2e="$(python3 -c "print(round($accepted / ($drained_at - $t0)))")"
  cpu="$(python3 -c "print(round($(cpu_seconds "$engine_pid") * 1000 / $accepted, 3))")"
  rss="$(peak_rss_mb "$engine_pid")"
  local refused; refused="$(crm_stat random429)"
  [ "$refused" -gt 0 ] && notes="$refused answers were 429, all $accepted leads delivered"
  [ -n "${idle_pid:-}" ] && stop_pid "$idle_pid"
  printf '%-18s %10s %8s %8s %10s %8s %10s %s\n' "$name" "$rate" "$p50" "$p99" "$e2e" "$rss" "$cpu" "$notes"
  stop_pid "$engine_pid"
  stop_pid "$crm_pid"
}

scenario intake-50 50 0
scenario intake-256 256 0
scenario intake-only-256 256 0
scenario paced-5000 256 51
scenario latency-20ms-50 50 0 --latency-ms 20
scenario idle+trickle-256 256 0
scenario random-429-50 50 0 --random-429 0.02 --retry-after 1
scenario https-intake-50 50 0
