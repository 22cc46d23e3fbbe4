// http/router.h: maps method + path to a handler, and the per-request context
// handlers use to read the request and answer in JSON. Independent of the
// server's sockets: the server hands each request over with a ResponseSink.
//
// A Router is built before the server starts and read-only afterwards; lookups
// are thread-safe. Handlers run on the server's threads and must be too.
#ifndef CRMSYNC_ENGINE_HTTP_ROUTER_H_
#define CRMSYNC_ENGINE_HTTP_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/http_parser.h"

namespace crmsync::engine {

/// Where a request's answer goes: the server gives each request one. Called
/// once, from any thread, with the whole response and whether the connection
/// closes after it.
using ResponseSink = std::function<void(std::string bytes, bool close)>;

/// One request as the server read it: the head and the whole body (the server
/// enforces server.max_body_bytes before a handler runs).
class ServerRequest {
 public:
  ServerRequest(HttpRequestHead head, std::string body)
      : head_(std::move(head)), body_(std::move(body)) {}
  /// A request whose body exceeds `limit` bytes: the body is not read (the
  /// connection closes after the answer) and ReadBody() answers 413.
  static ServerRequest TooLarge(HttpRequestHead head, int64_t limit) {
    head.keep_alive = false;
    ServerRequest request(std::move(head), std::string());
    request.too_large_limit_ = limit;
    return request;
  }
  /// The body limit this request's body exceeds, or -1.
  int64_t too_large_limit() const { return too_large_limit_; }
  const std::string& method() const { return head_.method; }
  /// The request target: path and query string.
  const std::string& uri() const { return head_.target; }
  const HttpHeaders& headers() const { return head_.headers; }
  /// The first value of header `name` (case-insensitive), or `fallback`.
  std::string header(std::string_view name, const std::string& fallback = "") const {
    const std::string* value = head_.Find(name);
    return value ? *value : fallback;
  }
  const std::string& body() const { return body_; }
  const HttpRequestHead& head() const { return head_; }

 private:
  HttpRequestHead head_;
  std::string body_;
  int64_t too_large_limit_ = -1;
};

/// One request in flight, and its answer. A handler answers before it returns,
/// or calls Defer() and answers later from any thread (intake answers once the
/// group commit is durable).
class HttpContext : public std::enable_shared_from_this<HttpContext> {
 public:
  HttpContext(ServerRequest request, ResponseSink sink)
      : request_(std::move(request)), sink_(std::move(sink)) {}
  /// A deferred context that was never answered answers 500.
  ~HttpContext();
  HttpContext(const HttpContext&) = delete;
  HttpContext& operator=(const HttpContext&) = delete;

  const ServerRequest& request() const { return request_; }
  const std::string& method() const { return request_.method(); }
  /// The path without the query string.
  const std::string& path() const { return path_; }
  /// The value of query parameter `name`, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  /// The value of path parameter `name` of a template route ("{id}" of
  /// "/api/v1/admin/dlq/{id}"), as sent (not percent-decoded), or "".
  std::string PathParam(const std::string& name) const;

  /// Copies the body (read whole by the server) into `*body`. False, with 413
  /// sent, when it exceeded server.max_body_bytes.
  bool ReadBody(std::string* body);

  /// Adds a response header (sent with the answer).
  void SetHeader(const std::string& name, const std::string& value);
  /// Sends `json` with `status` and Content-Type application/json.
  void SendJson(int status, const std::string& json);
  /// Sends {"error": message} with `status`.
  void SendError(int status, const std::string& message);
  /// Sends plain text.
  void SendText(int status, const std::string& text,
                const std::string& content_type = "text/plain; charset=utf-8");
  bool sent() const { return sent_.load(); }

  /// The handler answers later: keep the returned pointer and call Send* on it
  /// from any thread, once.
  std::shared_ptr<HttpContext> Defer();
  bool deferred() const { return deferred_; }

  /// Checks "Authorization: Bearer <token>" against `token` in constant time;
  /// sends 401 and returns false when it does not match. An empty `token`
  /// refuses every request (the API is then closed). `on_refused` runs before
  /// the 401 goes (a handler's effects come before its answer).
  bool RequireBearer(const std::string& token, const std::function<void()>& on_refused = {});

 private:
  friend class Router;
  ServerRequest request_;
  ResponseSink sink_;
  HttpHeaders response_headers_;
  std::string path_;
  std::string query_;
  std::vector<std::pair<std::string, std::string>> path_params_;
  std::atomic<bool> sent_{false};
  bool deferred_ = false;
};

using Handler = std::function<void(HttpContext&)>;

/// One route as registered, for listing (the OpenAPI document is checked
/// against this list).
struct RouteInfo {
  std::string method;
  /// The path, "{name}" for a parameter segment: "/api/v1/admin/dlq/{id}".
  std::string path;
  /// For a deprecated alias: the path of the route it stands in for; else "".
  std::string successor;
};

/// What the answers of a deprecated alias carry.
struct DeprecationInfo {
  /// The Deprecation header's value (RFC 9745: "@" and the Unix time the
  /// alias was deprecated).
  std::string deprecation;
  /// Runs on each request to an alias, with its method and route path (for a
  /// counter and a one-time log line); may be empty.
  std::function<void(const std::string& method, const std::string& path)> on_use;
};

class Router {
 public:
  /// Adds a route ("GET", "/healthz"). A path segment "{name}" matches any one
  /// non-empty segment, read with HttpContext::PathParam(name); a route whose
  /// path has no parameter wins over one that has.
  void Add(const std::string& method, const std::string& path, Handler handler);
  /// Adds a route whose handler never blocks and answers at once: the server
  /// runs it on its I/O thread, so it answers even when every handler thread
  /// is busy (/healthz). No path parameters.
  void AddInline(const std::string& method, const std::string& path, Handler handler);
  /// True when `method` `target` goes to an inline route.
  bool IsInline(const std::string& method, const std::string& target) const;
  /// Serves every route added so far whose path starts with `current` ("/api/v1/")
  /// also at `legacy` + the rest ("/api/events" for "/api/v1/events"), by the same
  /// handler. Their answers carry `Deprecation: <info.deprecation>` and
  /// `Link: <the same request's path under current>; rel="successor-version"`.
  /// Routes added afterwards get no alias.
  void AddDeprecatedAliases(const std::string& current, const std::string& legacy,
                            DeprecationInfo info);
  /// Every route, in the order added.
  std::vector<RouteInfo> Routes() const;
  /// Dispatches; 404 when no path matches, 405 (with Allow) when the path
  /// matches other methods only. Exceptions from handlers become 500 with no
  /// detail sent.
  void Dispatch(HttpContext& ctx) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    /// The path split at "/"; segments "{name}" are parameters.
    std::vector<std::string> segments;
    bool has_params = false;
    bool inline_ok = false;
    std::string successor;
    Handler handler;
  };
  void AddRoute(Route route);
  /// True when `route` matches `segments`; fills `params` for a template.
  static bool Matches(const Route& route, const std::string& path,
                      const std::vector<std::string>& segments,
                      std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Route> routes_;
};

/// The versioned API's prefix: every route under it is described by
/// docs/openapi.yaml (served at /api/v1/openapi.json).
inline constexpr char kApiV1[] = "/api/v1/";
/// The unversioned prefix the v1 routes were served under before; kept as
/// deprecated aliases for one release (Service::BuildRoutes).
inline constexpr char kLegacyApi[] = "/api/";

/// Constant-time string comparison (length may leak, contents do not).
bool ConstantTimeEquals(const std::string& a, const std::string& b);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_ROUTER_H_
