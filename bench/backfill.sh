#!/usr/bin/env bash
# Out-of-process benchmark of `crmsync backfill` (issue 18), as users run it:
#   - the real crmsync binary, Release, on the shipped config/crmsync.properties
#     as it is (mock-crm, its in-memory CRM), a fresh store;
#   - the backfill command itself, reading a generated file of N leads (one
#     {"lead": {...}} a line, as a platform export would be);
#   - a live client out of process (bench/lib/live_latency.py, Python standard
#     library) posting lead.created events one at a time at a steady rate and
#     timing each until the engine's audit trail says the CRM has it.
#
#   bash bench/backfill.sh [--leads N] [--rate R] [--seconds S] [--paused] [--crm mock|reference]
# --crm reference: the CRM out of process (tools/reference-crm, the sunshine-reference
# mapping) instead of mock-crm, so crmsync's peak RSS is its own.
#   BENCH_BUILD=DIR runs an existing Release build instead of building one.
#
# --paused: sync is paused (crmsync sync pause) for the whole run, so only the
# import is measured: its rate, and crmsync's peak RSS without mock-crm's
# in-memory CRM growing inside it (mock-crm is a plugin: every record it holds
# lives in crmsync's process, a few KB each); no live latency.
#
# Prints: live p50/p99 without a backfill; then the backfill of N leads (500,000):
# lines/s imported (the command's own figure), seconds until every bulk job was
# synced, live p50/p99 during it (the live client starts once the import is
# under way: R events/s (20) for S seconds (15)), and crmsync's peak resident set
# over the whole run (VmHWM; target 128 MB). Live p99 during / without is the
# target "within 2x".
#
# Measured 2026-12-03 on the shared 2-core box (Release, other builds running):
# live p50/p99 2/17 ms alone, 20/92 ms during the backfill (answer p99 12.6 ->
# 59.5 ms); 500,000 leads imported at 2,611 lines/s, all synced 192 s after the
# command started; peak RSS 1.6 GB, mock-crm's in-memory CRM inside crmsync's
# process (about 3.3 KB a record). --paused: the import alone at 5,399 lines/s,
# crmsync's peak RSS 46 MB.
# --crm reference (2026-12-03, same box, Release): 500,000 leads synced through
# generic-rest-crm to reference-crm out of process, imported at 1,615 lines/s,
# all synced 310 s after the command started; crmsync's peak RSS 54 MB (the
# CRM's own 1.5 GB); live p50/p99 4/49 ms alone, 29/185 ms during the backfill.
set -euo pipefail
leads=500000
rate=20
seconds=15
paused=""
crm=mock
while [ $# -gt 0 ]; do
  case "$1" in
    --paused) paused=1; shift ;;
    --leads) leads="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --crm) crm="$2"; shift 2 ;;
    *) echo "usage: bench/backfill.sh [--leads N] [--rate R] [--seconds S] [--paused] [--crm mock|reference]" >&2; exit 64 ;;
  esac
done
source "$(dirname "$0")/lib/common.sh"
client="$root/bench/lib/live_latency.py"
export BENCH_INTAKE_TOKEN=dev-intake-token BENCH_ADMIN_TOKEN=dev-admin-token

# The export: N leads, each with its updatedAt.
python3 - "$work/leads.ndjson" "$leads" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for i in range(int(sys.argv[2])):
        out.write('{"lead":{"id":"B%d","name":"Backfill %d","email":"b%d@example.com",'
                  '"phone":"+91 98%08d","source":"website","status":"CONTACTED",'
                  '"budgetMin":4000000,"budgetMax":6500000,"preferredAreas":["Baner","Aundh"],'
                  '"updatedAt":"2025-06-01T10:00:00Z"}}\n' % (i, i, i, i))
PY

if [ "$crm" = reference ]; then
  # The CRM out of process (tools/reference-crm through generic-rest-crm and
  # the sunshine-reference mapping): crmsync's resident set is then its own.
  start_crm backfill
  start_engine backfill --set log.level=warning
  ln -sf "$work/backfill.engine.log" "$work/engine.log"
