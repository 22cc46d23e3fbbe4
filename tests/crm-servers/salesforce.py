#!/usr/bin/python3
"""salesforce.py PORT: a Salesforce REST API (v59.0-ish) stand-in for tests.

Started by tests as its own process (PORT 0 picks a free port; the first stdout
line is `listening 127.0.0.1:PORT`; SIGTERM stops it). It checks the request
shape Salesforce documents and answers in Salesforce's shapes, so a wrong
mapping fails loudly. Shared parts (records, tokens, /_test/state,
/_test/control) are in vendor_server.py.

Documents followed (as the search tool gave them):
  OAuth token answer: https://jsforce.github.io/jsforce/types/oauth2.TokenResponse.html
    (access_token, id, instance_url, issued_at, signature, token_type "Bearer",
    refresh_token optional); the client-credentials example
    https://raw.githubusercontent.com/api-evangelist/salesforce/refs/heads/main/examples/salesforce-successful-client-credentials-flow-example.json
  Token errors {"error", "error_description"}, e.g. invalid_grant
    "expired access/refresh token": https://www.volcengine.com/article/1633051
    (a copy of the Stack Exchange answer quoting Salesforce's answers)
  sObject Collections create, max 200, allOrNone, SaveResults in request order:
    https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html
    https://developer.salesforce.com/docs/atlas.en-us.234.0.api_rest.meta/api/resources_composite_sobjects_collections_create.htm
  Status codes and error bodies (a JSON array of {message, errorCode, fields}):
    https://developer.salesforce.com/docs/atlas.en-us.264.0.api_rest.meta/api_rest/errorcodes.htm
    https://raw.githubusercontent.com/api-evangelist/salesforce/refs/heads/main/errors/salesforce-error-codes.yml
    (403 REQUEST_LIMIT_EXCEEDED for the API limit; 401 INVALID_SESSION_ID)
  401 body [{"errorCode": "INVALID_SESSION_ID", "message": ...}]:
    https://nango.dev/blog/fix-salesforce-invalid-session-id-error
  Sforce-Limit-Info: api-usage=<used>/<limit> on every REST answer:
    https://developer.salesforce.com/docs/atlas.en-us.264.0.api_rest.meta/api_rest/headers_api_usage.htm
  SOQL over REST returns at most 2,000 rows per call (then nextRecordsUrl):
    https://help.salesforce.com/s/articleView?id=000386264&language=pt_BR&type=1

What the documents leave open, and what this stand-in assumes:
  - The API limit is answered 403 REQUEST_LIMIT_EXCEEDED ("TotalRequests Limit
    exceeded."), not 429: Salesforce has no 429 for the daily budget, so
    rateLimitNext answers that 403. The default limit is 15000 a day (control
    key apiLimit changes it).
  - Token endpoint errors are HTTP 400 with {"error", "error_description"};
    invalid_client_id / invalid_client / invalid_grant / unsupported_grant_type
    with Salesforce's wording. Client credentials grants answer no
    refresh_token; refresh_token grants answer one only when rotation is on.
  - The collection over 200 records is refused whole: 400
    [{"message": ..., "errorCode": "EXCEEDED_ID_LIMIT"}]. Per-record errors in
    SaveResults use "statusCode" (not "errorCode"), as SaveResult does.
  - Objects: Lead, Task, Opportunity, User (read only) and one custom object,
    Property__c (a listing: Name, OwnerId and __c fields).
  - Fields: each object knows its standard fields; any name ending in __c is a
    custom field the org is assumed to have (scalars only). An unknown field is
    400 INVALID_FIELD; a missing required field 400 REQUIRED_FIELD_MISSING;
    an email that is not one INVALID_EMAIL_ADDRESS; a date not YYYY-MM-DD or a
    number that is not one JSON_PARSER_ERROR; a value outside a restricted
    picklist (Lead.Status, Opportunity.StageName, Task.Status,
    Task.Priority: the values of a new org) INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST;
    an OwnerId that is no user, a WhoId that is no Lead, a WhatId that is no
    Opportunity INVALID_CROSS_REFERENCE_KEY.
  - SOQL: SELECT <fields> FROM <object> [WHERE f op v [AND ...]]
    [ORDER BY f [ASC|DESC]] [LIMIT n], op one of = != > >= < <=, v a quoted
    string, true/false/null, a number or a dateTime literal
    (2026-12-03T14:00:00Z, .000Z or +00:00 suffixes; unquoted, as SOQL
    wants); anything else is 400 MALFORMED_QUERY. Page size 2000, or the
    header Sforce-Query-Options: batchSize=N (200..2000), or control key
    queryBatchSize (any N >= 1, so tests can page through few records).
    A nextRecordsUrl can be read again (Salesforce keeps a query locator
    for a while, 15 minutes of inactivity); an unknown one is 400
    INVALID_QUERY_LOCATOR.
  - Every write stamps LastModifiedDate and SystemModstamp from the clock
    (control key clock); SOQL on SystemModstamp is how a client polls for
    changes ("modified since"):
    https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm
    (dateTime literals are unquoted, e.g. SystemModstamp > 2026-12-03T14:00:00Z)

Own control keys: apiLimit (N), queryBatchSize (N), picklists
({"Lead.Status": [...], ...} replaces those value sets), and
    edit: {"object": "Lead", "id": "...", "fields": {...}}  an agent's change
          in Salesforce, validated as an API update; LastModifiedDate and
          SystemModstamp from the clock (no webhook: the mapping polls)
"""

