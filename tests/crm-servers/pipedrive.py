#!/usr/bin/python3
"""pipedrive.py PORT [--api-token T]: a Pipedrive API v1 stand-in for tests.

Started by tests as its own process (PORT 0 picks a free port; the first stdout
line is `listening 127.0.0.1:PORT`; SIGTERM stops it). Paths are served under
/v1/ and /api/v1/ (api.pipedrive.com/v1 and {company}.pipedrive.com/api/v1).
Authentication is the api_token query parameter (default token
"test-api-token"). Shared parts (records, /_test/state, /_test/control) are in
vendor_server.py; Pipedrive's api_token has no OAuth, so the token controls of
/_test/control change nothing here.

Documents followed (as the search tool gave them):
  Rate limiting: per token, 2-second window; headers x-ratelimit-limit,
    x-ratelimit-remaining, x-ratelimit-reset, x-daily-requests-left (POST/PUT,
    api_token only); HTTP 429 over the limit:
    https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
    429 carries Retry-After (seconds): https://github.atvirt.com/amoniacou/pipedrive.rb/issues/1
  Leads: title required, linked to a person or an organization (person_id /
    organization_id), POST/PATCH must be application/json, source "API":
    https://developers.pipedrive.com/changelog/post/introducing-leads-api
    https://developers.pipedrive.com/tutorials/adding-leads-to-pipedrive
    https://pipedream.com/apps/pipedrive/actions/add-lead.md (field types:
    title string, person_id / organization_id / owner_id integer, label_ids)
  Pagination in additional_data.pagination {start, limit,
    more_items_in_collection, next_start}:
    https://docs.rs/crate/pipedrive-rs/latest/source/docs/GetNotesResponse200AdditionalDataPagination.md
  Person search answer data.items[] (SearchPersonsResponse200AllOfData):
    https://docs.rs/crate/pipedrive-rs/latest/source/src/models/search_persons_response200_all_of_data.rs
  API request status codes (401 on a bad token, 400 with an explanation on
    invalid data): https://pipedrive.readme.io/docs/marketplace-oauth-and-api-proxy-status-codes

What the documents leave open, and what this stand-in assumes:
  - 401 body {"success": false, "error": "You need to be authorized to make
    this request.", "errorCode": 401, "error_info": "Please check
    developers.pipedrive.com for more information about Pipedrive API."}
    for a missing, empty or wrong api_token (an Authorization header does not
    count: this mapping authenticates by query string).
  - Other errors {"success": false, "error": "<what is wrong>", "error_info":
    ..., "data": null, "additional_data": null}: 400 for invalid data, 404
    "<Object> not found", 405 for a method the path does not take.
  - 429 body {"success": false, "error": "Request over limit", "errorCode":
    429, "error_info": ...} with Retry-After: 2. The window limit defaults to
    80 (the Professional plan's api_token figure); x-ratelimit-reset is the
    whole seconds left in the 2-second window; x-daily-requests-left starts
    at 10000 and counts POST/PUT/PATCH. Control keys rateLimitPerWindow and
    dailyRequests change them.
  - Fields: each object takes its documented fields; custom fields are keys of
    40 lower-case hex digits (Pipedrive's custom field keys), scalars only.
    Pipedrive ignores unknown keys; this stand-in refuses them (400 naming
    the key) so a typo in a mapping fails. Integer ids must be JSON integers;
    referenced persons, organizations, deals, leads and users must exist.
  - Person email / phone: a string, an array of strings, or an array of
    {value, primary, label}; stored and answered as [{label, value, primary}].
  - Persons search: term of 2+ characters (1 with exact_match=true), fields
    among name, email, phone, notes, custom_fields; limit at most 500 (default
    100). Users: GET /v1/users (all, no paging, as Pipedrive answers) and
    GET /v1/users/find?term=&search_by_email=1.
  - Activity types: call, meeting, task, deadline, email, lunch (a new
    company's). Deal status: open, won, lost, deleted.

Inbound (an agent's change and Pipedrive's webhook v2 about it), documents followed:
  Webhooks v2: POST with a JSON body {data, previous, meta}; meta carries
    action (create|change|delete), entity (person, organization, ...),
    entity_id, id, timestamp, version "2.0", attempt, webhook_id, ...; custom
    fields sit in data.custom_fields; no signature: the receiver is protected
    by HTTP basic auth (http_auth_user / http_auth_password given when the
    webhook is created):
    https://pipedrive.readme.io/docs/guide-for-webhooks-v2
    https://pipedrive.readme.io/docs/webhooks-v2-migration-guide
    https://www.skills.sh/hookdeck/webhook-skills/pipedrive-webhooks
    https://docs.rs/crate/pipedrive-rs/latest/source/docs/AddWebhookRequest.md
  What the documents leave open, and what this stand-in assumes: data holds
  the person's id, name, first_name, last_name, owner_id, org_id, emails,
  phones, add_time, update_time (ISO 8601 UTC) and custom_fields
  {key: {"type": "varchar", "value": v}}; previous holds only what changed,
  in the same shape; meta.timestamp is ISO 8601 UTC from the clock.

  Control keys for it (vendor_server.py has clock, webhook, edit):
    webhook: {"url", "httpAuthUser", "httpAuthPassword", "send"}
    edit: {"object": "persons"|"organizations", "id": N, "fields": {...}}
          an agent's change, validated as an API write; update_time from the
          clock; one webhook v2 "change" delivery
    redeliver: true   Pipedrive's retry of the last delivery: the same body
          with meta.attempt + 1
"""

