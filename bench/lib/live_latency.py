#!/usr/bin/python3
"""live_latency.py: the live-event client of bench/backfill.sh.

  live_latency.py ENGINE PREFIX RATE SECONDS

Posts one lead.created event at a time to POST /api/v1/events on the loopback
port ENGINE, RATE events a second for SECONDS (lead ids PREFIX-0, PREFIX-1,
...; a steady schedule, not as fast as it can), then reads each lead's audit
trail (GET /api/v1/admin/audit) until it holds the "synced" entry of the
create, which the engine writes once the CRM answered. The latency of an
event is that entry's time less the moment the client began to post it; both
clocks are this machine's wall clock. Tokens come from the environment
(BENCH_INTAKE_TOKEN, BENCH_ADMIN_TOKEN). Prints key=value lines: events,
p50_ms, p99_ms, max_ms, answer_p99_ms (the intake's answer alone).
"""

import datetime
import http.client
import json
import os
import sys
import time

SYNC_TIMEOUT_S = 600


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def iso_ms(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000.0


def main():
    port, prefix, rate, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    intake = {"Authorization": "Bearer " + os.environ["BENCH_INTAKE_TOKEN"],
              "Content-Type": "application/json"}
    admin = {"Authorization": "Bearer " + os.environ["BENCH_ADMIN_TOKEN"]}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    posted = {}
    answers = []
    count = int(rate * seconds)
    start = time.time()
    for i in range(count):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        lead = "%s-%d" % (prefix, i)
        body = json.dumps({"eventId": "live-" + lead, "type": "lead.created",
                           "occurredAt": datetime.datetime.now(datetime.timezone.utc)
                           .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                           "data": {"id": lead, "name": "Live " + lead,
                                    "email": lead + "@example.com", "status": "NEW"}})
        sent = time.time() * 1000.0
        conn.request("POST", "/api/v1/events", body, intake)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 202:
            sys.exit("live event %s answered %d" % (lead, resp.status))
        answers.append(time.time() * 1000.0 - sent)
        posted[lead] = sent

    latencies = []
    deadline = time.time() + SYNC_TIMEOUT_S
    pending = list(posted)
    while pending:
        if time.time() > deadline:
            sys.exit("%d live leads not synced after %d s" % (len(pending), SYNC_TIMEOUT_S))
        still = []
        for lead in pending:
            conn.request("GET", "/api/v1/admin/audit?entity=lead:%s&limit=20" % lead, None, admin)
            resp = conn.getresponse()
            trail = json.loads(resp.read().decode("utf-8"))
            synced = [a for a in trail.get("audit", []) if a.get("action") == "synced"]
            if synced:
                first = min(iso_ms(a["at"]) for a in synced)
                latencies.append(first - posted[lead])
            else:
                still.append(lead)
        pending = still
        if pending:
            time.sleep(0.2)
    print("events=%d" % len(latencies))
    print("p50_ms=%.0f" % percentile(latencies, 0.50))
    print("p99_ms=%.0f" % percentile(latencies, 0.99))
    print("max_ms=%.0f" % max(latencies))
    print("answer_p99_ms=%.1f" % percentile(answers, 0.99))


if __name__ == "__main__":
    main()
