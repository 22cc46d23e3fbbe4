"""vendor_server.py: what the CRM stand-ins (salesforce.py, zoho.py, pipedrive.py) share.

Each stand-in is a loopback HTTP server that checks a vendor's documented
request shape strictly and answers in the vendor's documented response shapes,
so that a wrong mapping fails loudly in a test instead of in production. This
module holds the parts that are not the vendor's: the process lifecycle (a port
argument, 0 = pick one; the first stdout line `listening 127.0.0.1:PORT`; a
clean exit on SIGTERM), the in-memory records, the OAuth token book, and the
test-only endpoints under /_test/:

  GET  /_test/state    every record by object, the user directory, the token
                       book's counters and the log of requests (method, path,
                       status; never bodies or tokens)
  POST /_test/control  a JSON object; every key is optional, an unknown key is
                       refused with 400 naming it:
                         expireAccessToken: true   every access token issued so
                                                   far stops working now
                         revokeRefreshToken: true  every refresh token stops
                                                   working (the grant is revoked)
                         rotateRefreshTokens: bool each refresh answers a new
                                                   refresh token and retires the
                                                   one it was given
                         failNext: {"count": N, "status": 500..599}
                                                   the next N vendor requests
                                                   (token endpoint included)
                                                   answer that status in the
                                                   vendor's error shape
                         rateLimitNext: N          the next N vendor requests are
                                                   refused as over the vendor's
                                                   rate limit, in its shape
                         users: [...]              replaces the user directory
                         clock: {"freezeMs": N}    the stand-in's clock stops at N
                                                   (Unix ms); {"advanceMs": N} moves it
                                                   (frozen or not, N may be negative);
                                                   {"real": true} back to real time.
                                                   Every modified time and webhook
                                                   timestamp comes from this clock, so
                                                   tests move time instead of sleeping
                         webhook: {"url": ..., ...} where and how the vendor's
                                                   webhook is sent (each server names
                                                   its keys: the secret, the basic-auth
                                                   user, the channel token); with
                                                   "send": false the request is only
                                                   answered, not sent
                         edit: {...}               an agent's change in the CRM (each
                                                   server names its keys): the record
                                                   and its modified time change, and the
                                                   answer holds "record" and, with a
                                                   webhook configured, "webhook": the
                                                   exact request the vendor sends
                                                   ({method, url, headers, body});
                                                   unless webhook.send is false it is sent,
                                                   after the stand-in's lock is
                                                   released, and "delivered" holds the
                                                   receiver's {status, body}
                         redeliver: true           the vendor's retry of the last
                                                   delivery (each server says what
                                                   changes in it)
                       and the vendor's own keys (see each server). A control answer
                       is {"ok": true} plus what the keys answered.

Standard library only (Debian's /usr/bin/python3). Every request is handled
under one lock, so state changes are atomic and ordered as they arrived.
"""

import calendar
import json
import re
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Request:
    """One parsed request as a vendor handler sees it."""

    def __init__(self, method, target, headers, body):
        self.method = method
        parsed = urllib.parse.urlsplit(target)
        self.path = parsed.path
        self.raw_query = parsed.query
        # keep_blank_values so that `?api_token=` is seen as present but empty.
        self.query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.headers = headers
        self.body = body

    def q(self, name, default=None):
        """The first value of query parameter `name`, or `default`."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def content_type(self):
        """The media type of Content-Type, lower case, without parameters."""
        value = self.headers.get("Content-Type") or ""
        return value.split(";")[0].strip().lower()

    def form(self):
        """The body as application/x-www-form-urlencoded fields (first values)."""
        fields = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                       keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    def json(self):
        """The body parsed as JSON; raises ValueError naming the problem."""
        if not self.body:
            raise ValueError("the request has no body")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError("the body is not valid JSON: %s" % e) from e


class Response:
    """An answer: status, a JSON-able body (None for no body) and headers.

    `deliveries` are webhook requests ({method, url, headers, body}) to send
    after the stand-in's lock is released: a receiver that calls back into the
    stand-in (a fetch) must not wait on the request that made the change.
    """

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.deliveries = []
        self.deliveries_after = []  # sent once the answer is written (API writes)


class Clock:
    """The stand-in's time: real time plus an offset, or frozen at a moment."""

    def __init__(self):
        self.offset_ms = 0
        self.frozen_ms = None

    def now_ms(self):
        if self.frozen_ms is not None:
            return self.frozen_ms
        return int(time.time() * 1000) + self.offset_ms

    def now(self):
        """Unix seconds (fractional), for time.gmtime and friends."""
        return self.now_ms() / 1000.0

    def control(self, value):
        """Applies a `clock` control value; an error message or None."""
        if not isinstance(value, dict) or len(value) != 1:
            return "clock must be {\"freezeMs\": N}, {\"advanceMs\": N} or {\"real\": true}"
        (key, amount), = value.items()
        if key == "real" and amount is True:
            self.offset_ms, self.frozen_ms = 0, None
            return None
        if key not in ("freezeMs", "advanceMs") or not isinstance(amount, int) or \
                isinstance(amount, bool):
            return "clock must be {\"freezeMs\": N}, {\"advanceMs\": N} or {\"real\": true}" \
                " with N whole milliseconds"
        if key == "freezeMs":
            self.frozen_ms = amount
        elif self.frozen_ms is not None:
            self.frozen_ms += amount
        else:
            self.offset_ms += amount
        return None


