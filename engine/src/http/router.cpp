// Routing and the request context; see router.h.
#include "http/router.h"

#include <openssl/crypto.h>

#include <istream>

#include <Poco/Logger.h>
#include <Poco/Net/NameValueCollection.h>
#include <Poco/StringTokenizer.h>
#include <Poco/URI.h>

namespace crmsync::engine {

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string JsonQuote(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
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

bool HttpContext::ReadBody(std::string* body) {
  body->clear();
  std::streamsize declared = request_.getContentLength();
  if (declared != Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH && declared > max_body_bytes_) {
    body_state_ = BodyState::kAbandoned;
    SendError(413, "request body of " + std::to_string(declared) + " bytes exceeds the limit of " +
                       std::to_string(max_body_bytes_) + " bytes");
    return false;
  }
  std::istream& in = request_.stream();
  char buffer[16384];
  while (in) {
    in.read(buffer, sizeof(buffer));
    std::streamsize n = in.gcount();
    if (n <= 0) break;
    if (static_cast<int64_t>(body->size()) + n > max_body_bytes_) {
      body_state_ = BodyState::kAbandoned;
      SendError(413, "request body exceeds the limit of " + std::to_string(max_body_bytes_) +
                         " bytes");
      body->clear();
      return false;
    }
    body->append(buffer, static_cast<size_t>(n));
  }
  if (in.bad()) {
    body_state_ = BodyState::kAbandoned;
    SendError(400, "the request body could not be read");
    return false;
  }
  body_state_ = BodyState::kRead;
  return true;
}

bool HttpContext::DiscardUnreadBody() {
  if (body_state_ == BodyState::kRead) return true;
  if (body_state_ == BodyState::kAbandoned) return false;
  std::streamsize declared = request_.getContentLength();
  bool has_body = request_.getChunkedTransferEncoding() ||
                  (declared != Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH && declared > 0);
  if (!has_body) return true;
  if (declared != Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH && declared > max_body_bytes_) {
    return false;
  }
  try {
    std::istream& in = request_.stream();
    char buffer[16384];
    int64_t dropped = 0;
    while (in) {
      in.read(buffer, sizeof(buffer));
      std::streamsize n = in.gcount();
      if (n <= 0) break;
      dropped += n;
      if (dropped > max_body_bytes_) return false;
    }
    return !in.bad();
  } catch (const std::exception&) {
    return false;
  }
}

void HttpContext::SendJson(int status, const std::string& json) {
  SendText(status, json, "application/json");
}

void HttpContext::SendError(int status, const std::string& message) {
  SendJson(status, "{\"error\":" + JsonQuote(message) + "}");
}

void HttpContext::SendText(int status, const std::string& text, const std::string& content_type) {
  if (sent_) return;
  sent_ = true;
  if (!DiscardUnreadBody()) response_.setKeepAlive(false);
  response_.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response_.setContentType(content_type);
  response_.setContentLength(static_cast<std::streamsize>(text.size()));
  response_.sendBuffer(text.data(), text.size());
}

bool HttpContext::RequireBearer(const std::string& token) {
  const std::string header = request_.get("Authorization", "");
  static const std::string kPrefix = "Bearer ";
  bool ok = !token.empty() && header.size() > kPrefix.size() &&
            header.compare(0, kPrefix.size(), kPrefix) == 0 &&
            ConstantTimeEquals(header.substr(kPrefix.size()), token);
  if (!ok) {
    response_.set("WWW-Authenticate", "Bearer");
    SendError(401, "missing or invalid bearer token");
  }
  return ok;
}

void Router::Add(const std::string& method, const std::string& path, Handler handler) {
  routes_.push_back(Route{method, path, false, std::move(handler)});
}

void Router::AddPrefix(const std::string& method, const std::string& prefix, Handler handler) {
  routes_.push_back(Route{method, prefix, true, std::move(handler)});
}

void Router::Dispatch(HttpContext& ctx) const {
  const std::string& uri = ctx.request().getURI();
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
    if (!ctx.sent()) ctx.SendError(500, "internal error: no answer");
    return;
  }
  if (path_matched) {
    ctx.SendError(405, "method " + ctx.method() + " not allowed on " + ctx.path_);
  } else {
    ctx.SendError(404, "no such endpoint: " + ctx.path_);
  }
}

}  // namespace crmsync::engine