import base64
import json
import re
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when tests run it
from vendor_server import (FixedWindow, Response, Vendor, is_date, is_email, iso_millis, serve,
                           whole_number_error)

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
API_PATH = re.compile(r"^(?:/api)?/v1/(.*)$")
CUSTOM_KEY = re.compile(r"^[0-9a-f]{40}$")
ACTIVITY_TYPES = ["call", "meeting", "task", "deadline", "email", "lunch"]

# Object -> field -> type. Types: str, int (an id or count), num, date, time,
# bool, flag (0/1 or bool), contact (email/phone forms), uuid, uuids, money
# ({amount, currency}), status, atype, visible, ref:<object>.
FIELDS = {
    "persons": {
        "name": "str", "owner_id": "ref:users", "org_id": "ref:organizations",
        "email": "contact", "phone": "contact", "visible_to": "visible",
        "marketing_status": "str", "add_time": "str", "label": "int",
        "first_name": "str", "last_name": "str",
    },
    "organizations": {"name": "str", "owner_id": "ref:users", "visible_to": "visible",
                      "address": "str"},
    "leads": {
        "title": "str", "person_id": "ref:persons", "organization_id": "ref:organizations",
        "owner_id": "ref:users", "label_ids": "uuids", "value": "money",
        "expected_close_date": "date", "visible_to": "visible", "was_seen": "bool",
        "origin_id": "str", "channel": "int", "channel_id": "str",
    },
    "deals": {
        "title": "str", "value": "num", "currency": "str", "user_id": "ref:users",
        "person_id": "ref:persons", "org_id": "ref:organizations", "pipeline_id": "int",
        "stage_id": "int", "status": "status", "lost_reason": "str",
        "expected_close_date": "date", "probability": "num", "visible_to": "visible",
        "add_time": "str", "won_time": "str", "lost_time": "str", "close_time": "str",
        "label": "int",
    },
    "activities": {
        "subject": "str", "type": "atype", "due_date": "date", "due_time": "time",
        "duration": "time", "user_id": "ref:users", "deal_id": "ref:deals",
        "lead_id": "ref:leads", "person_id": "ref:persons", "org_id": "ref:organizations",
        "note": "str", "done": "flag", "public_description": "str", "busy_flag": "bool",
        "location": "str",
    },
    "notes": {
        "content": "str", "lead_id": "ref:leads", "deal_id": "ref:deals",
        "person_id": "ref:persons", "org_id": "ref:organizations", "user_id": "ref:users",
        "add_time": "str", "pinned_to_lead_flag": "flag", "pinned_to_deal_flag": "flag",
        "pinned_to_person_flag": "flag",
    },
}
SINGULAR = {"persons": "Person", "organizations": "Organization", "leads": "Lead",
            "deals": "Deal", "activities": "Activity", "notes": "Note", "users": "User"}
# Update method per object: leads are PATCHed, the rest PUT.
UPDATE_METHOD = {"leads": "PATCH"}