def deliver(request, timeout=10):
    """Sends one webhook request; {status, body} of the answer, or {error}."""
    http_request = urllib.request.Request(request["url"], data=request["body"].encode("utf-8"),
                                          method=request["method"])
    for name, value in request["headers"].items():
        http_request.add_header(name, value)
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as answer:
            return {"status": answer.status, "body": answer.read().decode("utf-8", "replace")}
    except urllib.error.HTTPError as e:
        return {"status": e.code, "body": e.read().decode("utf-8", "replace")}
    except (urllib.error.URLError, OSError) as e:
        return {"error": str(e)}


class TokenBook:
    """OAuth client credentials, refresh tokens and access tokens of one stand-in.

    Access tokens live until expireAccessToken (vendors do not promise a
    lifetime the client may rely on; Zoho says 3600 s, Salesforce says nothing).
    Refresh tokens are valid until revoked, or until used once when rotation is
    on (the used one is retired, as with rotating refresh tokens everywhere).
    """

    def __init__(self, client_id, client_secret, refresh_token):
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = {refresh_token} if refresh_token else set()
        self.access_tokens = set()
        self.rotate = False
        self.issued = 0          # access tokens handed out
        self.refreshes = 0       # successful refresh_token grants
        self.refused = 0         # token requests refused
        self.retired_refresh = set()

    def client_ok(self, client_id, client_secret):
        return client_id == self.client_id and client_secret == self.client_secret

    def new_access_token(self, prefix):
        token = prefix + secrets.token_urlsafe(24)
        self.access_tokens.add(token)
        self.issued += 1
        return token

    def refresh(self, refresh_token):
        """Checks a refresh token; returns (ok, new refresh token or None)."""
        if refresh_token not in self.refresh_tokens:
            return False, None
        self.refreshes += 1
        if not self.rotate:
            return True, None
        self.refresh_tokens.discard(refresh_token)
        self.retired_refresh.add(refresh_token)
        new = "rt-" + secrets.token_urlsafe(24)
        self.refresh_tokens.add(new)
        return True, new

    def access_ok(self, token):
        return token in self.access_tokens

    def expire_access(self):
        self.access_tokens.clear()

    def revoke_refresh(self):
        self.retired_refresh |= self.refresh_tokens
        self.refresh_tokens.clear()

    def counters(self):
        return {"accessTokensIssued": self.issued, "refreshes": self.refreshes,
                "tokenRequestsRefused": self.refused, "rotate": self.rotate,
                "liveRefreshTokens": len(self.refresh_tokens),
                "liveAccessTokens": len(self.access_tokens)}


