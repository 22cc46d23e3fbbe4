// http/router.h: maps method + path to a handler, and the per-request context
// handlers use to read the request and answer in JSON.
//
// A Router is built before the server starts and read-only afterwards; lookups
// are thread-safe. Handlers run on the server's threads and must be too.
#ifndef CRMSYNC_ENGINE_HTTP_ROUTER_H_
#define CRMSYNC_ENGINE_HTTP_ROUTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

namespace crmsync::engine {

/// One request in flight.
class HttpContext {
 public:
  HttpContext(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
              int64_t max_body_bytes)
      : request_(request), response_(response), max_body_bytes_(max_body_bytes) {}

  Poco::Net::HTTPServerRequest& request() { return request_; }
  Poco::Net::HTTPServerResponse& response() { return response_; }
  const std::string& method() const { return request_.getMethod(); }
  /// The path without the query string.
  const std::string& path() const { return path_; }
  /// The value of query parameter `name`, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  /// The path segments after the route's prefix (for prefix routes).
  const std::vector<std::string>& tail() const { return tail_; }

  /// Reads the body into `*body`. False (and a 413 already sent) when it exceeds
  /// the limit; false (and a 400 sent) when it cannot be read.
  bool ReadBody(std::string* body);

  /// Answers sent before the body was read (401, 413, 503, ...) first drop the
  /// unread body (up to the body limit) so a keep-alive connection stays in
  /// step; when that is not possible the connection is closed after the answer.
  /// Sends `json` with `status` and Content-Type application/json.
  void SendJson(int status, const std::string& json);
  /// Sends {"error": message} with `status`.
  void SendError(int status, const std::string& message);
  /// Sends plain text.
  void SendText(int status, const std::string& text,
                const std::string& content_type = "text/plain; charset=utf-8");
  bool sent() const { return sent_; }

  /// Checks "Authorization: Bearer <token>" against `token` in constant time;
  /// sends 401 and returns false when it does not match. An empty `token`
  /// refuses every request (the API is then closed).
  bool RequireBearer(const std::string& token);

 private:
  friend class Router;
  Poco::Net::HTTPServerRequest& request_;
  Poco::Net::HTTPServerResponse& response_;
  int64_t max_body_bytes_;
  std::string path_;
  std::string query_;
  std::vector<std::string> tail_;
  bool sent_ = false;
  // kUnread: the body (if any) is still on the connection; kRead: read whole;
  // kAbandoned: read in part and given up (too large or unreadable).
  enum class BodyState { kUnread, kRead, kAbandoned };
  BodyState body_state_ = BodyState::kUnread;
  // Reads and drops an unread body of at most max_body_bytes_; false when the
  // connection cannot be reused.
  bool DiscardUnreadBody();
};

using Handler = std::function<void(HttpContext&)>;

class Router {
 public:
  /// Adds an exact route ("GET", "/healthz").
  void Add(const std::string& method, const std::string& path, Handler handler);
  /// Adds a prefix route: "/api/admin/dlq/" matches "/api/admin/dlq/12/replay"
  /// with tail() = {"12", "replay"}.
  void AddPrefix(const std::string& method, const std::string& prefix, Handler handler);
  /// Dispatches; 404 when no path matches, 405 when the path matches another
  /// method. Exceptions from handlers become 500 with no detail sent.
  void Dispatch(HttpContext& ctx) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    Handler handler;
  };
  std::vector<Route> routes_;
};

/// Constant-time string comparison (length may leak, contents do not).
bool ConstantTimeEquals(const std::string& a, const std::string& b);

/// Escapes `s` as a JSON string literal, quotes included.
std::string JsonQuote(const std::string& s);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_HTTP_ROUTER_H_