else
engine_port="$(free_port)"
(cd "$work" && exec "$build/engine/crmsync" serve --config "$root/config/crmsync.properties" \
  --set "server.port=$engine_port" --set "store.path=$work/crmsync.db" \
  --set "plugins.dir=$build/plugins" --set log.level=warning >"$work/engine.log" 2>&1) &
engine_pid=$!
pids+=("$engine_pid")
until curl -sf "http://127.0.0.1:$engine_port/readyz" >/dev/null; do
  kill -0 "$engine_pid" 2>/dev/null || { cat "$work/engine.log" >&2; exit 1; }
  sleep 0.05
done
fi
field() { awk -F= -v k="$1" '$1 == k {print $2}' "$2"; }
live() {
  /usr/bin/python3 "$client" "$engine_port" "$1" "$rate" "$seconds" >"$work/$1.out" 2>&1 || {
    echo "live client $1 failed:" >&2; cat "$work/$1.out" >&2; tail -20 "$work/engine.log" >&2; exit 1; }
}
run_offset() {
  curl -s -H "Authorization: Bearer $BENCH_ADMIN_TOKEN" "http://127.0.0.1:$engine_port/api/v1/backfill/bench" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("nextOffset", 0))' 2>/dev/null || echo 0
}

if [ -n "$paused" ]; then
  "$build/engine/crmsync" sync pause reason=bench --config "$root/config/crmsync.properties" \
    --set "server.port=$engine_port" >/dev/null
  "$build/engine/crmsync" backfill "$work/leads.ndjson" --run bench --no-wait \
    --config "$root/config/crmsync.properties" --set "server.port=$engine_port" \
    >"$work/backfill.out" 2>"$work/backfill.err" || { cat "$work/backfill.err" >&2; exit 1; }
  echo "import alone (sync paused): $(head -1 "$work/backfill.out")"
  echo "crmsync peak RSS: $(peak_rss_mb "$engine_pid") MB (VmHWM; target 128)"
  exit 0
fi

live quiet

started="$(now)"
"$build/engine/crmsync" backfill "$work/leads.ndjson" --run bench --config "$root/config/crmsync.properties" \
  --set "server.port=$engine_port" >"$work/backfill.out" 2>"$work/backfill.err" &
cli_pid=$!
pids+=("$cli_pid")
until [ "$(run_offset)" -gt 0 ]; do
  kill -0 "$cli_pid" 2>/dev/null || break
  sleep 0.05
done
live busy
wait "$cli_pid" || { echo "backfill failed:" >&2; cat "$work/backfill.err" "$work/backfill.out" >&2; exit 1; }
synced_s="$(python3 -c "print('%.1f' % ($(now) - $started))")"
summary="$(head -1 "$work/backfill.out")"
lines_per_s="$(sed -n 's/.*imported in [0-9:]* (\([0-9,]*\) lines\/s).*/\1/p' <<<"$summary")"
accepted="$(sed -n 's/^  accepted *\([0-9,]*\).*/\1/p' "$work/backfill.out")"

printf '%-22s %10s %10s %10s %12s\n' scenario "p50 ms" "p99 ms" "max ms" "answer p99"
printf '%-22s %10s %10s %10s %12s\n' "live alone" "$(field p50_ms "$work/quiet.out")" \
  "$(field p99_ms "$work/quiet.out")" "$(field max_ms "$work/quiet.out")" "$(field answer_p99_ms "$work/quiet.out")"
printf '%-22s %10s %10s %10s %12s\n' "live during backfill" "$(field p50_ms "$work/busy.out")" \
  "$(field p99_ms "$work/busy.out")" "$(field max_ms "$work/busy.out")" "$(field answer_p99_ms "$work/busy.out")"
echo "backfill: $leads leads, $accepted accepted, imported at $lines_per_s lines/s, all synced ${synced_s} s after the command started"
echo "live events: $rate/s for $seconds s each time ($(field events "$work/busy.out") during the backfill)"
echo "crmsync peak RSS: $(peak_rss_mb "$engine_pid") MB (VmHWM, whole run; target 128)"
[ "$crm" = reference ] && echo "reference-crm peak RSS: $(peak_rss_mb "$crm_pid") MB (the CRM, out of process)"
echo "command: $summary"