class Vendor:
    """Base of a stand-in: records, users, tokens and the scripted failures.

    A subclass sets `name`, implements handle(req) -> Response for the vendor's
    paths, and the four vendor-shaped answers: failure_response(status),
    rate_limited_response(), rate_limit_headers(req, status) and, if it has
    keys of its own, control(key, value) -> error message or None.
    """

    name = "vendor"

    def __init__(self, args):
        self.lock = threading.Lock()
        self.records = {}           # object name -> list of records (dicts)
        self.users = []
        self.requests = []
        self.fail_next = 0
        self.fail_status = 503
        self.rate_limit_next = 0
        self.port = 0
        self.clock = Clock()
        self.webhook = {}           # the control key `webhook`, as given
        self.deliveries = []        # every webhook request made, with its answer
        self.answer = {}            # what control keys add to the control answer
        self.pending = []           # webhook requests to send once the lock is released
        self.last_delivery = None   # for the control key `redeliver`
        self.tokens = TokenBook(args.get("client-id", "test-client-id"),
                                args.get("client-secret", "test-client-secret"),
                                args.get("refresh-token", "test-refresh-token"))

    # --- helpers for subclasses -------------------------------------------
    def base_url(self):
        return "http://127.0.0.1:%d" % self.port

    def now(self):
        """The stand-in's clock in Unix seconds (see the control key `clock`)."""
        return self.clock.now()

    def emit(self, request):
        """Queues a webhook request built by the vendor and puts it in the answer."""
        self.last_delivery = request
        self.answer["webhook"] = request
        if self.webhook.get("send", True):
            self.pending.append(request)

    def objects(self, name):
        return self.records.setdefault(name, [])

    def find(self, name, record_id):
        for record in self.records.get(name, []):
            if str(record.get("id", record.get("Id"))) == str(record_id):
                return record
        return None

    # --- to be provided by subclasses ---------------------------------------
    def handle(self, req):
        raise NotImplementedError

    def failure_response(self, status):
        raise NotImplementedError

    def rate_limited_response(self):
        raise NotImplementedError

    def rate_limit_headers(self, req, status):
        return {}

    def control(self, key, value):
        return "unknown control key '%s'" % key

    def state_extra(self):
        return {}

    def configure_webhook(self, value):
        """Checks the control key `webhook` (vendor keys); an error message or None."""
        return "this stand-in sends no webhooks"

    def edit(self, value):
        """An agent's change (control key `edit`); an error message or None."""
        return "this stand-in has no agent edits"

    def retried(self, request):
        """The vendor's retry of the webhook request `request` (attempt counters,
        a new signature); by default the same request again."""
        return request

    # --- shared dispatch ------------------------------------------------------
    def dispatch(self, req):
        if req.path.startswith("/_test/"):
            return self.test_endpoint(req)
        if self.fail_next > 0:
            self.fail_next -= 1
            return self.failure_response(self.fail_status)
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return self.rate_limited_response()
        self.answer, self.pending = {}, []
        resp = self.handle(req)
        # A vendor that notifies its own API writes (HubSpot's apiChanges) sends
        # them after answering the API call, as a CRM's webhook trails its API.
        resp.deliveries_after, self.pending = self.pending, []
        return resp

    def test_endpoint(self, req):
        if req.path == "/_test/state" and req.method == "GET":
            state = {"vendor": self.name, "records": self.records, "users": self.users,
                     "tokens": self.tokens.counters(), "requests": self.requests,
                     "clockMs": self.clock.now_ms(), "deliveries": self.deliveries}
            state.update(self.state_extra())
            return Response(200, state)
        if req.path == "/_test/control" and req.method == "POST":
            try:
                body = req.json()
            except ValueError as e:
                return Response(400, {"error": str(e)})
            if not isinstance(body, dict):
                return Response(400, {"error": "the control body must be a JSON object"})
            self.answer, self.pending = {}, []
            for key, value in body.items():
                error = self.shared_control(key, value)
                if error:
                    return Response(400, {"error": error})
            resp = Response(200, dict(self.answer, ok=True))
            resp.deliveries, self.pending = self.pending, []
            return resp
        return Response(404, {"error": "no test endpoint %s %s" % (req.method, req.path)})

    def shared_control(self, key, value):
        if key == "expireAccessToken":
            if value is True:
                self.tokens.expire_access()
            return None
        if key == "revokeRefreshToken":
            if value is True:
                self.tokens.revoke_refresh()
            return None
        if key == "rotateRefreshTokens":
            if not isinstance(value, bool):
                return "rotateRefreshTokens must be true or false"
            self.tokens.rotate = value
            return None
        if key == "failNext":
            if (not isinstance(value, dict) or not isinstance(value.get("count"), int)
                    or not isinstance(value.get("status"), int)
                    or not 500 <= value["status"] <= 599 or value["count"] < 0):
                return "failNext must be {\"count\": N >= 0, \"status\": 500..599}"
            self.fail_next = value["count"]
            self.fail_status = value["status"]
            return None
        if key == "rateLimitNext":
            error = whole_number_error(key, value, 0)
            if error is None:
                self.rate_limit_next = value
            return error
        if key == "users":
            if not isinstance(value, list) or not all(isinstance(u, dict) for u in value):
                return "users must be an array of objects"
            self.users = value
            return None
        if key == "clock":
            return self.clock.control(value)
        if key == "webhook":
            if not isinstance(value, dict):
                return "webhook must be an object"
            url = value.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                return "webhook.url must be an http:// or https:// URL (the receiver)"
            if not isinstance(value.get("send", True), bool):
                return "webhook.send must be true or false"
            error = self.configure_webhook(value)
            if error is None:
                self.webhook = value
            return error
        if key == "edit":
            return self.edit(value)
        if key == "redeliver":
            if value is not True:
                return "redeliver must be true"
            if self.last_delivery is None:
                return "redeliver: no delivery has been made yet"
            self.emit(self.retried(self.last_delivery))
            return None
        return self.control(key, value)


