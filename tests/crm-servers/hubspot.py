#!/usr/bin/python3
"""hubspot.py PORT [--token T]: a HubSpot CRM API v3 stand-in for tests.

Started by tests as its own process (PORT 0 picks a free port; the first stdout
line is `listening 127.0.0.1:PORT`; SIGTERM stops it). Authentication is a
private app's access token as `Authorization: Bearer T` (default token
"test-private-app-token"); HubSpot private apps have no OAuth grant, so the
token controls of /_test/control change nothing here. Shared parts (records,
/_test/state, /_test/control) are in vendor_server.py. Records in
/_test/state are as HubSpot answers them ({id, properties, createdAt,
updatedAt, archived}) plus "associations": [{"toObjectType", "toObjectId",
"associationTypeId"}] (the stand-in's own, for tests to read).

Paths served (what config/crms/hubspot.json uses):
  POST  /crm/v3/objects/{type}                {properties, associations?} -> 201
  PATCH /crm/v3/objects/{type}/{id}           {properties} -> 200
  GET   /crm/v3/objects/{type}?limit=&after=&properties=&archived=   the list,
        {results, paging.next.after} (HubSpot's list of an object type)
  GET   /crm/v3/objects/{type}/{id}[?properties=]   -> 200
  POST  /crm/v3/objects/{type}/search         {filterGroups, sorts, properties, limit, after}
  POST  /crm/v3/objects/{type}/batch/create   {inputs: [...]} up to 100 -> 201 / 207
  POST  /crm/v3/objects/{type}/batch/update   {inputs: [{id, properties}]} up to 100
  GET   /crm/v3/owners?limit=&after=&archived=   paged by paging.next.after
  {type}: contacts, deals, notes, 0-420 (listings).

Documents followed (as the search tool gave them):
  Error body {"status": "error", "message", "errors": [{"message", "in"}],
    "category", "correlationId"} (fields optional, category e.g.
    VALIDATION_ERROR, RATE_LIMITS):
    https://developers.hubspot.com/docs/faq/api-error-responses
    https://developers.hubspot.com/changelog/upcoming-changes-to-error-responses
  429 body {"status": "error", "message": "You have reached your ... limit.",
    "errorType": "RATE_LIMIT", "correlationId", "policyName"}, quoted from
    https://developers.hubspot.com/docs/api/usage-details in
    https://community.hubspot.com/t5/APIs-Integrations/Hubspot-User-experience/m-p/511719
  Rate-limit headers X-HubSpot-RateLimit-Daily, -Daily-Remaining, -Secondly,
    -Secondly-Remaining (and HubSpot's usage-details page: -Max, -Remaining,
    -Interval-Milliseconds for the rolling window):
    https://www.throttleproxy.com/docs/rate-limits/hubspot
  Error model (category, correlationId, message, errors, context, links):
    https://www.rubydoc.info/gems/hubspot-api-client/2.0.0/Hubspot/Crm/Objects/Error

What the documents leave open, and what this stand-in assumes:
  - Property values must be JSON strings (HubSpot's API documents them as
    string maps; a number is refused here so a mapping that forgets toString
    fails). An empty string clears a property.
  - Unknown properties are refused (400 VALIDATION_ERROR, errors[].code
    PROPERTY_DOESNT_EXIST naming the property), as HubSpot does; a portal's
    custom properties are declared with the control key
    customProperties: {"contacts": ["crmsync_reference", ...], ...}.
  - Enumerations checked: hs_lead_status, lifecyclestage, dealstage of the
    default pipeline, pipeline "default"; hubspot_owner_id must be an owner;
    email must look like an address (INVALID_EMAIL).
  - Associations: notes -> contacts type 202, deals -> contacts type 3
    (HUBSPOT_DEFINED); the target must exist.
  - Search: at most 5 filterGroups of at most 6 filters, operators EQ, NEQ,
    HAS_PROPERTY, NOT_HAS_PROPERTY, GT, GTE, LT, LTE (datetime properties such
    as lastmodifieddate compare as times, the value in Unix ms or ISO 8601);
    sorts [{"propertyName", "direction": ASCENDING|DESCENDING}] (at most one,
    ties by id); limit 1..200 (default 10); `after` is an offset and at most
    10,000 results can be paged through (HubSpot's search limit: after 10000
    is 400).

Inbound (an agent's change and HubSpot's webhook back), documents followed:
  Webhook deliveries are a JSON array of events {eventId, subscriptionId,
    portalId, appId, occurredAt (ms), subscriptionType, attemptNumber,
    objectId, propertyName, propertyValue, changeSource, sourceId}, up to 100
    per request:
    https://developers.hubspot.com/docs/api/webhooks (webhook payloads)
    https://automatelab.tech/saas-webhooks/hubspot/ (field list)
    Subscriptions per property, e.g. contact.propertyChange on email:
    https://developers.hubspot.com/docs/api-reference/legacy/webhooks/subscriptions/create-subscription
  Signatures: v3 = base64(HMAC-SHA256(client secret, method + URI + body +
    timestamp)) in X-HubSpot-Signature-v3 with X-HubSpot-Request-Timestamp (ms;
    receivers refuse it after 5 minutes); webhooks also carry
    X-HubSpot-Signature-Version v1 with X-HubSpot-Signature =
    hex(SHA-256(client secret + body)) (v2: hex(SHA-256(secret + method + URI +
    body))):
    https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures
    https://developers.hubspot.com/docs/api/webhooks/validating-requests
  Search on lastmodifieddate with GTE, sorts and after paging:
    https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm
    https://developers.hubspot.com/docs/api-reference/crm-associations-v202509/public-object-search-post/post-crm-objects-2025-09-objectType-search

  Control keys for it (vendor_server.py has clock, webhook, edit):
    webhook: {"url", "clientSecret", "appId", "portalId",
              "subscriptions": {"contacts": ["hs_lead_status", ...], ...},
              "signatureVersion": "v1" (default) | "v2", "send": bool,
              "apiChanges": bool}  with apiChanges, writes through the API
              (PATCH, batch update) are notified too, changeSource
              "INTEGRATION", sent after the API answer: HubSpot notifies
              changes whatever made them, so an integration hears its own
              writes back
    edit: {"object": "contacts", "id": "1001", "properties": {...},
           "changeSource": "CRM_UI"}  an agent's change: validated as an API
           write, lastmodifieddate/updatedAt from the clock; one
           <type>.propertyChange event per subscribed property whose value
           changed, in one delivery
    redeliver: true   HubSpot's retry of the last delivery: the same events,
           attemptNumber + 1, signed again at the clock's now
  What the documents leave open: eventId is a counter here (HubSpot does not
  promise it unique); subscriptionId is 1 + the property's index.
  - Owners: limit 1..500 (default 100); the user directory (control key
    users) holds owners {id, email, firstName, lastName, userId, archived}.
  - The rolling window is 100 requests per 10 s (a private app on Free or
    Starter); control key rateLimitPerWindow changes it. Daily 250000.
  - 401 {"status": "error", "message": "Authentication credentials not found.
    ...", "category": "INVALID_AUTHENTICATION"}; 404 OBJECT_NOT_FOUND.
"""

