// Routing and the request context; see router.h.
#include "http/router.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <memory>

#include <Poco/Logger.h>
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

namespace {

// "/a/{id}/b" -> {"", "a", "{id}", "b"}; empty segments are kept, so "/a/"
// and "/a" differ.
std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) return segments;
    start = slash + 1;
  }
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// A path for a Link header's <...>: the characters that would end or break it
// percent-encoded (a request target may carry them; RFC 8288 URI-references
// may not).
std::string LinkTarget(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '<' || c == '>' || c == '"' || c == ',' || c == ';') {
      static const char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string HttpContext::PathParam(const std::string& name) const {
  for (const auto& [key, value] : path_params_) {
    if (key == name) return value;
  }
  return "";
}

void Router::AddRoute(Route route) {
  route.segments = SplitPath(route.path);
  for (const std::string& segment : route.segments) {
    if (IsParam(segment)) route.has_params = true;
  }
  routes_.push_back(std::move(route));
}

void Router::Add(const std::string& method, const std::string& path, Handler handler) {
  AddRoute(Route{method, path, {}, false, false, "", std::move(handler)});
}

void Router::AddInline(const std::string& method, const std::string& path, Handler handler) {
  AddRoute(Route{method, path, {}, false, true, "", std::move(handler)});
}

bool Router::IsInline(const std::string& method, const std::string& target) const {
  const std::string path = target.substr(0, target.find('?'));
  for (const Route& route : routes_) {
    if (route.inline_ok && !route.has_params && route.method == method && route.path == path) {
      return true;
    }
  }
  return false;
}

void Router::AddDeprecatedAliases(const std::string& current, const std::string& legacy,
                                  DeprecationInfo info) {
  auto shared = std::make_shared<const DeprecationInfo>(std::move(info));
  std::vector<Route> aliases;
  for (const Route& route : routes_) {
    if (route.path.compare(0, current.size(), current) != 0 || !route.successor.empty()) continue;
    Route alias = route;
    alias.path = legacy + route.path.substr(current.size());
    alias.successor = route.path;
    alias.inline_ok = false;
    const size_t legacy_size = legacy.size();
    alias.handler = [shared, current, legacy_size, method = route.method, path = alias.path,
                     handler = route.handler](HttpContext& ctx) {
      if (shared->on_use) shared->on_use(method, path);
      ctx.SetHeader("Deprecation", shared->deprecation);
      ctx.SetHeader("Link", "<" + LinkTarget(current + ctx.path().substr(legacy_size)) +
                                ">; rel=\"successor-version\"");
      handler(ctx);
    };
    aliases.push_back(std::move(alias));
  }
  for (Route& alias : aliases) AddRoute(std::move(alias));
}

std::vector<RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> list;
  for (const Route& route : routes_) list.push_back({route.method, route.path, route.successor});
  return list;
}

bool Router::Matches(const Route& route, const std::string& path,
                     const std::vector<std::string>& segments,
                     std::vector<std::pair<std::string, std::string>>* params) {
  if (!route.has_params) return route.path == path;
  if (route.segments.size() != segments.size()) return false;
  params->clear();
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (IsParam(want)) {
      if (segments[i].empty()) return false;
      params->emplace_back(want.substr(1, want.size() - 2), segments[i]);
    } else if (want != segments[i]) {
      return false;
    }
  }
  return true;
}

void Router::Dispatch(HttpContext& ctx) const {
  const std::string& uri = ctx.request().uri();
  size_t q = uri.find('?');
  ctx.path_ = uri.substr(0, q);
  ctx.query_ = q == std::string::npos ? "" : uri.substr(q + 1);
  const std::vector<std::string> segments = SplitPath(ctx.path_);
  std::vector<std::string> allowed;
  std::vector<std::pair<std::string, std::string>> params;
  // Literal routes first, then templates: "/dlq/replay" before "/dlq/{id}".
  for (bool templates : {false, true}) {
    for (const Route& route : routes_) {
      if (route.has_params != templates || !Matches(route, ctx.path_, segments, &params)) continue;
      if (route.method != ctx.method()) {
        if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
          allowed.push_back(route.method);
        }
        continue;
      }
      ctx.path_params_ = std::move(params);
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
  }
  if (!allowed.empty()) {
    std::string list;
    for (const std::string& method : allowed) list += (list.empty() ? "" : ", ") + method;
    ctx.SetHeader("Allow", list);
    ctx.SendError(405, "method " + ctx.method() + " not allowed on " + ctx.path_ + "; allowed: " +
                           list);
  } else {
    ctx.SendError(404, "no such endpoint: " + ctx.path_);
  }
}

}  // namespace crmsync::engine