def parse_args(argv):
    """`PORT [--name value ...]` -> (port, {name: value}); exits 2 on a bad line."""
    usage = "usage: %s PORT [--client-id ID] [--client-secret S] [--refresh-token T]" % argv[0]
    if len(argv) < 2 or not argv[1].isdigit():
        sys.stderr.write(usage + "\n")
        sys.exit(2)
    options = {}
    rest = argv[2:]
    if len(rest) % 2 != 0:
        sys.stderr.write(usage + "\n")
        sys.exit(2)
    for name, value in zip(rest[::2], rest[1::2]):
        if not name.startswith("--"):
            sys.stderr.write("unexpected argument '%s'\n%s\n" % (name, usage))
            sys.exit(2)
        options[name[2:]] = value
    return int(argv[1]), options


def serve(vendor_class, argv):
    """Runs a stand-in until SIGTERM (or SIGINT); exits 0 after a clean stop."""
    port, options = parse_args(argv)
    vendor = vendor_class(options)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, a kept-alive
        # client waited for the delayed ACK, 40 ms per answer.
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):  # stderr stays quiet: the log is /_test/state
            pass

        def _body(self):
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _run(self):
            body = self._body()
            req = Request(self.command, self.path, self.headers, body)
            with vendor.lock:
                try:
                    resp = vendor.dispatch(req)
                except Exception as e:  # a bug in the stand-in must not look like a vendor answer
                    resp = Response(599, {"standInError": "%s: %s" % (type(e).__name__, e)})
                if not req.path.startswith("/_test/"):
                    resp.headers.update(vendor.rate_limit_headers(req, resp.status))
                    vendor.requests.append({"method": req.method, "path": req.path,
                                            "status": resp.status})
            if resp.deliveries:
                # Sent outside the lock, before the control answer, which reports them.
                results = [deliver(d) for d in resp.deliveries]
                with vendor.lock:
                    vendor.deliveries.extend(dict(r, url=d["url"])
                                             for d, r in zip(resp.deliveries, results))
                if isinstance(resp.body, dict):
                    resp.body["delivered"] = results[-1]
            payload = b""
            if resp.body is not None:
                payload = json.dumps(resp.body).encode("utf-8")
            self.send_response(resp.status)
            if resp.body is not None:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            for name, value in resp.headers.items():
                self.send_header(name, str(value))
            if resp.status not in (204, 304):  # they have no body, and say no length
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
            if resp.deliveries_after:
                results = [deliver(d) for d in resp.deliveries_after]
                with vendor.lock:
                    vendor.deliveries.extend(dict(r, url=d["url"])
                                             for d, r in zip(resp.deliveries_after, results))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _run

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    vendor.port = server.server_address[1]

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so not from its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("listening 127.0.0.1:%d" % vendor.port, flush=True)
    server.serve_forever()
    server.server_close()
    return 0


class FixedWindow:
    """A request budget that refills every `seconds` (Zoho's minute, Pipedrive's 2 s)."""

    def __init__(self, seconds, limit):
        self.seconds = seconds
        self.limit = limit
        self.start = time.time()
        self.used = 0

    def roll(self):
        """Starts a new window when the current one has passed; returns now."""
        now = time.time()
        if now - self.start >= self.seconds:
            self.start, self.used = now, 0
        return now

    def take(self):
        """Counts one request; False when it is over the limit."""
        self.roll()
        self.used += 1
        return self.used <= self.limit

    def remaining(self):
        self.roll()
        return max(0, self.limit - self.used)

    def reset_at(self):
        """Unix time (seconds, fractional) at which the window refills."""
        return self.start + self.seconds


def whole_number_error(key, value, minimum):
    """None when `value` is a JSON whole number >= minimum, else the message."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return None
    return "%s must be a whole number >= %d" % (key, minimum)


def now_iso(seconds):
    """`seconds` (Unix, UTC) as the vendors' ISO-8601 with an offset (2026-12-03T14:00:00+00:00)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(seconds))


def iso_millis(seconds):
    """`seconds` (Unix) as ISO 8601 UTC with milliseconds: 2026-12-03T14:00:00.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + \
        ".%03dZ" % (int(round(seconds * 1000)) % 1000)


def parse_time_ms(text):
    """Unix ms of an ISO-8601 time (Z, +hh:mm or +hhmm, optional fraction) or of
    digits that are already Unix ms; None when it is neither."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text)
    if not isinstance(text, str):
        return None
    if text.isdigit():
        return int(text)
    m = re.match(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?"
                 r"(Z|[+-]\d{2}:?\d{2})?$", text)
    if not m:
        return None
    try:
        base = calendar.timegm(time.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    ms = base * 1000 + int((m.group(3) or "0").ljust(3, "0")[:3])
    zone = m.group(4) or "Z"
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60000
    return ms


def is_date(value):
    """True for a YYYY-MM-DD string that is a real date."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        time.strptime(value, "%Y-%m-%d")
        return True
    except ValueError:
        return False


def is_email(value):
    if not isinstance(value, str) or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(local) and "." in domain and not domain.startswith(".") \
        and not domain.endswith(".") and " " not in value
