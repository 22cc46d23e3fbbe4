#!/usr/bin/python3
"""zoho.py PORT: a Zoho CRM records API (v2, paths up to v8 accepted) stand-in for tests.

Started by tests as its own process (PORT 0 picks a free port; the first stdout
line is `listening 127.0.0.1:PORT`; SIGTERM stops it). The accounts server
(/oauth/v2/token) and the API (/crm/v2/...) share the port: the token answer's
api_domain is this server. Shared parts (records, tokens, /_test/state,
/_test/control) are in vendor_server.py.

Documents followed (as the search tool gave them):
  Refresh an access token: POST {Accounts_URL}/oauth/v2/token with
    refresh_token, client_id, client_secret, grant_type=refresh_token; answer
    {"access_token", "expires_in": 3600, "api_domain", "token_type": "Bearer"}:
    https://www.zoho.com/contracts/api/getting-started/refreshing-access-tokens.html
    https://www.zoho.com/pdfeditor/help/api/oauth-step4.html
  v2 records API: POST https://www.zohoapis.com/crm/v2/Leads, body {"data": [...]},
    header Authorization: Zoho-oauthtoken {oauth_token}, optional "trigger":
    https://zoho.com/es-xl/crm/help/api-diff/insertRecords.html
  Per-record answers {"code", "details", "message", "status"}; codes
    MANDATORY_NOT_FOUND (details api_name, json_path), INVALID_DATA,
    DUPLICATE_DATA; 207 Multi-Status when some records fail:
    https://raw.githubusercontent.com/api-evangelist/zoho/refs/heads/main/json-schema/zoho-validation-error-wrapper-schema.json
    https://raw.githubusercontent.com/api-evangelist/zoho/refs/heads/main/json-schema/zoho-error-response-core1168955151-schema.json
    https://raw.githubusercontent.com/api-evangelist/zoho/refs/heads/main/json-schema/zoho-action-response-schema.json
  Up to 100 records per insert/update/upsert call; TOO_MANY_REQUESTS for
    concurrency and sub-concurrency limits; API credits per 24 h:
    https://help.zoho.com/portal/zh/community/topic/kaizen-203-answering-your-questions-handling-api-limits-and-error-responses
    https://desk.zoho.com/portal/ubicorp/kb/articles/api-limits (200 per read, 100 per write)
  Search: criteria (Field:equals:value) with and/or, page, per_page:
    https://zoho.com/deluge/help/script/crm-search-records-v2.html
  Convert a lead: POST /crm/v2/Leads/{record_id}/actions/convert, body
    {"data": [{"overwrite", "notify_lead_owner", "notify_new_entity_owner",
    "Deals": {Deal_Name, Closing_Date, Stage, ...}}]}, answer the new ids by
    module: https://zoho.com/es-xl/crm/help/api-diff/convertLead.html
    https://www.zoho.com/deluge/help/crm/convert-lead.html
  Users: GET /crm/v2/users?type=ActiveUsers (AllUsers, DeactiveUsers, AdminUsers,
    ActiveConfirmedAdmins), answer {"users": [...]}, page / per_page:
    https://zoho.com/es-xl/crm/help/api-diff/getUsers.html
    https://zoho.com/developer/help/scripting/get-user-data.html
  INVALID_TOKEN on a bad or expired token (401):
    http://www.bqtyf.cn/networking/common-zoho-api-error-codes-them-1765859486.html
    https://help.zoho.com/portal/en/kb/accounts/faqs-troubleshooting/faqs/oauth/articles/invalid-oauthtoken-on-api-access-30-5-2021
  X-RATELIMIT-LIMIT / X-RATELIMIT-REMAINING / X-RATELIMIT-RESET, 429:
    https://raw.githubusercontent.com/api-evangelist/zoho/refs/heads/main/rate-limits/zoho-rate-limits.yml
    (derived by a third party from Zoho's API-limits page, not Zoho's own words)

What the documents leave open, and what this stand-in assumes:
  - Token errors come back HTTP 200 with {"error": "invalid_code"} (a bad,
    used or revoked refresh token), {"error": "invalid_client"} (client id or
    secret wrong) or {"error": "unsupported_grant_type"}: Zoho's accounts
    server answers 200 for these. The parameters may be in the query string
    (as the documents show them) or in a form body. Zoho does not rotate
    refresh tokens; with rotateRefreshTokens on, the answer carries a new
    refresh_token and the old one turns invalid_code.
  - A missing Authorization header is 401 AUTHENTICATION_FAILURE; a header
    without the "Zoho-oauthtoken " prefix, an unknown or expired token 401
    INVALID_TOKEN ("invalid oauth token"); details.expected names the shape.
  - Write answers: 201 (insert) / 200 (update) when every record succeeded,
    207 when some failed, 400 when all failed; each data[] item in the order
    sent. More than 100 records: 400 LIMIT_EXCEEDED (details limit 100) for the
    whole call. A body that is not {"data": [...]}: 400 INVALID_DATA or
    REQUIRED_PARAM_MISSING (details param "data").
  - Fields: the standard fields of a new org for Leads, Deals, Tasks and
    Products (Product_Name required; the module listings map to), plus
    custom fields declared with the control key customFields
    ({"Leads": {"UTM_Source": "text", ...}}; types text, email, number, date,
    datetime, boolean, lookup, picklist). Zoho drops unknown fields silently;
    this stand-in refuses them (INVALID_DATA, details api_name) so a typo in a
    mapping fails. Owner and other lookups are {"id": "..."}. Leads.Email is
    unique (DUPLICATE_DATA, details api_name, id of the other record).
    Lead_Status, Deals.Stage, Tasks.Status and Tasks.Priority take the values
    of a new org.
  - Conversion answers 200 {"data": [{"Contacts": id, "Deals": id or null,
    "Accounts": null}]} (no accounts here); the lead stays in /_test/state
    marked "$converted": true and refuses later updates (INVALID_DATA, id),
    as a converted Zoho lead is no longer a lead. The new contact is under
    "Contacts", the deal under "Deals" with Contact_Name set.
  - Notes: POST /crm/v2/Notes with Note_Title, Note_Content, Parent_Id
    {"id"} and se_module (Leads or Deals); Tasks name their record with What_Id
    and $se_module.
  - Search: (Field:equals:value) joined by and/or (no nesting beyond one
    level), or email= / phone= / word=; 204 with no body when nothing matches;
    per_page at most 200; info {per_page, count, page, more_records}.
  - Rate limits: every API answer carries X-RATELIMIT-LIMIT (per minute,
    default 100), X-RATELIMIT-REMAINING and X-RATELIMIT-RESET (Unix time in
    milliseconds of the window's end). Over the limit (or with rateLimitNext):
    429 {"code": "TOO_MANY_REQUESTS", "details": {...}, "message": "...",
    "status": "error"}. Control key rateLimitPerMinute changes the limit (0:
    every API request is over it, which tests use for a deterministic 429).

Inbound (an agent's change and Zoho's notification about it), documents followed:
  Notifications (actions/watch): a channel is enabled with channel_id,
    events (e.g. Leads.all), notify_url and an optional token (up to 50
    characters) that Zoho sends back in every notification body so the
    receiver can check it; the notification names the ids, not the values
    (the receiver fetches the record: GET /crm/v2/Leads/{id}); with
    return_affected_field_values the changed fields are named:
    https://www.zoho.com/crm/developer/docs/api/notifications/enable.html
    https://zoho.com/crm/developer/docs/api/notifications/overview.html
  What the documents leave open, and what this stand-in assumes: the body is
  {"server_time": Unix ms, "query_params": {}, "module": "Leads",
  "resource_uri": "<base>/crm/v2/Leads", "ids": ["..."], "affected_fields":
  [{"<id>": ["Field", ...]}], "operation": "update", "channel_id": "...",
  "token": "..."}, POSTed as application/json to notify_url; the token is
  the only proof of origin (no signature header).

Own control keys: customFields, rateLimitPerMinute, and for inbound
(vendor_server.py has clock, webhook, edit):
    webhook: {"url" (notify_url), "channelId", "token", "send"}
    edit: {"module": "Leads", "id": "...", "fields": {...}}  an agent's
          change, validated as an API update; Modified_Time from the clock;
          one notification naming the id
    redeliver: true   the last notification sent again, unchanged
    remove: {"module": "Leads", "id": "..."}  the record is gone (deleted in
          Zoho): reads by id answer 204 from then on
"""