import base64
import hashlib
import hmac
import re
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree when tests run it
from vendor_server import (Response, Vendor, is_date, is_email, parse_time_ms, serve,
                           whole_number_error)

API_PATH = re.compile(r"^/services/data/v(\d+)\.(\d)(/.*)?$")

ID_PREFIX = {"Lead": "00Q", "Task": "00T", "Opportunity": "006", "User": "005",
             "Property__c": "a01"}

# Writable standard fields, by object: name -> type.
FIELDS = {
    "Lead": {
        "FirstName": "string", "LastName": "string", "Company": "string", "Email": "email",
        "Phone": "string", "MobilePhone": "string", "Status": "picklist",
        "LeadSource": "string", "Rating": "string", "Title": "string",
        "Description": "string", "OwnerId": "user", "Street": "string", "City": "string",
        "State": "string", "PostalCode": "string", "Country": "string",
        "Industry": "string", "AnnualRevenue": "number", "NumberOfEmployees": "number",
        "Website": "string",
    },
    "Task": {
        "Subject": "string", "Status": "picklist", "Priority": "picklist",
        "ActivityDate": "date", "Description": "string", "WhoId": "lead",
        "WhatId": "opportunity", "OwnerId": "user", "Type": "string",
        "TaskSubtype": "string",
    },
    "Opportunity": {
        "Name": "string", "StageName": "picklist", "CloseDate": "date", "Amount": "number",
        "Description": "string", "LeadSource": "string", "OwnerId": "user",
        "Type": "string", "Probability": "number", "NextStep": "string",
    },
    # A custom object (the org's property listings): Name and OwnerId are the
    # standard fields every custom object has; its own fields end in __c.
    "Property__c": {"Name": "string", "OwnerId": "user"},
    "User": {
        "Username": "string", "FirstName": "string", "LastName": "string", "Name": "string",
        "Email": "email", "IsActive": "boolean",
    },
}
REQUIRED = {"Lead": ["LastName", "Company"], "Task": [], "Opportunity": ["Name", "StageName", "CloseDate"],
            "Property__c": []}
