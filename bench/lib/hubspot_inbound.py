#!/usr/bin/python3
"""hubspot_inbound.py: the out-of-process client of bench/inbound.sh.

  hubspot_inbound.py sync    ENGINE CRM N RUN
  hubspot_inbound.py webhook ENGINE CRM RUN DELIVERIES CONNECTIONS EVENTS_PER_DELIVERY
  hubspot_inbound.py poll    ENGINE CRM RUN EDITS

ENGINE and CRM are loopback ports: the crmsync under test and the HubSpot
stand-in (tests/crm-servers/hubspot.py). Tokens and the client secret come
from the environment (BENCH_INTAKE_TOKEN, BENCH_WEBHOOK_SECRET). Every mode
prints key=value lines for the script.

sync: posts N lead.created events (lead ids RUN-0 .. RUN-N-1, status
  QUALIFIED, so the CRM owns the status: inbound.crm_owns_status_from) in
  batches of 100 to POST /api/v1/events, and waits until the stand-in holds a
  contact for each (its crmsync_reference).
webhook: CONNECTIONS threads, each on its own keep-alive connection, send
  DELIVERIES in all: JSON arrays of EVENTS_PER_DELIVERY contact.propertyChange
  events on crmsync_notes, each about a different contact, signed as HubSpot
  signs v3 (base64 HMAC-SHA256 of method + URI + body + timestamp under the
  client secret) at the moment of sending. Each connection owns its own
  contacts (index % CONNECTIONS), so the changes about one contact arrive in
  occurredAt order. Then it reads the change feed (GET /api/v1/changes) until
  every note is there and checks each arrived exactly once.
poll: makes EDITS agent edits in the stand-in (POST /_test/control edit, no
  webhook configured), one per contact (hs_lead_status UNQUALIFIED and a
  distinct crmsync_notes), then reads the feed as above; reports the time
  from the last edit until the feed holds them all and the stand-in's
  contact searches (the engine's polls) and their 429s.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time

FEED_TIMEOUT_S = 120


def call(port, method, path, body=None, headers=None, conn=None):
    """(status, parsed JSON or text); a fresh connection unless one is given."""
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    payload = None if body is None else (body if isinstance(body, str) else json.dumps(body))
    hdrs = {"Content-Type": "application/json"} if payload is not None else {}
    hdrs.update(headers or {})
    conn.request(method, path, payload, hdrs)
    resp = conn.getresponse()
    text = resp.read().decode("utf-8")
    if own:
        conn.close()
    try:
        return resp.status, json.loads(text)
    except ValueError:
        return resp.status, text


def intake_headers():
    return {"Authorization": "Bearer " + os.environ.get("BENCH_INTAKE_TOKEN", "dev-intake-token")}


def contacts_by_lead(crm, run):
    """{lead id: HubSpot contact id} for the leads of this run the stand-in holds."""
    status, state = call(crm, "GET", "/_test/state")
    if status != 200:
        sys.exit("stand-in state: %s %s" % (status, state))
    out = {}
    prefix = "lead:%s-" % run
    for record in state["records"].get("contacts", []):
        ref = record["properties"].get("crmsync_reference", "")
        if ref.startswith(prefix):
            out[ref[len("lead:"):]] = record["id"]
    return out


def sync(engine, crm, n, run):
    for start in range(0, n, 100):
        events = [{"eventId": "c-%s-%d" % (run, i), "type": "lead.created",
                   "occurredAt": "2026-12-03T10:00:00Z",
                   "data": {"id": "%s-%d" % (run, i), "name": "Bench Lead %d" % i,
                            "email": "lead%d@example.com" % i, "phone": "+919800000000",
                            "source": "website", "status": "QUALIFIED"}}
                  for i in range(start, min(n, start + 100))]
        status, answer = call(engine, "POST", "/api/v1/events", {"events": events},
                              intake_headers())
        if status != 202:
            sys.exit("intake refused a batch: %s %s" % (status, answer))
    deadline = time.time() + 300
    while len(contacts_by_lead(crm, run)) < n:
        if time.time() > deadline:
            sys.exit("the stand-in holds %d of %d contacts after 300 s" % (
                len(contacts_by_lead(crm, run)), n))
        time.sleep(0.2)
    print("synced=%d" % n)


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100.0))]


def read_feed(engine, expected_notes, t_from):
    """Reads the feed until it holds every note in `expected_notes`; returns
    (seconds from t_from until then, {note: count}, entries without one)."""
    counts = {}
    others = 0
    after = 0
    conn = http.client.HTTPConnection("127.0.0.1", engine, timeout=60)
    deadline = time.time() + FEED_TIMEOUT_S
    done_at = None
    while True:
        status, answer = call(engine, "GET", "/api/v1/changes?after=%d&limit=1000" % after,
                              headers=intake_headers(), conn=conn)
        if status != 200:
            sys.exit("change feed: %s %s" % (status, answer))
        for change in answer["changes"]:
            note = (change.get("fields") or {}).get("notes")
            if note in expected_notes:
                counts[note] = counts.get(note, 0) + 1
            else:
                others += 1
        after = answer.get("next", after)
        if done_at is None and len(counts) >= len(expected_notes):
            done_at = time.time()
            continue  # one more read: anything applied twice shows up behind
        if done_at is not None and not answer["changes"]:
            break
        if time.time() > deadline:
            break
        if not answer["changes"]:
            time.sleep(0.05)
    conn.close()
    elapsed = (done_at if done_at is not None else time.time()) - t_from
    return elapsed, counts, others


def report_feed(expected_notes, counts, others, elapsed):
    missing = len(expected_notes) - len(counts)
    twice = sum(1 for c in counts.values() if c > 1)
    print("feed_s=%.3f" % elapsed)
    print("missing=%d" % missing)
    print("duplicated=%d" % twice)
    print("other_entries=%d" % others)


def webhook(engine, crm, run, deliveries, connections, per_delivery):
    secret = os.environ["BENCH_WEBHOOK_SECRET"].encode("utf-8")
    url = "http://127.0.0.1:%d/api/v1/crm/webhook" % engine
    contacts = contacts_by_lead(crm, run)
    ids = [contacts[k] for k in sorted(contacts, key=lambda k: int(k.rsplit("-", 1)[1]))]
    owned = [ids[k::connections] for k in range(connections)]
    if min(len(o) for o in owned) < per_delivery:
        sys.exit("%d contacts over %d connections leave fewer than %d per delivery" % (
            len(ids), connections, per_delivery))
    lock = threading.Lock()
    latencies, statuses, notes = [], {}, []

    def worker(k, count):
        conn = http.client.HTTPConnection("127.0.0.1", engine, timeout=60)
        mine, cursor, last_ms = owned[k], 0, 0
        my_lat, my_notes, my_status = [], [], {}
        for d in range(count):
            events = []
            for e in range(per_delivery):
                contact = mine[cursor % len(mine)]
                cursor += 1
                last_ms = max(int(time.time() * 1000), last_ms + 1)
                note = "n-%d-%d-%d" % (k, d, e)
                events.append({"eventId": (k + 1) * 10000000 + d * per_delivery + e,
                               "subscriptionId": 3, "portalId": 62515, "appId": 1160452,
                               "occurredAt": last_ms,
                               "subscriptionType": "contact.propertyChange",
                               "attemptNumber": 0, "objectId": int(contact),
                               "propertyName": "crmsync_notes", "propertyValue": note,
                               "changeSource": "CRM_UI", "sourceId": "userId:9001"})
                my_notes.append(note)
            body = json.dumps(events, separators=(",", ":"))
            stamp = str(int(time.time() * 1000))
            signature = base64.b64encode(hmac.new(
                secret, ("POST" + url + body + stamp).encode("utf-8"),
                hashlib.sha256).digest()).decode("ascii")
            t0 = time.perf_counter()
            status, _ = call(engine, "POST", "/api/v1/crm/webhook", body,
                             {"X-HubSpot-Request-Timestamp": stamp,
                              "X-HubSpot-Signature-v3": signature}, conn)
            my_lat.append(time.perf_counter() - t0)
            my_status[status] = my_status.get(status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(my_lat)
            notes.extend(my_notes)
            for s, c in my_status.items():
                statuses[s] = statuses.get(s, 0) + c

    threads = [threading.Thread(target=worker, args=(
        k, deliveries // connections + (1 if k < deliveries % connections else 0)))
        for k in range(connections)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent_s = time.time() - t0
    latencies.sort()
    accepted = statuses.get(202, 0)
    print("accepted=%d" % accepted)
    print("statuses=%s" % ",".join("%d:%d" % kv for kv in sorted(statuses.items())))
    print("deliveries_per_s=%.0f" % (accepted / sent_s))
    print("p50_ms=%.1f" % (percentile(latencies, 50) * 1000))
    print("p99_ms=%.1f" % (percentile(latencies, 99) * 1000))
    expected = set(notes)
    elapsed, counts, others = read_feed(engine, expected, t0)
    print("changes=%d" % len(expected))
    print("changes_per_s=%.0f" % (len(counts) / elapsed))
    report_feed(expected, counts, others, elapsed)


def poll(engine, crm, run, edits):
    contacts = contacts_by_lead(crm, run)
    ids = [contacts[k] for k in sorted(contacts, key=lambda k: int(k.rsplit("-", 1)[1]))]
    if len(ids) < edits:
        sys.exit("%d edits need as many contacts; the stand-in holds %d" % (edits, len(ids)))
    status, before = call(crm, "GET", "/_test/state")
    searches_before = sum(1 for r in before["requests"] if r["path"].endswith("/search"))
    # A connection per edit: on a kept-alive connection the stand-in's answer
    # (headers and body in two writes) waits out Nagle against the delayed ACK,
    # 40 ms per call.
    expected = set()
    t_first = time.time()
    for i in range(edits):
        note = "p-%d" % i
        status, answer = call(crm, "POST", "/_test/control", {"edit": {
            "object": "contacts", "id": ids[i],
            "properties": {"hs_lead_status": "UNQUALIFIED", "crmsync_notes": note}}})
        if status != 200:
            sys.exit("edit refused: %s %s" % (status, answer))
        expected.add(note)
    t_last = time.time()
    elapsed, counts, others = read_feed(engine, expected, t_last)
    status, after = call(crm, "GET", "/_test/state")
    searches = [r for r in after["requests"][len(before["requests"]):]
                if r["path"].endswith("/search")]
    print("edit_s=%.3f" % (t_last - t_first))
    print("changes_per_s=%.0f" % (len(counts) / (elapsed + t_last - t_first)))
    print("searches=%d" % len(searches))
    print("searches_429=%d" % sum(1 for r in searches if r.get("status") == 429))
    print("searches_total=%d" % (searches_before + len(searches)))
    report_feed(expected, counts, others, elapsed)


def main(argv):
    if len(argv) < 2 or argv[1] not in ("sync", "webhook", "poll"):
        sys.exit(__doc__)
    mode, args = argv[1], argv[2:]
    try:
        if mode == "sync" and len(args) == 4:
            return sync(int(args[0]), int(args[1]), int(args[2]), args[3])
        if mode == "webhook" and len(args) == 6:
            return webhook(int(args[0]), int(args[1]), args[2], int(args[3]), int(args[4]),
                           int(args[5]))
        if mode == "poll" and len(args) == 4:
            return poll(int(args[0]), int(args[1]), args[2], int(args[3]))
    except ValueError as e:
        sys.exit("bad number: %s\n%s" % (e, __doc__))
    sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