import json
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when tests run it
from vendor_server import (FixedWindow, Response, Vendor, is_date, is_email, now_iso, serve,
                           whole_number_error)

API_PATH = re.compile(r"^/crm/v([2-8])/(.*)$")

LEAD_STATUS = ["-None-", "Attempted to Contact", "Contact in Future", "Contacted", "Junk Lead",
               "Lost Lead", "Not Contacted", "Pre-Qualified", "Not Qualified"]
DEAL_STAGE = ["Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
              "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
              "Closed Lost to Competition"]
FIELDS = {
    "Leads": {
        "First_Name": "text", "Last_Name": "text", "Email": "email", "Phone": "text",
        "Mobile": "text", "Company": "text", "Lead_Source": "text",
        "Lead_Status": ("picklist", LEAD_STATUS), "Description": "text", "Owner": "lookup",
        "Annual_Revenue": "number", "City": "text", "State": "text", "Street": "text",
        "Zip_Code": "text", "Country": "text", "Designation": "text", "Website": "text",
        "Rating": "text", "Industry": "text",
    },
    "Deals": {
        "Deal_Name": "text", "Stage": ("picklist", DEAL_STAGE), "Amount": "number",
        "Closing_Date": "date", "Description": "text", "Owner": "lookup",
        "Lead_Source": "text", "Type": "text", "Probability": "number", "Next_Step": "text",
    },
    "Tasks": {
        "Subject": "text", "Due_Date": "date",
        "Status": ("picklist", ["Not Started", "Deferred", "In Progress", "Completed",
                                "Waiting for input"]),
        "Priority": ("picklist", ["High", "Highest", "Low", "Lowest", "Normal"]),
        "Description": "text", "Owner": "lookup", "What_Id": "lookup", "$se_module": "text",
    },
    "Products": {
        "Product_Name": "text", "Product_Code": "text", "Unit_Price": "number",
        "Product_Active": "boolean", "Product_Category": "text", "Description": "text",
        "Owner": "lookup",
    },
    "Notes": {
        "Note_Title": "text", "Note_Content": "text", "Parent_Id": "lookup", "se_module": "text",
    },
}
REQUIRED = {"Leads": ["Last_Name"], "Deals": ["Deal_Name", "Stage"], "Tasks": ["Subject"],
            "Products": ["Product_Name"],
            "Notes": ["Note_Content", "Parent_Id", "se_module"]}
