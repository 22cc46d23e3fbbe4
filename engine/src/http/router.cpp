// Routing and the request context; see router.h.
#include "http/router.h"

#include <openssl/crypto.h>

#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

#include "common/json_writer.h"

namespace crmsync::engine {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HttpContext::Query(const std::string& name, const std::string& fallback) const {
  try {
    Poco::URI uri("/?" + query_);
    for (const auto& [k, v] : uri.getQueryParameters()) {
      if (k == name) return v;
    }
  } catch (const Poco::Exception&) {
  }
  return fallback;
}

HttpContext::~HttpContext() {
  if (deferred_ && !sent_.load()) {
    Poco::Logger::get("crmsync.http").error("a deferred %s %s was never answered", method(), path_);
    SendError(500, "internal error: no answer");
  }
}

bool HttpContext::ReadBody(std::string* body) {
  if (request_.too_large_limit() >= 0) {
    body->clear();
    const HttpRequestHead& head = request_.head();
    SendError(413, (head.framing == HttpRequestHead::Framing::kLength
                        ? "request body of " + std::to_string(head.content_length) + " bytes"
                        : std::string("request body")) +
                       " exceeds the limit of " + std::to_string(request_.too_large_limit()) +
                       " bytes");
    return false;
  }
  *body = request_.body();
  return true;
}

void HttpContext::SetHeader(const std::string& name, const std::string& value) {
  response_headers_.emplace_back(name, value);
}

std::shared_ptr<HttpContext> HttpContext::Defer() {
  deferred_ = true;
  return shared_from_this();
}

void HttpContext::SendJson(int status, const std::string& json) {
  SendText(status, json, "application/json");
}

void HttpContext::SendError(int status, const std::string& message) {
  SendJson(status, JsonObject().Str("error", message).Done());
}

void HttpContext::SendText(int status, const std::string& text, const std::string& content_type) {
  if (sent_.exchange(true)) return;
  const HttpRequestHead& head = request_.head();
  sink_(SerializeResponse(status, response_headers_, content_type, text, head.keep_alive,
                          head.version_minor),
        !head.keep_alive);
}

bool HttpContext::RequireBearer(const std::string& token,
                                const std::function<void()>& on_refused) {
  const std::string header = request_.header("Authorization");
  static const std::string kPrefix = "Bearer ";
  bool ok = !token.empty() && header.size() > kPrefix.size() &&
            header.compare(0, kPrefix.size(), kPrefix) == 0 &&
            ConstantTimeEquals(header.substr(kPrefix.size()), token);
  if (!ok) {
    if (on_refused) on_refused();
    SetHeader("WWW-Authenticate", "Bearer");
    SendError(401, "missing or invalid bearer token");
  }
  return ok;
}

void Router::Add(const std::string& method, const std::string& path, Handler handler) {
  routes_.push_back(Route{method, path, false, false, std::move(handler)});
}

void Router::AddInline(const std::string& method, const std::string& path, Handler handler) {
  routes_.push_back(Route{method, path, false, true, std::move(handler)});
}

bool Router::IsInline(const std::string& method, const std::string& target) const {
  const std::string path = target.substr(0, target.find('?'));
  for (const Route& route : routes_) {
    if (!route.prefix && route.inline_ok && route.method == method && route.path == path) {
      return true;
    }
  }
  return false;
}

void Router::AddPrefix(const std::string& method, const std::string& prefix, Handler handler) {
  routes_.push_back(Route{method, prefix, true, false, std::move(handler)});
}

void Router::Dispatch(HttpContext& ctx) const {
  const std::string& uri = ctx.request().uri();
  size_t q = uri.find('?');
  ctx.path_ = uri.substr(0, q);
  ctx.query_ = q == std::string::npos ? "" : uri.substr(q + 1);
  bool path_matched = false;
  for (const Route& route : routes_) {
    bool match = route.prefix ? ctx.path_.compare(0, route.path.size(), route.path) == 0
                              : ctx.path_ == route.path;
    if (!match) continue;
    path_matched = true;
    if (route.method != ctx.method()) continue;
    if (route.prefix) {
      Poco::StringTokenizer parts(ctx.path_.substr(route.path.size()), "/",
                                  Poco::StringTokenizer::TOK_IGNORE_EMPTY);
      ctx.tail_.assign(parts.begin(), parts.end());
    }
    try {
      route.handler(ctx);
    } catch (const std::exception& e) {
      Poco::Logger::get("crmsync.http").error("handler for %s %s failed: %s", ctx.method(),
                                              ctx.path_, std::string(e.what()));
      ctx.SendError(500, "internal error");
    }
    if (!ctx.sent() && !ctx.deferred()) ctx.SendError(500, "internal error: no answer");
    return;
  }
  if (path_matched) {
    ctx.SendError(405, "method " + ctx.method() + " not allowed on " + ctx.path_);
  } else {
    ctx.SendError(404, "no such endpoint: " + ctx.path_);
  }
}

}  // namespace crmsync::engine