READ_ONLY = {"Id", "CreatedDate", "LastModifiedDate", "IsDeleted", "SystemModstamp"}
DEFAULT_PICKLISTS = {
    "Lead.Status": ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                    "Closed - Not Converted"],
    "Opportunity.StageName": ["Prospecting", "Qualification", "Needs Analysis",
                              "Value Proposition", "Id. Decision Makers",
                              "Perception Analysis", "Proposal/Price Quote",
                              "Negotiation/Review", "Closed Won", "Closed Lost"],
    "Task.Status": ["Not Started", "In Progress", "Completed", "Waiting on someone else",
                    "Deferred"],
    "Task.Priority": ["High", "Normal", "Low"],
}


def err(status, message, code, fields=None):
    body = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    return Response(status, [body])


class Salesforce(Vendor):
    name = "salesforce"

    def __init__(self, args):
        super().__init__(args)
        self.counter = 0
        self.api_used = 0
        self.api_limit = 15000
        self.query_batch = 0  # 0: Salesforce's 2000, or the request's batchSize
        self.cursors = {}
        self.picklists = {k: list(v) for k, v in DEFAULT_PICKLISTS.items()}
        self.users = [
            {"Id": "005000000000001AAA", "Username": "ana@example.test", "Name": "Ana Agent",
             "FirstName": "Ana", "LastName": "Agent", "Email": "ana@example.test", "IsActive": True},
            {"Id": "005000000000002AAA", "Username": "bo@example.test", "Name": "Bo Broker",
             "FirstName": "Bo", "LastName": "Broker", "Email": "bo@example.test", "IsActive": True},
            {"Id": "005000000000003AAA", "Username": "cy@example.test", "Name": "Cy Gone",
             "FirstName": "Cy", "LastName": "Gone", "Email": "cy@example.test", "IsActive": False},
        ]

    # --- vendor-shaped answers ---------------------------------------------
    def failure_response(self, status):
        return err(status, "Service temporarily unavailable (scripted failure)",
                   "SERVER_UNAVAILABLE")

    def rate_limited_response(self):
        return err(403, "TotalRequests Limit exceeded.", "REQUEST_LIMIT_EXCEEDED")

    def rate_limit_headers(self, req, status):
        if req.path.startswith("/services/data/"):
            return {"Sforce-Limit-Info": "api-usage=%d/%d" % (self.api_used, self.api_limit)}
        return {}

    def control(self, key, value):
        if key in ("apiLimit", "queryBatchSize"):
            error = whole_number_error(key, value, 1)
            if error is None and key == "apiLimit":
                self.api_limit = value
            elif error is None:
                self.query_batch = value
            return error
        if key == "picklists":
            if not isinstance(value, dict):
                return "picklists must be an object of \"Object.Field\": [values]"
            for name, values in value.items():
                if name not in DEFAULT_PICKLISTS:
                    return "picklists: unknown restricted picklist '%s' (known: %s)" % (
                        name, ", ".join(sorted(DEFAULT_PICKLISTS)))
                if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                    return "picklists.%s must be an array of strings" % name
                self.picklists[name] = values
            return None
        return "unknown control key '%s'" % key

    def stamp(self, record):
        """LastModifiedDate and SystemModstamp of a write, from the clock."""
        seconds = self.now()
        record["LastModifiedDate"] = record["SystemModstamp"] = time.strftime(
            "%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03d+0000" % (
                int(round(seconds * 1000)) % 1000)

    def edit(self, value):
        if not isinstance(value, dict) or value.get("object") not in FIELDS or \
                value.get("object") == "User" or not isinstance(value.get("id"), str) or \
                not isinstance(value.get("fields"), dict):
            return "edit must be {\"object\": \"Lead\"|..., \"id\": \"...\", \"fields\": {...}}"
        record = self.find(value["object"], value["id"])
        if record is None:
            return "edit: no %s %s" % (value["object"], value["id"])
        problem = self.validate(value["object"], value["fields"], creating=False)
        if problem:
            return "edit: %s %s" % (problem[0], problem[1])
        record.update(value["fields"])
        self.stamp(record)
        self.answer["record"] = record
        return None

    def state_extra(self):
        return {"apiUsage": {"used": self.api_used, "limit": self.api_limit}}

    # --- routing ---------------------------------------------------------
    def handle(self, req):
        if req.path == "/services/oauth2/token":
            return self.token(req)
        m = API_PATH.match(req.path)
        if not m:
            return err(404, "The requested resource does not exist (Salesforce REST paths "
                       "start /services/data/vXX.X/)", "NOT_FOUND")
        auth = req.header("Authorization") or ""
        if not auth.startswith("Bearer ") or not self.tokens.access_ok(auth[len("Bearer "):]):
            return err(401, "Session expired or invalid", "INVALID_SESSION_ID")
        self.api_used += 1
        if self.api_used > self.api_limit:
            return self.rate_limited_response()
        version = int(m.group(1)) + int(m.group(2)) / 10.0
        rest = m.group(3) or "/"
        if req.method in ("POST", "PATCH", "PUT") and req.content_type() != "application/json":
            return err(415, "Content-Type must be application/json, got '%s'" %
                       (req.header("Content-Type") or ""), "UNSUPPORTED_MEDIA_TYPE")
        if rest == "/composite/sobjects":
            if version < 42.0:
                return err(404, "sObject Collections need API version 42.0 or later",
                           "NOT_FOUND")
            if req.method == "POST":
                return self.collection(req, update=False)
            if req.method == "PATCH":
                return self.collection(req, update=True)
            return err(405, "HTTP Method '%s' not allowed. Allowed are POST,PATCH" % req.method,
                       "METHOD_NOT_ALLOWED")
        m2 = re.match(r"^/sobjects/(\w+)(?:/([A-Za-z0-9]{15}|[A-Za-z0-9]{18}))?/?$", rest)
        if m2:
            return self.sobject(req, m2.group(1), m2.group(2))
        if rest == "/query" or rest == "/query/":
            return self.query(req)
        m3 = re.match(r"^/query/(01g[A-Za-z0-9]+-\d+)$", rest)
        if m3 and req.method == "GET":
            return self.next_page(m3.group(1))
        return err(404, "The requested resource does not exist: %s" % req.path, "NOT_FOUND")

    # --- OAuth 2.0 ----------------------------------------------------------
    def token(self, req):
        def oauth_error(code, description):
            self.tokens.refused += 1
            return Response(400, {"error": code, "error_description": description})

        if req.method != "POST":
            return oauth_error("invalid_request", "must use HTTP POST")
        if req.content_type() != "application/x-www-form-urlencoded":
            return oauth_error("invalid_request",
                               "the body must be application/x-www-form-urlencoded")
        form = req.form()
        client_id = form.get("client_id")
        client_secret = form.get("client_secret")
        basic = req.header("Authorization") or ""
        if basic.startswith("Basic "):
            try:
                client_id, _, client_secret = base64.b64decode(
                    basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return oauth_error("invalid_client", "invalid client credentials")
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "refresh_token"):
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if client_id != self.tokens.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        rotated = None
        if grant == "client_credentials":
            if client_secret != self.tokens.client_secret:
                return oauth_error("invalid_client", "invalid client credentials")
        else:
            if client_secret is not None and client_secret != self.tokens.client_secret:
                return oauth_error("invalid_client", "invalid client credentials")
            ok, rotated = self.tokens.refresh(form.get("refresh_token"))
            if not ok:
                return oauth_error("invalid_grant", "expired access/refresh token")
        access = self.tokens.new_access_token("00D000000000001!")
        issued_at = str(int(time.time() * 1000))
        user_id = self.users[0]["Id"] if self.users else "005000000000001AAA"
        identity = "%s/id/00D000000000001AAA/%s" % (self.base_url(), user_id)
        signature = base64.b64encode(hmac.new(
            self.tokens.client_secret.encode(), (identity + issued_at).encode(),
            hashlib.sha256).digest()).decode()
        body = {"access_token": access, "signature": signature, "scope": "api refresh_token",
                "instance_url": self.base_url(), "id": identity, "token_type": "Bearer",
                "issued_at": issued_at}
        if rotated:
            body["refresh_token"] = rotated
        return Response(200, body)

    # --- records -----------------------------------------------------------
    def new_id(self, sobject):
        self.counter += 1
        return "%s%012d%s" % (ID_PREFIX[sobject], self.counter, "AAA")

    def validate(self, sobject, fields, creating):
        """Returns None or (errorCode, message, [fields]) for the first problem."""
        known = FIELDS[sobject]
        for name, value in fields.items():
            if name == "attributes":
                continue
            if name in READ_ONLY:
                return ("INVALID_FIELD_FOR_INSERT_UPDATE",
                        "Unable to create/update fields: %s. Please check the security "
                        "settings of this field and verify that it is read/write for your "
                        "profile or permission set." % name, [name])
            if name.endswith("__c"):
                if isinstance(value, (dict, list)):
                    return ("JSON_PARSER_ERROR", "Cannot deserialize instance of %s from "
                            "%s value for field %s" % ("string", type(value).__name__, name),
                            [name])
                continue
            kind = known.get(name)
            if kind is None:
                return ("INVALID_FIELD", "No such column '%s' on sobject of type %s" %
                        (name, sobject), [name])
            if value is None:
                continue
            if kind in ("string", "picklist", "email", "user", "lead", "opportunity") and \
                    not isinstance(value, str):
                return ("JSON_PARSER_ERROR", "Cannot deserialize instance of string from "
                        "%s value %r for field %s" % (type(value).__name__, value, name), [name])
            if kind == "number" and (isinstance(value, bool) or
                                     not isinstance(value, (int, float))):
                return ("JSON_PARSER_ERROR", "Cannot deserialize instance of double from "
                        "%r for field %s" % (value, name), [name])
            if kind == "boolean" and not isinstance(value, bool):
                return ("JSON_PARSER_ERROR", "Cannot deserialize instance of boolean from "
                        "%r for field %s" % (value, name), [name])
            if kind == "date" and not is_date(value):
                return ("JSON_PARSER_ERROR", "Cannot deserialize instance of date from "
                        "VALUE_STRING value %s or request may be missing a required field "
                        "(dates are YYYY-MM-DD)" % value, [name])
            if kind == "email" and not is_email(value):
                return ("INVALID_EMAIL_ADDRESS", "%s: invalid email address: %s" % (name, value),
                        [name])
            if kind == "picklist":
                allowed = self.picklists.get("%s.%s" % (sobject, name), [])
                if value not in allowed:
                    return ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            "%s: bad value for restricted picklist field: %s" % (name, value),
                            [name])
            if kind == "user" and not any(u.get("Id") == value for u in self.users):
                return ("INVALID_CROSS_REFERENCE_KEY",
                        "%s: id value of incorrect type or no such user: %s" % (name, value),
                        [name])
            if kind == "lead" and self.find("Lead", value) is None:
                return ("INVALID_CROSS_REFERENCE_KEY",
                        "%s: id value of incorrect type or no such Lead: %s" % (name, value),
                        [name])
            if kind == "opportunity" and self.find("Opportunity", value) is None:
                return ("INVALID_CROSS_REFERENCE_KEY",
                        "%s: id value of incorrect type or no such Opportunity: %s" %
                        (name, value), [name])
        if creating:
            missing = [f for f in REQUIRED.get(sobject, []) if fields.get(f) in (None, "")]
            if missing:
                return ("REQUIRED_FIELD_MISSING",
                        "Required fields are missing: [%s]" % ", ".join(missing), missing)
        else:
            blanked = [f for f in REQUIRED.get(sobject, []) if f in fields and
                       fields[f] in (None, "")]
            if blanked:
                return ("REQUIRED_FIELD_MISSING",
                        "Required fields are missing: [%s]" % ", ".join(blanked), blanked)
        return None

    def store(self, sobject, fields):
        record = {k: v for k, v in fields.items() if k != "attributes"}
        record["Id"] = self.new_id(sobject)
        self.stamp(record)
        record["CreatedDate"] = record["LastModifiedDate"]
        if sobject == "Lead" and "Status" not in record:
            record["Status"] = self.picklists["Lead.Status"][0]
        self.objects(sobject).append(record)
        return record["Id"]

    @staticmethod
    def sobject_body(req):
        """(fields, None) for a JSON object body, else (None, the 400 answer)."""
        try:
            fields = req.json()
        except ValueError as e:
            return None, err(400, str(e), "JSON_PARSER_ERROR")
        if not isinstance(fields, dict):
            return None, err(400, "Can not deserialize SObject out of %s token" %
                             type(fields).__name__, "JSON_PARSER_ERROR")
        return fields, None

    def sobject(self, req, sobject, record_id):
        if sobject not in FIELDS or sobject == "User" and req.method != "GET":
            return err(404, "The requested resource does not exist: sObject type '%s' is not "
                       "supported here (Lead, Task, Opportunity, Property__c; User read "
                       "only)" % sobject, "NOT_FOUND")
        if record_id is None:
            if req.method != "POST":
                return err(405, "HTTP Method '%s' not allowed. Allowed are GET,HEAD,POST" %
                           req.method, "METHOD_NOT_ALLOWED")
            fields, problem = self.sobject_body(req)
            if problem:
                return problem
            if "Id" in fields:
                return err(400, "Id not allowed in a create", "INVALID_FIELD_FOR_INSERT_UPDATE",
                           ["Id"])
            problem = self.validate(sobject, fields, creating=True)
            if problem:
                return err(400, problem[1], problem[0], problem[2])
            return Response(201, {"id": self.store(sobject, fields), "success": True,
                                  "errors": []})
        record = self.find(sobject, record_id) if sobject != "User" else next(
            (u for u in self.users if u.get("Id") == record_id), None)
        if record is None:
            return err(404, "The requested resource does not exist", "NOT_FOUND")
        if req.method == "GET":
            out = {"attributes": {"type": sobject, "url": req.path}}
            out.update(record)
            return Response(200, out)
        if req.method != "PATCH":
            return err(405, "HTTP Method '%s' not allowed. Allowed are GET,HEAD,PATCH" %
                       req.method, "METHOD_NOT_ALLOWED")
        fields, problem = self.sobject_body(req)
        if problem:
            return problem
        problem = self.validate(sobject, fields, creating=False)
        if problem:
            return err(400, problem[1], problem[0], problem[2])
        record.update({k: v for k, v in fields.items() if k != "attributes"})
        self.stamp(record)
        return Response(204)

    def collection(self, req, update):
        try:
            body = req.json()
        except ValueError as e:
            return err(400, str(e), "JSON_PARSER_ERROR")
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return err(400, "the body must be {\"allOrNone\": bool, \"records\": [...]}",
                       "JSON_PARSER_ERROR")
        unknown = sorted(set(body) - {"allOrNone", "records"})
        if unknown:
            return err(400, "Unrecognized field \"%s\" in the collection request" % unknown[0],
                       "JSON_PARSER_ERROR")
        all_or_none = body.get("allOrNone", False)
        if not isinstance(all_or_none, bool):
            return err(400, "allOrNone must be true or false", "JSON_PARSER_ERROR")
        records = body["records"]
        if len(records) > 200:
            return err(400, "record limit reached. cannot submit more than 200 records into "
                       "this call (got %d)" % len(records), "EXCEEDED_ID_LIMIT")
        if not records:
            return err(400, "records: the list is empty", "INVALID_FIELD")
        results, staged = [], []
        for record in records:
            attrs = record.get("attributes") if isinstance(record, dict) else None
            sobject = attrs.get("type") if isinstance(attrs, dict) else None
            problem = None
            if not isinstance(record, dict):
                problem = ("JSON_PARSER_ERROR", "a record must be an object", [])
            elif sobject is None:
                problem = ("INVALID_TYPE", "Must send a concrete entity type "
                           "(attributes.type is missing).", [])
            elif sobject not in REQUIRED:
                problem = ("INVALID_TYPE", "sObject type '%s' is not supported." % sobject, [])
            elif update:
                if not record.get("id") and not record.get("Id"):
                    problem = ("MISSING_ARGUMENT", "Id not specified in an update call", [])
                elif self.find(sobject, record.get("id") or record.get("Id")) is None:
                    problem = ("ENTITY_IS_DELETED", "entity is deleted or does not exist",
                               [])
            elif "id" in record or "Id" in record:
                problem = ("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            if problem is None:
                fields = {k: v for k, v in record.items() if k not in ("id", "Id")}
                problem = self.validate(sobject, fields, creating=not update)
            if problem:
                results.append({"success": False, "errors": [
                    {"statusCode": problem[0], "message": problem[1], "fields": problem[2]}]})
                staged.append(None)
            else:
                results.append(None)
                staged.append((sobject, record))
        failed = any(r is not None for r in results)
        if failed and all_or_none:
            rolled = {"success": False, "errors": [{
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": "Record rolled back because not all records were valid and the "
                           "request was using AllOrNone header", "fields": []}]}
            return Response(200, [r if r is not None else rolled for r in results])
        for i, item in enumerate(staged):
            if item is None:
                continue
            sobject, record = item
            if update:
                target = self.find(sobject, record.get("id") or record.get("Id"))
                target.update({k: v for k, v in record.items()
                               if k not in ("attributes", "id", "Id")})
                self.stamp(target)
                results[i] = {"id": target["Id"], "success": True, "errors": []}
            else:
                results[i] = {"id": self.store(sobject, record), "success": True, "errors": []}
        return Response(200, results)

    # --- SOQL ----------------------------------------------------------------
    def query(self, req):
        if req.method != "GET":
            return err(405, "HTTP Method '%s' not allowed. Allowed are GET,HEAD" % req.method,
                       "METHOD_NOT_ALLOWED")
        soql = req.q("q")
        if not soql:
            return err(400, "A query string has to be specified (parameter q)",
                       "MALFORMED_QUERY")
        m = re.match(r"^\s*SELECT\s+(.+?)\s+FROM\s+(\w+)(?:\s+WHERE\s+(.+?))?"
                     r"(?:\s+ORDER\s+BY\s+(\w+)(?:\s+(ASC|DESC))?)?"
                     r"(?:\s+LIMIT\s+(\d+))?\s*$", soql, re.IGNORECASE | re.DOTALL)
        if not m:
            return err(400, "unexpected token in: %s (supported: SELECT f1, f2 FROM Object "
                       "[WHERE f op v [AND ...]] [ORDER BY f [ASC|DESC]] [LIMIT n])" % soql,
                       "MALFORMED_QUERY")
        sobject = m.group(2)
        if sobject not in FIELDS:
            return err(400, "sObject type '%s' is not supported." % sobject, "INVALID_TYPE")
        columns = [c.strip() for c in m.group(1).split(",")]
        for column in columns:
            if column != "Id" and column not in FIELDS[sobject] and \
                    column not in READ_ONLY and not column.endswith("__c"):
                return err(400, "No such column '%s' on entity '%s'." % (column, sobject),
                           "INVALID_FIELD")
        conditions = []
        if m.group(3):
            for part in re.split(r"\s+AND\s+", m.group(3).strip(), flags=re.IGNORECASE):
                c = re.match(r"^(\w+)\s*(=|!=|>=|<=|>|<)\s*('(?:[^'\\]|\\.)*'|true|false|null|"
                             r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)|"
                             r"-?\d+(?:\.\d+)?)$", part.strip(), re.IGNORECASE)
                if not c:
                    return err(400, "unexpected token in WHERE: %s" % part, "MALFORMED_QUERY")
                field, op, literal = c.groups()
                if field != "Id" and field not in FIELDS[sobject] and \
                        field not in READ_ONLY and not field.endswith("__c"):
                    return err(400, "No such column '%s' on entity '%s'." % (field, sobject),
                               "INVALID_FIELD")
                if re.match(r"^\d{4}-", literal):
                    value = ("time", parse_time_ms(literal))
                elif literal.startswith("'"):
                    value = re.sub(r"\\(.)", r"\1", literal[1:-1])
                elif literal.lower() in ("true", "false"):
                    value = literal.lower() == "true"
                elif literal.lower() == "null":
                    value = None
                else:
                    value = float(literal) if "." in literal else int(literal)
                conditions.append((field, op, value))
        order = m.group(4)
        if order and order != "Id" and order not in FIELDS[sobject] and \
                order not in READ_ONLY and not order.endswith("__c"):
            return err(400, "No such column '%s' on entity '%s'." % (order, sobject),
                       "INVALID_FIELD")

        def holds(record, field, op, value):
            have = record.get(field)
            if isinstance(value, tuple):  # a dateTime literal: compare instants
                have, value = parse_time_ms(have), value[1]
                if have is None:
                    return False
            if op in ("=", "!="):
                return (have == value) == (op == "=")
            if have is None or value is None:
                return False
            return {">": have > value, ">=": have >= value, "<": have < value,
                    "<=": have <= value}[op]

        source = self.users if sobject == "User" else self.records.get(sobject, [])
        if order:
            def key(record):
                value = record.get(order)
                if value is not None and order in ("CreatedDate", "LastModifiedDate",
                                                   "SystemModstamp"):
                    value = parse_time_ms(value)
                return (value is None, "" if value is None else value, record.get("Id"))
            source = sorted(source, key=key, reverse=(m.group(5) or "").upper() == "DESC")
        rows = []
        for record in source:
            if all(holds(record, f, op, v) for f, op, v in conditions):
                row = {"attributes": {"type": sobject, "url": "/services/data/v59.0/sobjects/"
                                      "%s/%s" % (sobject, record.get("Id"))}}
                for column in columns:
                    row[column] = record.get(column)
                rows.append(row)
        if m.group(6):
            rows = rows[:int(m.group(6))]
        batch = 2000
        options = req.header("Sforce-Query-Options") or ""
        bm = re.search(r"batchSize=(\d+)", options)
        if bm:
            batch = int(bm.group(1))
            if not 200 <= batch <= 2000:
                return err(400, "batchSize must be between 200 and 2000, got %d" % batch,
                           "INVALID_QUERY_LOCATOR")
        if self.query_batch:
            batch = self.query_batch
        return self.page(rows, len(rows), batch)

    def page(self, rows, total, batch):
        body = {"totalSize": total, "done": len(rows) <= batch, "records": rows[:batch]}
        if len(rows) > batch:
            self.counter += 1
            cursor = "01g%012dAAA" % self.counter
            consumed = total - len(rows) + batch
            key = "%s-%d" % (cursor, consumed)
            self.cursors[key] = (rows[batch:], total, batch)
            body["nextRecordsUrl"] = "/services/data/v59.0/query/%s" % key
        return Response(200, body)

    def next_page(self, key):
        if key not in self.cursors:
            return err(400, "invalid query locator", "INVALID_QUERY_LOCATOR")
        rows, total, batch = self.cursors[key]
        return self.page(rows, total, batch)


if __name__ == "__main__":
    sys.exit(serve(Salesforce, sys.argv))