def failure(status, message, **extra):
    body = {"success": False, "error": message, "error_info": ERROR_INFO, "data": None,
            "additional_data": None}
    body.update(extra)
    return Response(status, body)


def ok(data, status=200, additional=None):
    body = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return Response(status, body)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class Pipedrive(Vendor):
    name = "pipedrive"

    def __init__(self, args):
        super().__init__(args)
        self.api_token = args.get("api-token", "test-api-token")
        self.counters = {}
        self.budget = FixedWindow(2, 80)
        self.daily_left = 10000
        self.last_body = None  # the last webhook body, for `redeliver`
        self.users = [
            {"id": 101, "name": "Ana Agent", "email": "ana@example.test", "active_flag": True,
             "is_admin": 1},
            {"id": 102, "name": "Bo Broker", "email": "bo@example.test", "active_flag": True,
             "is_admin": 0},
            {"id": 103, "name": "Cy Gone", "email": "cy@example.test", "active_flag": False,
             "is_admin": 0},
        ]

    # --- vendor-shaped answers ---------------------------------------------
    def failure_response(self, status):
        return failure(status, "Service unavailable (scripted failure)", errorCode=status)

    def rate_limited_response(self):
        resp = Response(429, {"success": False, "error": "Request over limit",
                              "errorCode": 429, "error_info": ERROR_INFO})
        resp.headers["Retry-After"] = "2"
        return resp

    def rate_limit_headers(self, req, status):
        if not API_PATH.match(req.path):
            return {}
        now = self.budget.roll()
        headers = {"x-ratelimit-limit": self.budget.limit,
                   "x-ratelimit-remaining": self.budget.remaining(),
                   "x-ratelimit-reset": max(1, int(round(self.budget.reset_at() - now)))}
        if req.method in ("POST", "PUT", "PATCH"):
            headers["x-daily-requests-left"] = self.daily_left
        return headers

    def control(self, key, value):
        if key in ("rateLimitPerWindow", "dailyRequests"):
            error = whole_number_error(key, value, 0)
            if error:
                return error
            if key == "rateLimitPerWindow":
                self.budget.limit = value
            else:
                self.daily_left = value
            return None
        return "unknown control key '%s'" % key

    # --- inbound: an agent's change and the webhook v2 about it ------------
    def configure_webhook(self, value):
        for key in ("httpAuthUser", "httpAuthPassword"):
            if not isinstance(value.get(key), str) or not value[key]:
                return "webhook.%s is required (Pipedrive sends basic auth)" % key
        return None

    def retried(self, request):
        self.last_body["meta"]["attempt"] += 1
        return self.webhook_request(self.last_body)

    def webhook_request(self, body):
        credentials = "%s:%s" % (self.webhook["httpAuthUser"], self.webhook["httpAuthPassword"])
        return {"method": "POST", "url": self.webhook["url"],
                "headers": {"Content-Type": "application/json",
                            "Authorization": "Basic " + base64.b64encode(
                                credentials.encode("utf-8")).decode("ascii")},
                "body": json.dumps(body, separators=(",", ":"))}

    def iso(self):
        return iso_millis(self.now())

    @staticmethod
    def v2_shape(record, partial=False):
        """The webhook v2 data object of `record` (`partial`: only what it holds)."""
        out, custom = {}, {}
        for name, value in record.items():
            if name in ("add_time", "update_time") and isinstance(value, str) and \
                    re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", value):
                value = value.replace(" ", "T") + ".000Z"  # v2 times are ISO 8601
            if CUSTOM_KEY.match(name):
                custom[name] = None if value is None else {"type": "varchar", "value": value}
            elif name in ("email", "phone"):
                out[name + "s"] = value
            else:
                out[name] = value
        if not partial or custom:
            out["custom_fields"] = custom
        return out

    def edit(self, value):
        if not isinstance(value, dict) or value.get("object") not in ("persons",
                                                                       "organizations") or \
                not is_int(value.get("id")) or not isinstance(value.get("fields"), dict):
            return "edit must be {\"object\": \"persons\"|\"organizations\", \"id\": N, " \
                "\"fields\": {...}}"
        collection = value["object"]
        record = self.get(collection, value["id"])
        if record is None:
            return "edit: no %s with id %d" % (collection, value["id"])
        problem = self.check_fields(collection, value["fields"])
        if problem:
            return "edit: " + problem
        before = dict(record)
        record.update(self.normalize(collection, value["fields"]))
        stamp = self.now()
        record["update_time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))
        self.answer["record"] = record
        if not self.webhook:
            return None
        changed = [k for k in record if record[k] != before.get(k) and k != "update_time"]
        data = self.v2_shape(record)
        data["update_time"] = self.iso()
        previous = self.v2_shape({name: before.get(name) for name in changed}, partial=True)
        meta = {"action": "change", "entity": SINGULAR[collection].lower(),
                "entity_id": str(record["id"]), "id": str(uuid.uuid4()),
                "company_id": "7001", "user_id": str(self.users[0]["id"] if self.users else 1),
                "correlation_id": str(uuid.uuid4()), "timestamp": self.iso(),
                "version": "2.0", "webhook_id": "901", "webhook_owner_id": "101",
                "type": "general", "attempt": 1, "host": "acme.pipedrive.com",
                "is_bulk_edit": False, "change_source": "app"}
        self.last_body = {"data": data, "previous": previous, "meta": meta}
        self.emit(self.webhook_request(self.last_body))
        return None

    # --- routing ---------------------------------------------------------
    def handle(self, req):
        m = API_PATH.match(req.path)
        if not m:
            return failure(404, "Unknown path %s: Pipedrive API v1 paths start /v1/ or "
                           "/api/v1/" % req.path)
        if req.q("api_token") != self.api_token:
            return Response(401, {"success": False,
                                  "error": "You need to be authorized to make this request.",
                                  "errorCode": 401, "error_info": ERROR_INFO})
        if not self.budget.take():
            return self.rate_limited_response()
        if req.method in ("POST", "PUT", "PATCH"):
            if self.daily_left <= 0:
                return self.rate_limited_response()
            self.daily_left -= 1
            if req.content_type() != "application/json":
                return failure(400, "Content-Type must be application/json (got '%s')" %
                               (req.header("Content-Type") or ""))
        parts = m.group(1).rstrip("/").split("/")
        collection = parts[0]
        if collection == "users":
            return self.users_endpoint(req, parts[1:])
        if collection not in FIELDS:
            return failure(404, "Unknown resource '%s' (this stand-in serves %s, users)" %
                           (collection, ", ".join(sorted(FIELDS))))
        if len(parts) == 1:
            if req.method == "POST":
                return self.create(req, collection)
            return failure(405, "Method %s is not allowed on /v1/%s" % (req.method,
                                                                       collection))
        if parts[1:] == ["search"] and collection == "persons" and req.method == "GET":
            return self.search_persons(req)
        if len(parts) == 2:
            record = self.get(collection, parts[1])
            if record is None:
                return failure(404, "%s not found" % SINGULAR[collection])
            if req.method == "GET":
                return ok(record)
            if req.method == UPDATE_METHOD.get(collection, "PUT"):
                return self.update(req, collection, record)
            return failure(405, "Method %s is not allowed on /v1/%s/{id} (use %s)" % (
                req.method, collection, UPDATE_METHOD.get(collection, "PUT")))
        return failure(404, "Unknown path %s" % req.path)

    def get(self, collection, record_id):
        if collection == "users":
            return next((u for u in self.users if str(u["id"]) == str(record_id)), None)
        return self.find(collection, record_id)

    # --- validation -----------------------------------------------------------
    def check_fields(self, collection, body):
        """None, or the message naming the first bad field."""
        known = FIELDS[collection]
        for name, value in body.items():
            kind = known.get(name)
            if kind is None:
                if CUSTOM_KEY.match(name):
                    if isinstance(value, (dict, list)) and not (
                            isinstance(value, dict) and set(value) <= {"value", "currency"}):
                        return "custom field %s takes a scalar (or {value, currency})" % name
                    continue
                return "Unknown field '%s' for %s (custom fields are 40-hex-digit keys)" % (
                    name, collection)
            if value is None:
                continue
            problem = self.check_value(name, kind, value)
            if problem:
                return problem
        return None

    def check_value(self, name, kind, value):
        if kind == "str" and not isinstance(value, str):
            return "%s must be a string" % name
        if kind == "int" and not is_int(value):
            return "%s must be an integer" % name
        if kind == "num" and not (is_int(value) or isinstance(value, float) or
                                  (isinstance(value, str) and
                                   re.fullmatch(r"-?\d+(\.\d+)?", value))):
            return "%s must be a number" % name
        if kind == "bool" and not isinstance(value, bool):
            return "%s must be a boolean" % name
        if kind == "flag" and not (isinstance(value, bool) or value in (0, 1)):
            return "%s must be 0 or 1" % name
        if kind == "date" and not is_date(value):
            return "%s must be a date YYYY-MM-DD" % name
        if kind == "time" and not (isinstance(value, str) and
                                   re.fullmatch(r"\d\d:\d\d", value)):
            return "%s must be HH:MM" % name
        if kind == "visible" and str(value) not in ("1", "3", "5", "7"):
            return "visible_to must be one of 1, 3, 5, 7"
        if kind == "status" and value not in ("open", "won", "lost", "deleted"):
            return "status must be one of open, won, lost, deleted"
        if kind == "atype" and value not in ACTIVITY_TYPES:
            return "type must be an activity type key (%s)" % ", ".join(ACTIVITY_TYPES)
        if kind == "money" and not (isinstance(value, dict) and set(value) == {"amount",
                                                                           "currency"}
                                    and (is_int(value["amount"]) or
                                         isinstance(value["amount"], float))
                                    and isinstance(value["currency"], str)):
            return "%s must be {\"amount\": number, \"currency\": \"EUR\"}" % name
        if kind == "uuids" and not (isinstance(value, list) and all(
                isinstance(v, str) and re.fullmatch(r"[0-9a-f-]{36}", v) for v in value)):
            return "%s must be an array of UUIDs" % name
        if kind == "contact":
            items = value if isinstance(value, list) else [value]
            for item in items:
                text = item.get("value") if isinstance(item, dict) else item
                if not isinstance(text, str):
                    return "%s must be a string, strings, or {value, primary, label} " \
                           "objects" % name
                if name == "email" and text and not is_email(text):
                    return "email '%s' is not a valid email address" % text
        if kind.startswith("ref:"):
            target = kind[4:]
            if target == "leads":
                if not isinstance(value, str):
                    return "%s must be a lead id (a UUID string)" % name
            elif not is_int(value):
                return "%s must be an integer id" % name
            if self.get(target, value) is None:
                return "%s %s: %s not found" % (name, value, SINGULAR[target])
        return None

    def check_required(self, collection, record):
        def present(name):
            return record.get(name) not in (None, "")
        if collection in ("persons", "organizations") and not present("name"):
            return "Validation failed: name: Required"
        if collection in ("leads", "deals") and not present("title"):
            return "Validation failed: title: Required"
        if collection == "leads" and not (present("person_id") or present("organization_id")):
            return "Validation failed: a lead must be linked to a person or an organization " \
                   "(person_id or organization_id)"
        if collection == "notes":
            if not present("content"):
                return "Validation failed: content: Required"
            if not any(present(k) for k in ("lead_id", "deal_id", "person_id", "org_id")):
                return "Validation failed: a note needs one of lead_id, deal_id, person_id, " \
                       "org_id"
        return None

    # --- records -----------------------------------------------------------
    def normalize(self, collection, body):
        record = dict(body)
        for name in ("email", "phone"):
            if collection == "persons" and name in record and record[name] is not None:
                items = record[name] if isinstance(record[name], list) else [record[name]]
                record[name] = [
                    {"label": item.get("label", "work"), "value": item["value"],
                     "primary": bool(item.get("primary", i == 0))} if isinstance(item, dict)
                    else {"label": "work", "value": item, "primary": i == 0}
                    for i, item in enumerate(items)]
        return record

    @staticmethod
    def object_body(req):
        """(body, None) for a JSON object body, else (None, the 400 answer)."""
        try:
            body = req.json()
        except ValueError as e:
            return None, failure(400, str(e))
        if not isinstance(body, dict):
            return None, failure(400, "The body must be a JSON object")
        return body, None

    def create(self, req, collection):
        body, answer = self.object_body(req)
        if answer:
            return answer
        problem = self.check_fields(collection, body) or self.check_required(collection, body)
        if problem:
            return failure(400, problem)
        record = self.normalize(collection, body)
        if collection == "leads":
            record["id"] = str(uuid.uuid4())
            record.setdefault("owner_id", self.users[0]["id"] if self.users else None)
            record.update({"source_name": "API", "is_archived": False,
                           "was_seen": record.get("was_seen", False)})
        else:
            self.counters[collection] = self.counters.get(collection, 0) + 1
            record["id"] = self.counters[collection]
            record["active_flag"] = True
        if collection == "activities":
            record.setdefault("type", "task")
            record.setdefault("subject", record["type"].capitalize())
            record.setdefault("done", False)
        if collection == "deals":
            record.setdefault("status", "open")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.now()))
        record["add_time"] = record.get("add_time") or stamp
        record["update_time"] = stamp
        self.objects(collection).append(record)
        return ok(record, status=201)

    def update(self, req, collection, record):
        body, answer = self.object_body(req)
        if answer:
            return answer
        problem = self.check_fields(collection, body)
        if not problem:
            merged = dict(record, **body)
            problem = self.check_required(collection, merged)
        if problem:
            return failure(400, problem)
        record.update(self.normalize(collection, body))
        record["update_time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.now()))
        return ok(record)

    # --- lists -------------------------------------------------------------
    def search_persons(self, req):
        term = req.q("term")
        exact = req.q("exact_match") in ("true", "1")
        if term is None or len(term) < (1 if exact else 2):
            return failure(400, "term must be at least %d characters" % (1 if exact else 2))
        allowed = {"name", "email", "phone", "notes", "custom_fields"}
        fields = set((req.q("fields") or ",".join(sorted(allowed))).split(","))
        if not fields <= allowed:
            return failure(400, "fields: unknown %s (allowed: %s)" % (
                ", ".join(sorted(fields - allowed)), ", ".join(sorted(allowed))))
        try:
            start = int(req.q("start", "0"))
            limit = int(req.q("limit", "100"))
        except ValueError:
            return failure(400, "start and limit must be integers")
        if start < 0 or not 1 <= limit <= 500:
            return failure(400, "start must be >= 0 and limit 1..500")

        def hit(text):
            if not isinstance(text, str):
                text = "" if text is None else str(text)
            return text.lower() == term.lower() if exact else term.lower() in text.lower()

        items = []
        for person in self.records.get("persons", []):
            emails = [e["value"] for e in person.get("email") or []]
            phones = [p["value"] for p in person.get("phone") or []]
            custom = [v for k, v in person.items() if CUSTOM_KEY.match(k)]
            if ("name" in fields and hit(person.get("name"))) or \
                    ("email" in fields and any(hit(e) for e in emails)) or \
                    ("phone" in fields and any(hit(p) for p in phones)) or \
                    ("custom_fields" in fields and any(hit(c) for c in custom)):
                items.append({"result_score": 1.0, "item": {
                    "id": person["id"], "type": "person", "name": person.get("name"),
                    "phones": phones, "emails": emails,
                    "visible_to": person.get("visible_to", 3),
                    "owner": {"id": person.get("owner_id")},
                    "organization": None, "custom_fields": custom, "notes": [],
                    "update_time": person.get("update_time")}})
        page = items[start:start + limit]
        pagination = {"start": start, "limit": limit,
                      "more_items_in_collection": start + limit < len(items)}
        if pagination["more_items_in_collection"]:
            pagination["next_start"] = start + limit
        return ok({"items": page}, additional={"pagination": pagination})

    def users_endpoint(self, req, rest):
        if req.method != "GET":
            return failure(405, "Method %s is not allowed on /v1/users" % req.method)
        if not rest:
            return ok(self.users)
        if rest == ["me"]:
            return ok(self.users[0] if self.users else None)
        if rest == ["find"]:
            term = req.q("term")
            if not term:
                return failure(400, "term is required")
            by_email = req.q("search_by_email") in ("1", "true")
            key = "email" if by_email else "name"
            found = [u for u in self.users if term.lower() in str(u.get(key, "")).lower()]
            return ok(found or None)
        if len(rest) == 1:
            user = self.get("users", rest[0])
            return ok(user) if user else failure(404, "User not found")
        return failure(404, "Unknown path %s" % req.path)


if __name__ == "__main__":
    sys.exit(serve(Pipedrive, sys.argv))