# The field naming the module of a polymorphic lookup.
MODULE_OF = {"What_Id": "$se_module", "Parent_Id": "se_module"}
TYPES = {"text", "email", "number", "date", "datetime", "boolean", "lookup", "picklist"}


def api_error(status, code, message, details=None):
    return Response(status, {"code": code, "details": details or {}, "message": message,
                             "status": "error"})


def item_error(code, message, details):
    return {"code": code, "details": details, "message": message, "status": "error"}


class Zoho(Vendor):
    name = "zoho"

    def __init__(self, args):
        super().__init__(args)
        self.counter = 0
        self.custom = {module: {} for module in FIELDS}
        self.budget = FixedWindow(60, 100)
        self.users = [
            {"id": "5725767000000411001", "full_name": "Ana Agent", "first_name": "Ana",
             "last_name": "Agent", "email": "ana@example.test", "status": "active",
             "confirm": True, "role": {"name": "CEO", "id": "5725767000000026005"},
             "profile": {"name": "Administrator", "id": "5725767000000026011"}},
            {"id": "5725767000000411002", "full_name": "Bo Broker", "first_name": "Bo",
             "last_name": "Broker", "email": "bo@example.test", "status": "active",
             "confirm": True, "role": {"name": "Manager", "id": "5725767000000026008"},
             "profile": {"name": "Standard", "id": "5725767000000026014"}},
            {"id": "5725767000000411003", "full_name": "Cy Gone", "first_name": "Cy",
             "last_name": "Gone", "email": "cy@example.test", "status": "disabled",
             "confirm": True, "role": {"name": "Manager", "id": "5725767000000026008"},
             "profile": {"name": "Standard", "id": "5725767000000026014"}},
        ]

    # --- vendor-shaped answers ---------------------------------------------
    def failure_response(self, status):
        return api_error(status, "INTERNAL_ERROR", "Internal Server Error (scripted failure)")

    def rate_limited_response(self):
        return api_error(429, "TOO_MANY_REQUESTS",
                         "The number of API requests has exceeded the allowed limit",
                         {"allowed_count": self.budget.limit, "time_frame": "1 minute"})

    def rate_limit_headers(self, req, status):
        if not req.path.startswith("/crm/"):
            return {}
        return {"X-RATELIMIT-LIMIT": self.budget.limit,
                "X-RATELIMIT-REMAINING": self.budget.remaining(),
                "X-RATELIMIT-RESET": int(self.budget.reset_at() * 1000)}

    def control(self, key, value):
        if key == "rateLimitPerMinute":
            error = whole_number_error(key, value, 0)
            if error is None:
                self.budget.limit = value
            return error
        if key == "customFields":
            if not isinstance(value, dict):
                return "customFields must be {\"Leads\": {\"Field\": \"type\"}, ...}"
            for module, fields in value.items():
                if module not in FIELDS:
                    return "customFields: unknown module '%s' (known: %s)" % (
                        module, ", ".join(sorted(FIELDS)))
                if not isinstance(fields, dict):
                    return "customFields.%s must be an object of field: type" % module
                for field, kind in fields.items():
                    if kind not in TYPES:
                        return "customFields.%s.%s: unknown type '%s' (known: %s)" % (
                            module, field, kind, ", ".join(sorted(TYPES)))
                self.custom[module].update(fields)
            return None
        if key == "remove":
            if not isinstance(value, dict) or value.get("module") not in FIELDS or \
                    self.find(value["module"], value.get("id")) is None:
                return "remove must name a record: {\"module\": \"Leads\", \"id\": \"...\"}"
            self.records[value["module"]].remove(self.find(value["module"], value["id"]))
            return None
        return "unknown control key '%s'" % key

    # --- inbound: an agent's change and the notification about it ----------
    def configure_webhook(self, value):
        if not isinstance(value.get("channelId"), str) or not value["channelId"].isdigit():
            return "webhook.channelId must be the channel's id (digits, as a string)"
        token = value.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 50):
            return "webhook.token must be a string of at most 50 characters"
        return None

    def edit(self, value):
        if not isinstance(value, dict) or value.get("module") not in FIELDS or \
                not isinstance(value.get("id"), str) or not isinstance(value.get("fields"), dict):
            return "edit must be {\"module\": one of %s, \"id\": \"...\", \"fields\": " \
                "{...}}" % ", ".join(sorted(FIELDS))
        module = value["module"]
        record = self.find(module, value["id"])
        if record is None or record.get("$converted"):
            return "edit: no %s record %s" % (module, value["id"])
        problem = self.check(module, dict(value["fields"], id=record["id"]), 0, creating=False)
        if problem:
            return "edit: %s %s" % (problem["code"], json.dumps(problem["details"]))
        record.update(value["fields"])
        record["Modified_Time"] = now_iso(self.now())
        self.answer["record"] = record
        if not self.webhook:
            return None
        body = {"server_time": self.clock.now_ms(), "query_params": {}, "module": module,
                "resource_uri": "%s/crm/v2/%s" % (self.base_url(), module),
                "ids": [record["id"]], "affected_fields": [{record["id"]: sorted(value["fields"])}],
                "operation": "update", "channel_id": self.webhook["channelId"]}
        if self.webhook.get("token") is not None:
            body["token"] = self.webhook["token"]
        self.emit({"method": "POST", "url": self.webhook["url"],
                   "headers": {"Content-Type": "application/json"},
                   "body": json.dumps(body, separators=(",", ":"))})
        return None

    # --- routing ---------------------------------------------------------
    def handle(self, req):
        if req.path == "/oauth/v2/token":
            return self.token(req)
        m = API_PATH.match(req.path)
        if not m:
            return api_error(404, "INVALID_URL_PATTERN",
                             "Please check if the URL trying to access is a correct one",
                             {"path": req.path, "expected": "/crm/v2/{module}..."})
        auth = req.header("Authorization")
        if auth is None:
            return api_error(401, "AUTHENTICATION_FAILURE", "Authentication failed",
                             {"expected": "Authorization: Zoho-oauthtoken <access token>"})
        if not auth.startswith("Zoho-oauthtoken ") or \
                not self.tokens.access_ok(auth[len("Zoho-oauthtoken "):]):
            return api_error(401, "INVALID_TOKEN", "invalid oauth token",
                             {"expected": "Authorization: Zoho-oauthtoken <access token>"})
        if not self.budget.take():
            return self.rate_limited_response()
        parts = m.group(2).rstrip("/").split("/")
        if parts == ["users"]:
            return self.list_users(req)
        module = parts[0]
        if module not in FIELDS:
            return api_error(400, "INVALID_MODULE", "the module name given seems to be invalid",
                             {"module": module, "supported": sorted(FIELDS)})
        if len(parts) == 1:
            if req.method == "POST":
                return self.write(req, module, None)
            if req.method == "PUT":
                return self.write(req, module, None, update=True)
            return api_error(405, "INVALID_REQUEST_METHOD",
                             "The http request method type is not a valid one",
                             {"allowed": ["POST", "PUT"]})
        if parts[1:] == ["search"] and req.method == "GET":
            return self.search(req, module)
        if module == "Leads" and len(parts) == 4 and parts[2:] == ["actions", "convert"] and \
                req.method == "POST":
            return self.convert(req, parts[1])
        if len(parts) == 2:
            if req.method == "PUT":
                return self.write(req, module, parts[1], update=True)
            if req.method == "GET":
                record = self.find(module, parts[1])
                return Response(204) if record is None else Response(200, {"data": [record]})
        return api_error(404, "INVALID_URL_PATTERN",
                         "Please check if the URL trying to access is a correct one",
                         {"path": req.path})

    # --- OAuth 2.0 ----------------------------------------------------------
    def token(self, req):
        if req.method != "POST":
            return Response(405, {"error": "invalid_request_method"})
        params = {k: v[0] for k, v in req.query.items()}
        if req.body:
            if req.content_type() != "application/x-www-form-urlencoded":
                self.tokens.refused += 1
                return Response(200, {"error": "invalid_request",
                                      "error_description": "parameters go in the query string "
                                      "or an application/x-www-form-urlencoded body"})
            params.update(req.form())
        if params.get("grant_type") != "refresh_token":
            self.tokens.refused += 1
            return Response(200, {"error": "unsupported_grant_type"})
        if not self.tokens.client_ok(params.get("client_id"), params.get("client_secret")):
            self.tokens.refused += 1
            return Response(200, {"error": "invalid_client"})
        ok, rotated = self.tokens.refresh(params.get("refresh_token"))
        if not ok:
            self.tokens.refused += 1
            return Response(200, {"error": "invalid_code"})
        body = {"access_token": self.tokens.new_access_token("1000."),
                "api_domain": self.base_url(), "token_type": "Bearer", "expires_in": 3600}
        if rotated:
            body["refresh_token"] = rotated
        return Response(200, body)

    # --- records -----------------------------------------------------------
    def field_kind(self, module, name):
        kind = FIELDS[module].get(name) or self.custom[module].get(name)
        return kind

    def check(self, module, record, index, creating):
        """None, or the per-record error item for the first problem."""
        for name, value in record.items():
            if name in ("id", "trigger"):
                continue
            kind = self.field_kind(module, name)
            path = "$.data[%d].%s" % (index, name)
            if kind is None:
                return item_error("INVALID_DATA", "invalid field: not a field of %s (declare "
                                  "custom fields with /_test/control customFields)" % module,
                                  {"api_name": name, "json_path": path})
            if value is None:
                continue
            allowed = None
            if isinstance(kind, tuple):
                kind, allowed = kind
            bad = None
            if kind in ("text", "picklist") and not isinstance(value, str):
                bad = "text"
            elif kind == "email" and not is_email(value):
                bad = "email"
            elif kind == "number" and (isinstance(value, bool) or
                                       not isinstance(value, (int, float))):
                bad = "double"
            elif kind == "date" and not is_date(value):
                bad = "date"
            elif kind == "datetime" and not (isinstance(value, str) and re.match(
                    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", value)):
                bad = "datetime"
            elif kind == "boolean" and not isinstance(value, bool):
                bad = "boolean"
            elif kind == "lookup" and not (isinstance(value, dict) and
                                           isinstance(value.get("id"), str)):
                bad = "jsonobject"
            if bad:
                return item_error("INVALID_DATA", "invalid data",
                                  {"api_name": name, "json_path": path,
                                   "expected_data_type": bad})
            if allowed is not None and value not in allowed:
                return item_error("INVALID_DATA", "invalid data",
                                  {"api_name": name, "json_path": path,
                                   "expected_data_type": "picklist", "allowed": allowed})
            if name == "Owner" and not any(u["id"] == value["id"] for u in self.users):
                return item_error("INVALID_DATA", "invalid data",
                                  {"api_name": name, "json_path": path + ".id",
                                   "expected_data_type": "lookup", "reason": "no such user"})
            if name in MODULE_OF:
                se_module = record.get(MODULE_OF[name])
                if se_module not in ("Leads", "Deals") or self.find(se_module,
                                                                   value["id"]) is None:
                    return item_error("INVALID_DATA", "invalid data",
                                      {"api_name": name, "json_path": path + ".id",
                                       "reason": "no %s record %s (%s names the module)" % (
                                           se_module, value["id"], MODULE_OF[name])})
        required = REQUIRED[module]
        for name in required:
            if (creating and record.get(name) in (None, "")) or \
                    (not creating and name in record and record[name] in (None, "")):
                return item_error("MANDATORY_NOT_FOUND", "required field not found",
                                  {"api_name": name, "json_path": "$.data[%d].%s" % (index,
                                                                                  name)})
        if module == "Leads" and record.get("Email"):
            for other in self.records.get("Leads", []):
                if other.get("Email") == record["Email"] and other["id"] != record.get("id"):
                    return item_error("DUPLICATE_DATA", "duplicate data",
                                      {"api_name": "Email", "id": other["id"],
                                       "json_path": "$.data[%d].Email" % index})
        return None

    def actor(self):
        user = self.users[0] if self.users else {"full_name": "API", "id": "0"}
        return {"name": user.get("full_name"), "id": user.get("id")}

    def write(self, req, module, path_id, update=False):
        if req.content_type() != "application/json":
            return api_error(400, "INVALID_DATA", "the body must be JSON",
                             {"expected": "Content-Type: application/json",
                              "got": req.header("Content-Type") or ""})
        try:
            body = req.json()
        except ValueError as e:
            return api_error(400, "INVALID_DATA", "body", {"reason": str(e)})
        if not isinstance(body, dict) or "data" not in body:
            return api_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                             "missing", {"param": "data"})
        data = body["data"]
        unknown = sorted(set(body) - {"data", "trigger", "duplicate_check_fields"})
        if unknown:
            return api_error(400, "INVALID_DATA", "invalid data",
                             {"param": unknown[0], "reason": "not a key of the request body"})
        if not isinstance(data, list) or not data or \
                not all(isinstance(r, dict) for r in data):
            return api_error(400, "INVALID_DATA", "invalid data",
                             {"param": "data", "expected_data_type": "non-empty array of "
                              "objects"})
        if len(data) > 100:
            return api_error(400, "LIMIT_EXCEEDED", "the number of records exceeds the limit "
                             "for one call", {"limit": 100, "given": len(data)})
        if path_id is not None and len(data) != 1:
            return api_error(400, "INVALID_DATA", "invalid data",
                             {"param": "data", "reason": "updating /%s/{id} takes exactly one "
                              "record" % module})
        results = []
        now = now_iso(self.now())
        for index, record in enumerate(data):
            target = None
            if update:
                record_id = path_id or record.get("id")
                target = self.find(module, record_id) if record_id else None
                if target is None or target.get("$converted"):
                    results.append(item_error("INVALID_DATA", "the id given seems to be invalid",
                                              {"api_name": "id",
                                               "json_path": "$.data[%d].id" % index}))
                    continue
                record = dict(record, id=target["id"])
            elif "id" in record:
                results.append(item_error("INVALID_DATA", "invalid data",
                                          {"api_name": "id", "json_path": "$.data[%d].id" % index,
                                           "reason": "an insert must not carry an id"}))
                continue
            problem = self.check(module, record, index, creating=not update)
            if problem:
                results.append(problem)
                continue
            if update:
                target.update({k: v for k, v in record.items() if k != "id"})
                target["Modified_Time"] = now
                stored = target
            else:
                self.counter += 1
                stored = dict(record)
                stored["id"] = "5725767%012d" % self.counter
                stored.setdefault("Owner", {"id": self.actor()["id"]})
                stored["Created_Time"] = stored["Modified_Time"] = now
                self.objects(module).append(stored)
            results.append({"code": "SUCCESS", "details": {
                "Modified_Time": now, "Modified_By": self.actor(),
                "Created_Time": stored["Created_Time"], "id": stored["id"],
                "Created_By": self.actor()},
                "message": "record updated" if update else "record added",
                "status": "success"})
        ok = sum(1 for r in results if r["status"] == "success")
        status = (200 if update else 201) if ok == len(results) else (207 if ok else 400)
        return Response(status, {"data": results})

    def convert(self, req, lead_id):
        """POST /Leads/{id}/actions/convert: a Contact, and a Deal when "Deals" is given."""
        lead = self.find("Leads", lead_id)
        if lead is None or lead.get("$converted"):
            return api_error(400, "INVALID_DATA", "the id given seems to be invalid",
                             {"id": lead_id, "reason": "no such lead, or already converted"})
        if req.content_type() != "application/json":
            return api_error(400, "INVALID_DATA", "the body must be JSON",
                             {"expected": "Content-Type: application/json"})
        try:
            body = req.json()
        except ValueError as e:
            return api_error(400, "INVALID_DATA", "body", {"reason": str(e)})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != 1 or not isinstance(data[0], dict):
            return api_error(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is "
                             "missing", {"param": "data", "expected": "one object"})
        options = data[0]
        known = {"overwrite", "notify_lead_owner", "notify_new_entity_owner", "Accounts",
                 "Contacts", "assign_to", "Deals"}
        unknown = sorted(set(options) - known)
        if unknown:
            return api_error(400, "INVALID_DATA", "invalid data",
                             {"api_name": unknown[0], "allowed": sorted(known)})
        deal = options.get("Deals")
        if deal is not None:
            if not isinstance(deal, dict):
                return api_error(400, "INVALID_DATA", "invalid data",
                                 {"api_name": "Deals", "expected_data_type": "jsonobject"})
            problem = self.check("Deals", deal, 0, creating=True)
            if problem:
                return Response(400, {"data": [problem]})
        now = now_iso(self.now())
        self.counter += 1
        contact = {k: lead[k] for k in ("First_Name", "Last_Name", "Email", "Phone", "Mobile",
                                        "Owner") if k in lead}
        contact.update({"id": "5725767%012d" % self.counter, "Created_Time": now,
                        "Modified_Time": now})
        self.objects("Contacts").append(contact)
        deal_id = None
        if deal is not None:
            self.counter += 1
            stored = dict(deal, id="5725767%012d" % self.counter, Created_Time=now,
                          Modified_Time=now, Contact_Name={"id": contact["id"]})
            stored.setdefault("Owner", lead.get("Owner"))
            self.objects("Deals").append(stored)
            deal_id = stored["id"]
        lead["$converted"] = True
        lead["$converted_detail"] = {"contact": contact["id"], "deal": deal_id}
        return Response(200, {"data": [{"Contacts": contact["id"], "Deals": deal_id,
                                        "Accounts": None}]})

    def paging(self, req, cap):
        """(page, per_page) from the query, or a 400 answer."""
        try:
            page = int(req.q("page", "1"))
            per_page = int(req.q("per_page", str(cap)))
        except ValueError:
            return None, api_error(400, "INVALID_DATA", "invalid data",
                                   {"param": "page/per_page", "expected_data_type": "integer"})
        if page < 1 or not 1 <= per_page <= cap:
            return None, api_error(400, "INVALID_DATA", "invalid data",
                                   {"param": "per_page" if page >= 1 else "page",
                                    "reason": "page >= 1, per_page 1..%d" % cap})
        return (page, per_page), None

    def search(self, req, module):
        paging, problem = self.paging(req, 200)
        if problem:
            return problem
        page, per_page = paging
        criteria = req.q("criteria")
        conditions, joiner = [], "and"
        if criteria is not None:
            groups = re.findall(r"\(([^():]+):(equals|starts_with):((?:[^()\\]|\\.)*)\)",
                                criteria)
            rebuilt = re.sub(r"\(([^():]+):(equals|starts_with):((?:[^()\\]|\\.)*)\)", "X",
                             criteria).replace(" ", "")
            joiners = set(re.findall(r"(and|or)", rebuilt))
            if not groups or not re.fullmatch(r"\(?X(?:(?:and|or)X)*\)?", rebuilt) or \
                    len(joiners) > 1:
                return api_error(400, "INVALID_QUERY", "invalid query formed",
                                 {"reason": "criteria must be (Field:equals:value) joined by "
                                  "one of and/or", "criteria": criteria})
            joiner = joiners.pop() if joiners else "and"
            for field, op, value in groups:
                if self.field_kind(module, field) is None and field != "id":
                    return api_error(400, "INVALID_QUERY", "invalid query formed",
                                     {"api_name": field, "reason": "not a field of %s" % module})
                conditions.append((field, op, re.sub(r"\\(.)", r"\1", value)))
        elif req.q("email") is not None:
            conditions.append(("Email", "equals", req.q("email")))
        elif req.q("phone") is not None:
            conditions.append(("Phone", "equals", req.q("phone")))
        elif req.q("word") is not None:
            conditions.append(("*", "contains", req.q("word")))
        else:
            return api_error(400, "REQUIRED_PARAM_MISSING",
                             "One of the expected parameter is missing",
                             {"param": "criteria, email, phone or word"})

        def value_of(record, field):
            value = record.get(field)
            return value.get("id") if isinstance(value, dict) else value

        def matches(record):
            results = []
            for field, op, value in conditions:
                if op == "contains":
                    results.append(any(isinstance(v, str) and value.lower() in v.lower()
                                       for v in record.values()))
                    continue
                have = value_of(record, field)
                have = "" if have is None else str(have)
                results.append(have == value if op == "equals" else have.startswith(value))
            return all(results) if joiner == "and" else any(results)

        found = [r for r in self.records.get(module, []) if matches(r)]
        return self.page_of(found, page, per_page, "data")

    def page_of(self, items, page, per_page, key):
        chunk = items[(page - 1) * per_page: page * per_page]
        if not chunk:
            return Response(204)
        return Response(200, {key: chunk, "info": {
            "per_page": per_page, "count": len(chunk), "page": page,
            "more_records": page * per_page < len(items)}})

    def list_users(self, req):
        if req.method != "GET":
            return api_error(405, "INVALID_REQUEST_METHOD",
                             "The http request method type is not a valid one",
                             {"allowed": ["GET"]})
        kinds = {"AllUsers": lambda u: True,
                 "ActiveUsers": lambda u: u.get("status") == "active",
                 "DeactiveUsers": lambda u: u.get("status") != "active",
                 "AdminUsers": lambda u: (u.get("profile") or {}).get("name") == "Administrator",
                 "ActiveConfirmedAdmins": lambda u: u.get("status") == "active" and
                 u.get("confirm") and (u.get("profile") or {}).get("name") == "Administrator"}
        kind = req.q("type", "AllUsers")
        if kind not in kinds:
            return api_error(400, "INVALID_DATA", "invalid data",
                             {"param": "type", "allowed": sorted(kinds)})
        paging, problem = self.paging(req, 200)
        if problem:
            return problem
        return self.page_of([u for u in self.users if kinds[kind](u)], paging[0], paging[1],
                            "users")


if __name__ == "__main__":
    sys.exit(serve(Zoho, sys.argv))