import base64
import hashlib
import hmac
import json
import re
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when tests run it
from vendor_server import (FixedWindow, Response, Vendor, is_email, iso_millis, parse_time_ms,
                           serve, whole_number_error)

OBJECT_PATH = re.compile(r"^/crm/v3/objects/([^/]+)(?:/([^/]+))?(?:/([^/]+))?$")
OBJECT_TYPES = ("contacts", "deals", "notes", "0-420")

# HubSpot's default properties per object that this stand-in knows.
PROPERTIES = {
    "contacts": {"firstname", "lastname", "email", "phone", "mobilephone", "company",
                 "hs_lead_status", "lifecyclestage", "hubspot_owner_id", "city", "website"},
    "deals": {"dealname", "amount", "pipeline", "dealstage", "closedate", "hubspot_owner_id",
              "dealtype", "description"},
    "notes": {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"},
    "0-420": {"hs_name", "hs_price", "hs_city", "hs_neighborhood", "hubspot_owner_id",
              "hs_address_1", "hs_zip", "hs_bedrooms", "hs_bathrooms", "hs_listing_type"},
}
ENUMS = {
    "hs_lead_status": {"NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
                       "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"},
    "lifecyclestage": {"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                       "opportunity", "customer", "evangelist", "other"},
    "dealstage": {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
                  "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"},
    "pipeline": {"default"},
}
# (from, to) -> the HUBSPOT_DEFINED association type id.
ASSOCIATIONS = {("notes", "contacts"): 202, ("deals", "contacts"): 3}
DATETIME_PROPERTIES = {"hs_timestamp", "closedate"}
SEARCH_OPERATORS = {"EQ", "NEQ", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "GT", "GTE", "LT", "LTE"}
# Properties every object has and search can filter and sort on (read only).
SYSTEM_PROPERTIES = {"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"}
TIME_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate"}
SEARCH_RESULT_LIMIT = 10000
# The webhook's object name of each object type (contact.propertyChange, ...).
EVENT_OBJECT = {"contacts": "contact", "deals": "deal", "notes": "note", "0-420": "listing"}


def error(status, category, message, errors=None, **extra):
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(status, body)


def invalid(message, code="INVALID_INPUT", name=None):
    detail = {"message": message, "code": code}
    if name is not None:
        detail["context"] = {"propertyName": [name]}
    return error(400, "VALIDATION_ERROR", "Property values were not valid: " + message, [detail])


def is_datetime(value):
    """HubSpot datetime properties: Unix milliseconds or ISO 8601 (UTC)."""
    if value.isdigit():
        return True
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d"):
        try:
            time.strptime(value, fmt)
            return True
        except ValueError:
            pass
    return False


def hubspot_time(seconds):
    """`seconds` (Unix) as HubSpot's datetime: 2026-12-03T14:00:00.123Z."""
    return iso_millis(seconds)


def sign_v3(secret, method, uri, body, timestamp):
    digest = hmac.new(secret.encode("utf-8"), (method + uri + body + timestamp).encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class HubSpot(Vendor):
    name = "hubspot"

    def __init__(self, args):
        super().__init__(args)
        self.token = args.get("token", "test-private-app-token")
        self.custom = {kind: set() for kind in OBJECT_TYPES}
        self.window = FixedWindow(10, 100)
        self.daily_limit = 250000
        self.daily_used = 0
        self.next_id = 1000
        self.next_event = 5000
        self.last_events = None  # the events of the last delivery, for `redeliver`
        self.users = [
            {"id": "101", "email": "ana@example.test", "firstName": "Ana", "lastName": "Agent",
             "userId": 9001, "archived": False},
            {"id": "102", "email": "bo@example.test", "firstName": "Bo", "lastName": "Broker",
             "userId": 9002, "archived": False},
            {"id": "103", "email": "cy@example.test", "firstName": "Cy", "lastName": "Gone",
             "userId": 9003, "archived": True},
        ]

    # --- vendor-shaped answers ---------------------------------------------
    def failure_response(self, status):
        return error(status, "INTERNAL_ERROR", "internal error (scripted failure)")

    def rate_limited_response(self):
        return Response(429, {"status": "error",
                              "message": "You have reached your ten_secondly_rolling limit.",
                              "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
                              "policyName": "TEN_SECONDLY_ROLLING", "category": "RATE_LIMITS"})

    def rate_limit_headers(self, req, status):
        if not req.path.startswith("/crm/"):
            return {}
        self.window.roll()
        return {"X-HubSpot-RateLimit-Daily": self.daily_limit,
                "X-HubSpot-RateLimit-Daily-Remaining": max(0, self.daily_limit - self.daily_used),
                "X-HubSpot-RateLimit-Interval-Milliseconds": self.window.seconds * 1000,
                "X-HubSpot-RateLimit-Max": self.window.limit,
                "X-HubSpot-RateLimit-Remaining": self.window.remaining(),
                "X-HubSpot-RateLimit-Secondly": max(1, self.window.limit // self.window.seconds),
                "X-HubSpot-RateLimit-Secondly-Remaining": max(
                    0, min(self.window.remaining(), self.window.limit // self.window.seconds))}

    def control(self, key, value):
        if key == "rateLimitPerWindow":
            error_text = whole_number_error(key, value, 0)
            if error_text is None:
                self.window.limit = value
            return error_text
        if key == "customProperties":
            if not isinstance(value, dict):
                return "customProperties must be {\"contacts\": [\"name\", ...], ...}"
            for kind, names in value.items():
                if kind not in OBJECT_TYPES:
                    return "customProperties: unknown object type '%s' (known: %s)" % (
                        kind, ", ".join(OBJECT_TYPES))
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    return "customProperties.%s must be an array of property names" % kind
                self.custom[kind] = set(names)
            return None
        return "unknown control key '%s'" % key

    # --- inbound: an agent's change and the webhook about it ---------------
    def configure_webhook(self, value):
        if not isinstance(value.get("clientSecret"), str) or not value["clientSecret"]:
            return "webhook.clientSecret (the app's client secret) is required"
        subscriptions = value.get("subscriptions")
        if not isinstance(subscriptions, dict) or not all(
                kind in OBJECT_TYPES and isinstance(names, list) for kind, names in
                subscriptions.items()):
            return "webhook.subscriptions must be {\"contacts\": [\"property\", ...], ...}"
        if value.get("signatureVersion", "v1") not in ("v1", "v2"):
            return "webhook.signatureVersion must be v1 or v2 (v3 is always sent)"
        if not isinstance(value.get("apiChanges", False), bool):
            return "webhook.apiChanges must be true or false"
        return None

    def retried(self, request):
        for event in self.last_events:
            event["attemptNumber"] += 1
        return self.signed(self.last_events)

    def signed(self, events):
        """The request HubSpot sends for `events`, signed as it documents."""
        hook = self.webhook
        body = json.dumps(events, separators=(",", ":"))
        timestamp = str(self.clock.now_ms())
        secret = hook["clientSecret"]
        uri = hook["url"]
        headers = {"Content-Type": "application/json",
                   "X-HubSpot-Request-Timestamp": timestamp,
                   "X-HubSpot-Signature-v3": sign_v3(secret, "POST", uri, body, timestamp)}
        if hook.get("signatureVersion", "v1") == "v2":
            headers["X-HubSpot-Signature-Version"] = "v2"
            headers["X-HubSpot-Signature"] = hashlib.sha256(
                (secret + "POST" + uri + body).encode("utf-8")).hexdigest()
        else:
            headers["X-HubSpot-Signature-Version"] = "v1"
            headers["X-HubSpot-Signature"] = hashlib.sha256(
                (secret + body).encode("utf-8")).hexdigest()
        return {"method": "POST", "url": uri, "headers": headers, "body": body}

    def edit(self, value):
        if not isinstance(value, dict) or value.get("object") not in OBJECT_TYPES or \
                not isinstance(value.get("id"), str) or \
                not isinstance(value.get("properties"), dict):
            return "edit must be {\"object\": one of %s, \"id\": \"...\", \"properties\": " \
                "{...}}" % ", ".join(OBJECT_TYPES)
        kind = value["object"]
        record = self.find(kind, value["id"])
        if record is None:
            return "edit: no %s with id %s" % (kind, value["id"])
        failed = self.check_properties(kind, value["properties"])
        if failed:
            return "edit: " + failed.body["message"]
        changed = [name for name, v in value["properties"].items()
                   if record["properties"].get(name) != v]
        record["properties"].update(value["properties"])
        record["updatedAt"] = record["properties"]["lastmodifieddate"] = hubspot_time(self.now())
        self.answer["record"] = self.shown(record)
        self.notify(kind, record, changed, value["properties"], value.get("changeSource", "CRM_UI"),
                    value.get("userId", 9001))
        return None

    def notify(self, kind, record, changed, properties, source, user_id):
        """Emits one delivery of <type>.propertyChange events for the subscribed
        properties among `changed` (none without a webhook)."""
        if not self.webhook:
            return
        subscribed = self.webhook["subscriptions"].get(kind, [])
        events = []
        for name in changed:
            if name not in subscribed:
                continue
            self.next_event += 1
            events.append({
                "eventId": self.next_event, "subscriptionId": 1 + subscribed.index(name),
                "portalId": self.webhook.get("portalId", 62515),
                "appId": self.webhook.get("appId", 1160452),
                "occurredAt": self.clock.now_ms(),
                "subscriptionType": EVENT_OBJECT[kind] + ".propertyChange",
                "attemptNumber": 0, "objectId": int(record["id"]), "propertyName": name,
                "propertyValue": properties[name], "changeSource": source,
                "sourceId": "userId:%s" % user_id})
        if events:
            self.last_events = events
            self.emit(self.signed(events))

    # --- routing ---------------------------------------------------------
    def handle(self, req):
        if not req.path.startswith("/crm/v3/"):
            return error(404, "OBJECT_NOT_FOUND", "Unknown path %s" % req.path)
        auth = req.header("Authorization") or ""
        if auth != "Bearer " + self.token:
            return error(401, "INVALID_AUTHENTICATION",
                         "Authentication credentials not found. This API supports OAuth 2.0 "
                         "authentication and you can find more details at "
                         "https://developers.hubspot.com/docs/methods/auth/oauth-overview")
        if not self.window.take():
            return self.rate_limited_response()
        self.daily_used += 1
        if req.path == "/crm/v3/owners" or req.path == "/crm/v3/owners/":
            if req.method != "GET":
                return error(405, "VALIDATION_ERROR", "%s is not allowed on owners" % req.method)
            return self.owners(req)
        m = OBJECT_PATH.match(req.path)
        if not m or m.group(1) not in OBJECT_TYPES:
            return error(404, "OBJECT_NOT_FOUND",
                         "Unknown object type in %s (known: %s)" % (req.path,
                                                                     ", ".join(OBJECT_TYPES)))
        kind, second, third = m.groups()
        body = None
        if req.method in ("POST", "PATCH"):
            if req.content_type() != "application/json":
                return error(415, "VALIDATION_ERROR",
                             "Content-Type must be application/json, not '%s'" %
                             (req.header("Content-Type") or ""))
            try:
                body = req.json()
            except ValueError as e:
                return error(400, "VALIDATION_ERROR", "Invalid input JSON: %s" % e)
            if not isinstance(body, dict):
                return error(400, "VALIDATION_ERROR", "Invalid input JSON: the body must be "
                             "an object")
        if second is None and req.method == "POST":
            return self.create(kind, body)
        if second is None and req.method == "GET":
            return self.list(kind, req)
        if second == "search" and third is None and req.method == "POST":
            return self.search(kind, body)
        if second == "batch" and third in ("create", "update") and req.method == "POST":
            return self.batch(kind, third, body)
        if second is not None and third is None and second not in ("search", "batch"):
            if req.method == "PATCH":
                return self.update(kind, second, body)
            if req.method == "GET":
                record = self.find(kind, second)
                if record is None:
                    return error(404, "OBJECT_NOT_FOUND", "resource not found")
                if req.q("properties") is None:
                    return Response(200, self.shown(record))
                return Response(200, self.selected(record, req.q("properties")))
        return error(405, "VALIDATION_ERROR", "%s %s is not a HubSpot CRM v3 operation" %
                     (req.method, req.path))

    # --- checks ----------------------------------------------------------
    def check_properties(self, kind, properties):
        """None when `properties` is valid for `kind`, else the 400 answer."""
        if not isinstance(properties, dict):
            return error(400, "VALIDATION_ERROR", "Invalid input JSON: properties must be an "
                         "object of property name to string value")
        known = PROPERTIES[kind] | self.custom[kind]
        for name, value in properties.items():
            if name not in known:
                return invalid("Property \"%s\" does not exist" % name, "PROPERTY_DOESNT_EXIST",
                               name)
            if not isinstance(value, str):
                return invalid("%s was not a string (HubSpot property values are strings; got "
                               "%s)" % (name, type(value).__name__), "INVALID_INTEGER"
                               if isinstance(value, (int, float)) else "INVALID_INPUT", name)
            if value == "":
                continue
            if name in ENUMS and value not in ENUMS[name]:
                return invalid("%s was not one of the allowed options: %s" % (
                    value, ", ".join(sorted(ENUMS[name]))), "INVALID_OPTION", name)
            if name == "email" and not is_email(value):
                return invalid("Email address %s is invalid" % value, "INVALID_EMAIL", name)
            if name == "hubspot_owner_id" and not any(str(u.get("id")) == value
                                                      for u in self.users):
                return invalid("%s is not a valid owner id" % value, "INVALID_OWNER_ID", name)
            if name in DATETIME_PROPERTIES and not is_datetime(value):
                return invalid("%s is not a valid datetime for %s" % (value, name),
                               "INVALID_DATE", name)
            if name in ("amount", "hs_price"):
                try:
                    float(value)
                except ValueError:
                    return invalid("%s is not a number for %s" % (value, name),
                                   "INVALID_DECIMAL", name)
        return None

    def check_associations(self, kind, associations):
        """(list of stored associations, None) or (None, the 400/404 answer)."""
        if associations is None:
            return [], None
        if not isinstance(associations, list):
            return None, error(400, "VALIDATION_ERROR", "associations must be an array")
        stored = []
        for a in associations:
            to = a.get("to") if isinstance(a, dict) else None
            types = a.get("types") if isinstance(a, dict) else None
            if (not isinstance(to, dict) or not isinstance(to.get("id"), str) or not to["id"]
                    or not isinstance(types, list) or not types):
                return None, error(400, "VALIDATION_ERROR", "each association needs "
                                   "to.id (a string) and types [{associationCategory, "
                                   "associationTypeId}]")
            for t in types:
                if not isinstance(t, dict) or t.get("associationCategory") != "HUBSPOT_DEFINED":
                    return None, error(400, "VALIDATION_ERROR", "associationCategory must be "
                                       "HUBSPOT_DEFINED for a default association")
                type_id = t.get("associationTypeId")
                target = [to_kind for (from_kind, to_kind), tid in ASSOCIATIONS.items()
                          if from_kind == kind and tid == type_id]
                if not target:
                    return None, error(400, "VALIDATION_ERROR", "associationTypeId %r does not "
                                       "associate %s to anything this portal knows" %
                                       (type_id, kind))
                if self.find(target[0], to["id"]) is None:
                    return None, error(404, "OBJECT_NOT_FOUND", "%s %s does not exist" %
                                       (target[0], to["id"]))
                stored.append({"toObjectType": target[0], "toObjectId": to["id"],
                               "associationTypeId": type_id})
        return stored, None

    # --- operations ------------------------------------------------------
    def shown(self, record):
        return {k: v for k, v in record.items() if k != "associations"}

    def new_record(self, kind, properties, associations):
        self.next_id += 1
        stamp = hubspot_time(self.now())
        record_id = str(self.next_id)
        props = dict(properties)
        props.update({"hs_object_id": record_id, "createdate": stamp,
                      "lastmodifieddate": stamp})
        record = {"id": record_id, "properties": props, "createdAt": stamp,
                  "updatedAt": stamp, "archived": False, "associations": associations}
        self.objects(kind).append(record)
        return record

    def create(self, kind, body):
        unknown = set(body) - {"properties", "associations", "objectWriteTraceId"}
        if unknown:
            return error(400, "VALIDATION_ERROR", "Invalid input JSON: unknown field(s) %s" %
                         ", ".join(sorted(unknown)))
        failed = self.check_properties(kind, body.get("properties"))
        if failed:
            return failed
        associations, failed = self.check_associations(kind, body.get("associations"))
        if failed:
            return failed
        return Response(201, self.shown(self.new_record(kind, body["properties"], associations)))

    def update(self, kind, record_id, body):
        unknown = set(body) - {"properties"}
        if unknown:
            return error(400, "VALIDATION_ERROR", "Invalid input JSON: unknown field(s) %s" %
                         ", ".join(sorted(unknown)))
        record = self.find(kind, record_id)
        if record is None:
            return error(404, "OBJECT_NOT_FOUND", "resource not found")
        failed = self.check_properties(kind, body.get("properties"))
        if failed:
            return failed
        changed = [name for name, v in body["properties"].items()
                   if record["properties"].get(name) != v]
        record["properties"].update(body["properties"])
        record["updatedAt"] = record["properties"]["lastmodifieddate"] = hubspot_time(self.now())
        if self.webhook.get("apiChanges"):
            self.notify(kind, record, changed, body["properties"], "INTEGRATION", 0)
        return Response(200, self.shown(record))

    def batch(self, kind, action, body):
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            return error(400, "VALIDATION_ERROR", "inputs must be a non-empty array")
        if len(inputs) > 100:
            return error(400, "VALIDATION_ERROR", "Batch input limit is 100, got %d" %
                         len(inputs))
        results, errors = [], []
        for item in inputs:
            if not isinstance(item, dict):
                return error(400, "VALIDATION_ERROR", "each input must be an object")
            if action == "update":
                answer = self.update(kind, str(item.get("id", "")),
                                     {k: v for k, v in item.items() if k != "id"})
            else:
                answer = self.create(kind, item)
            if answer.status < 300:
                results.append(answer.body)
                continue
            trace = item.get("objectWriteTraceId")
            if action == "create" and isinstance(trace, str) and trace:
                errors.append({"status": "error", "category": answer.body["category"],
                               "message": answer.body["message"],
                               "context": {"objectWriteTraceId": [trace]}})
                continue
            return answer  # without a trace id the whole batch fails on the first error
        body_out = {"status": "COMPLETE", "results": results,
                    "startedAt": hubspot_time(self.now()), "completedAt": hubspot_time(self.now())}
        if errors:
            body_out["numErrors"] = len(errors)
            body_out["errors"] = errors
            return Response(207, body_out)
        return Response(201 if action == "create" else 200, body_out)

    def search(self, kind, body):
        groups = body.get("filterGroups", [])
        sorts = body.get("sorts", [])
        limit = body.get("limit", 10)
        if not isinstance(groups, list) or len(groups) > 5:
            return error(400, "VALIDATION_ERROR", "filterGroups must be an array of at most 5")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 200:
            return error(400, "VALIDATION_ERROR", "limit must be a whole number 1..200")
        known = PROPERTIES[kind] | self.custom[kind] | SYSTEM_PROPERTIES
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > 6:
                return error(400, "VALIDATION_ERROR", "each filterGroup needs filters, an "
                             "array of at most 6")
            for f in filters:
                if not isinstance(f, dict) or f.get("operator") not in SEARCH_OPERATORS:
                    return error(400, "VALIDATION_ERROR", "filter operator must be one of %s" %
                                 ", ".join(sorted(SEARCH_OPERATORS)))
                if f.get("propertyName") not in known:
                    return error(400, "VALIDATION_ERROR", "There was a problem with the "
                                 "request: unknown property %s" % f.get("propertyName"))
                if f["operator"] in ("GT", "GTE", "LT", "LTE") and (
                        not isinstance(f.get("value"), (str, int)) or
                        f["propertyName"] in TIME_PROPERTIES and
                        parse_time_ms(f["value"]) is None):
                    return error(400, "VALIDATION_ERROR", "%s on %s needs a value (a datetime "
                                 "as Unix ms or ISO 8601), got %r" % (
                                     f["operator"], f["propertyName"], f.get("value")))
        if not isinstance(sorts, list) or len(sorts) > 1:
            return error(400, "VALIDATION_ERROR", "sorts must be an array of at most one sort")
        for sort in sorts:
            if not isinstance(sort, dict) or sort.get("propertyName") not in known or \
                    sort.get("direction", "ASCENDING") not in ("ASCENDING", "DESCENDING"):
                return error(400, "VALIDATION_ERROR", "each sort is {propertyName: a known "
                             "property, direction: ASCENDING|DESCENDING}, got %r" % (sort,))

        def ordered(record, name):
            value = record["properties"].get(name)
            if name in TIME_PROPERTIES:
                return parse_time_ms(value) or 0
            if name == "hs_object_id" or (isinstance(value, str) and value.isdigit()):
                return int(value)
            return value or ""

        def passes(record, f):
            value = record["properties"].get(f["propertyName"])
            op = f["operator"]
            if op == "HAS_PROPERTY":
                return value not in (None, "")
            if op == "NOT_HAS_PROPERTY":
                return value in (None, "")
            if op in ("EQ", "NEQ"):
                return (value == str(f.get("value"))) == (op == "EQ")
            if value in (None, ""):
                return False
            if f["propertyName"] in TIME_PROPERTIES:
                have, want = parse_time_ms(value), parse_time_ms(f["value"])
            else:
                try:
                    have, want = float(value), float(f["value"])
                except ValueError:
                    have, want = value, str(f["value"])
            return {"GT": have > want, "GTE": have >= want, "LT": have < want,
                    "LTE": have <= want}[op]

        matches = [r for r in self.objects(kind)
                   if not groups or any(all(passes(r, f) for f in g["filters"]) for g in groups)]
        matches.sort(key=lambda r: int(r["id"]))
        for sort in sorts:
            matches.sort(key=lambda r: ordered(r, sort["propertyName"]),
                         reverse=sort.get("direction") == "DESCENDING")
        after = body.get("after", "0")
        start = int(after) if isinstance(after, str) and after.isdigit() else 0
        if start + limit > SEARCH_RESULT_LIMIT:
            return error(400, "VALIDATION_ERROR", "There was a problem with the request: "
                         "paging past %d results is not supported (after=%d)" % (
                             SEARCH_RESULT_LIMIT, start))
        page = matches[start:start + limit]
        wanted = body.get("properties") or []
        results = []
        for r in page:
            shown = self.shown(r)
            shown["properties"] = {k: v for k, v in r["properties"].items()
                                   if k in wanted or k in ("hs_object_id", "createdate",
                                                           "lastmodifieddate")}
            results.append(shown)
        answer = {"total": len(matches), "results": results}
        if start + limit < len(matches):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return Response(200, answer)

    def selected(self, record, names):
        """The record as a read with properties=`names` shows it."""
        shown = self.shown(record)
        wanted = [n for n in names.split(",") if n]
        props = {k: record["properties"].get(k) for k in wanted}
        for k in ("hs_object_id", "createdate", "lastmodifieddate"):
            props[k] = record["properties"].get(k)
        shown["properties"] = props
        return shown

    def list(self, kind, req):
        limit_text = req.q("limit", "10")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            return error(400, "VALIDATION_ERROR", "limit must be 1..100, got '%s'" % limit_text)
        after = req.q("after", "0")
        if not after.isdigit():
            return error(400, "VALIDATION_ERROR", "after must be a cursor from paging.next.after")
        archived = req.q("archived", "false")
        if archived not in ("true", "false"):
            return error(400, "VALIDATION_ERROR", "archived must be true or false")
        limit, start = int(limit_text), int(after)
        records = [] if archived == "true" else sorted(
            (r for r in self.objects(kind) if int(r["id"]) >= start), key=lambda r: int(r["id"]))
        names = req.q("properties", "")
        answer = {"results": [self.selected(r, names) for r in records[:limit]]}
        if len(records) > limit:
            next_id = records[limit]["id"]
            answer["paging"] = {"next": {
                "after": next_id,
                "link": "%s/crm/v3/objects/%s?limit=%d&after=%s" % (self.base_url(), kind, limit,
                                                                    next_id)}}
        return Response(200, answer)

    def owners(self, req):
        limit_text = req.q("limit", "100")
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 500:
            return error(400, "VALIDATION_ERROR", "limit must be 1..500, got '%s'" % limit_text)
        archived = req.q("archived", "false")
        if archived not in ("true", "false"):
            return error(400, "VALIDATION_ERROR", "archived must be true or false")
        after = req.q("after", "0")
        if not after.isdigit():
            return error(400, "VALIDATION_ERROR", "after must be a cursor from paging.next.after")
        owners = [u for u in self.users if bool(u.get("archived", False)) == (archived == "true")]
        limit, start = int(limit_text), int(after)
        answer = {"results": owners[start:start + limit]}
        if start + limit < len(owners):
            answer["paging"] = {"next": {
                "after": str(start + limit),
                "link": "%s/crm/v3/owners?limit=%d&after=%d" % (self.base_url(), limit,
                                                                start + limit)}}
        return Response(200, answer)


if __name__ == "__main__":
    sys.exit(serve(HubSpot, sys.argv))
