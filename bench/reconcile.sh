#!/usr/bin/env bash
# Out-of-process benchmark of `crmsync reconcile` (issue 18) against
# tools/reference-crm, as users run it:
#   - the real crmsync binary, Release, on the shipped config/crmsync.properties
#     with only the CRM chosen: generic-rest-crm, config/crms/sunshine-reference.json
#     (whose records section lists the CRM 100 records a page), the URL of
#     reference-crm running as its own process;
#   - seeding as a platform would: N lead.created events posted to
#     POST /api/v1/events in batches of 1,000 (one keep-alive connection, the
#     Python standard library), synced by the engine itself until reference-crm
#     holds every lead and the queue is empty;
#   - then D of them renamed and D deleted in the CRM behind the engine's back
#     (reference-crm's /_crm endpoints, no webhook registered), so the run has
#     drift to find;
#   - then `crmsync reconcile json`, timed from the command's start to its
#     result.
#
#   bash bench/reconcile.sh [--records N] [--drift D]
#   BENCH_BUILD=DIR runs an existing Release build instead of building one.
#
# Printed: records, seed seconds (intake + sync), reconcile seconds and
# records/s, the CRM calls the run made (its own count) and the API requests
# reference-crm answered meanwhile (its /_stats), the findings per kind, and
# crmsync's peak RSS.
#
# Measured 2026-12-03 on the 2-core build box (Release, defaults, other builds
# running beside it): 100,000 leads seeded in 66 s; reconcile took 26.1 s
# (3,830 records/s) and 1,100 CRM calls (1,000 list pages of 100, and a read
# of each of the 100 deleted leads' linked ids; reference-crm counted the same
# 1,100), found differs 100 and missing 100 exactly; crmsync's peak RSS 66 MB.
set -euo pipefail
records=100000
drift=100
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records="$2"; shift 2 ;;
    --drift) drift="$2"; shift 2 ;;
    *) echo "usage: bench/reconcile.sh [--records N] [--drift D]" >&2; exit 64 ;;
  esac
done
source "$(dirname "$0")/lib/common.sh"
admin=bench-admin-token
intake=bench-intake-token

start_crm reconcile
start_engine reconcile --set "admin.token=$admin" --set "intake.token=$intake" \
  --set crm.webhook.url=
cli=("$build/engine/crmsync" --set "server.port=$engine_port" --set "admin.token=$admin")

# Seed: N leads through intake, 1,000 a request; then wait for the sync.
seed_start="$(now)"
python3 - "$engine_port" "$intake" "$records" <<'EOF'
import http.client, json, sys
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
for start in range(0, n, 1000):
    events = [{"eventId": "seed-%d" % i, "type": "lead.created",
               "occurredAt": "2026-11-23T10:15:00Z",
               "data": {"id": "L%07d" % i, "name": "Lead %d" % i,
                        "email": "lead%d@example.com" % i, "phone": "+9198%08d" % i,
                        "source": "website", "status": "NEW"}}
              for i in range(start, min(n, start + 1000))]
    conn.request("POST", "/api/v1/events", json.dumps({"events": events}),
                 {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 202:
        sys.exit("intake answered %d: %s" % (r.status, body[:300]))
EOF
wait_leads "$records"
until [ "$(curl -s -H "Authorization: Bearer $admin" "http://127.0.0.1:$engine_port/api/v1/admin/status" |
  python3 -c 'import json,sys; q=json.load(sys.stdin)["queue"]; print(q["ready"]+q["queued"]+q["delayed"]+q["leased"])')" = 0 ]; do
  sleep 0.2
done
seed_s="$(python3 -c "print(round($(now) - $seed_start, 1))")"

# Drift behind the engine's back: D renamed, D deleted.
python3 - "$crm_port" "$drift" <<'EOF'
import http.client, json, sys
port, d = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
conn.request("GET", "/api/v1/leads?limit=%d" % (2 * d or 1),
             headers={"X-API-Key": "bench-key", "X-API-Secret": "bench-secret"})
leads = json.loads(conn.getresponse().read())["results"]
for lead in leads[:d]:
    conn.request("POST", "/_crm/leads/" + lead["id"], json.dumps({"name": "Renamed by an agent"}))
    conn.getresponse().read()
for lead in leads[d:2 * d]:
    conn.request("DELETE", "/_crm/leads/" + lead["id"])
    conn.getresponse().read()
EOF

requests_before="$(crm_stat apiRequests)"
start="$(now)"
"${cli[@]}" reconcile json >"$work/reconcile.out" 2>"$work/reconcile.err" || {
  cat "$work/reconcile.err" >&2; tail -20 "$work/reconcile.engine.log" >&2; exit 1; }
reconcile_s="$(python3 -c "print(round($(now) - $start, 2))")"
requests="$(( $(crm_stat apiRequests) - requests_before ))"

python3 - "$work/reconcile.out" "$records" "$seed_s" "$reconcile_s" "$requests" \
  "$(peak_rss_mb "$engine_pid")" <<'EOF'
import json, sys
out, records, seed_s, secs, requests, rss = sys.argv[1:]
run = json.loads([l for l in open(out) if l.startswith("{")][0])
counts = ", ".join("%s %d" % (k, v) for k, v in run["counts"].items() if v)
print("%-9s %8s %8s %11s %10s %12s %7s  %s" % ("records", "seed s", "run s", "records/s",
      "CRM calls", "CRM requests", "RSS MB", "findings"))
print("%-9s %8s %8s %11.0f %10d %12s %7s  %s" % (records, seed_s, secs,
      int(run["checked"]) / float(secs), run["crmCalls"], requests, rss, counts or "none"))
EOF
