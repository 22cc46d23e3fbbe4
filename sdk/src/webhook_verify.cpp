// CRM webhook signature schemes; see crmsync/webhook_verify.h.
#include "crmsync/webhook_verify.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>

#include <Poco/DateTimeParser.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xf]);
  }
  return out;
}

std::string HmacRaw(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string Base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

bool Base64Decode(const std::string& text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  std::string bytes(text.size() / 4 * 3 + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(&bytes[0]),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  size_t size = static_cast<size_t>(n);
  if (text.size() >= 1 && text[text.size() - 1] == '=') --size;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  bytes.resize(size);
  *out = bytes;
  return true;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

bool SameBytes(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

Status Refuse(const char* reason, const std::string& detail) {
  return Status::Unauthenticated(std::string(reason) + ": " + detail);
}

// HubSpot v3: the URI with these escapes decoded (HubSpot's documented list).
std::string HubSpotUri(const std::string& url) {
  static const std::pair<const char*, char> kDecoded[] = {
      {"%3A", ':'}, {"%2F", '/'}, {"%3F", '?'}, {"%40", '@'}, {"%21", '!'}, {"%24", '$'},
      {"%27", '\''}, {"%28", '('}, {"%29", ')'}, {"%2A", '*'}, {"%2C", ','}, {"%3B", ';'}};
  std::string out;
  out.reserve(url.size());
  for (size_t i = 0; i < url.size(); ++i) {
    if (url[i] == '%' && i + 2 < url.size()) {
      std::string code = url.substr(i, 3);
      for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      bool decoded = false;
      for (const auto& [escape, ch] : kDecoded) {
        if (code == escape) {
          out.push_back(ch);
          i += 2;
          decoded = true;
          break;
        }
      }
      if (decoded) continue;
    }
    out.push_back(url[i]);
  }
  return out;
}

// The value at a JSON pointer ("/a/b/0"), as text; nullopt when absent or not
// a scalar. Unreadable JSON is nullopt too.
std::optional<std::string> TextAt(const std::string& body, const std::string& pointer) {
  Poco::Dynamic::Var at;
  try {
    at = Poco::JSON::Parser().parse(body);
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos < pointer.size()) {
    if (pointer[pos] != '/') return std::nullopt;
    size_t next = pointer.find('/', pos + 1);
    std::string token = pointer.substr(pos + 1, next == std::string::npos ? std::string::npos
                                                                          : next - pos - 1);
    for (size_t k; (k = token.find("~1")) != std::string::npos;) token.replace(k, 2, "/");
    for (size_t k; (k = token.find("~0")) != std::string::npos;) token.replace(k, 2, "~");
    try {
      if (at.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto object = at.extract<Poco::JSON::Object::Ptr>();
        if (!object->has(token)) return std::nullopt;
        at = object->get(token);
      } else if (at.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto array = at.extract<Poco::JSON::Array::Ptr>();
        char* end = nullptr;
        unsigned long index = std::strtoul(token.c_str(), &end, 10);
        if (token.empty() || *end != '\0' || index >= array->size()) return std::nullopt;
        at = array->get(static_cast<unsigned int>(index));
      } else {
        return std::nullopt;
      }
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
    pos = next == std::string::npos ? pointer.size() : next;
  }
  if (at.isEmpty() || at.type() == typeid(Poco::JSON::Object::Ptr) ||
      at.type() == typeid(Poco::JSON::Array::Ptr)) {
    return std::nullopt;
  }
  try {
    return at.convert<std::string>();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// A timestamp as Unix ms: digits (seconds below 1e11, else milliseconds) or
// ISO 8601. nullopt when unreadable.
std::optional<int64_t> TimestampMs(const std::string& text) {
  std::string t = Trim(text);
  if (t.empty()) return std::nullopt;
  bool digits = true;
  for (char c : t) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) {
    if (t.size() > 16) return std::nullopt;
    int64_t v = std::strtoll(t.c_str(), nullptr, 10);
    return v < 100000000000LL ? v * 1000 : v;
  }
  try {
    int tz = 0;
    Poco::DateTime parsed = Poco::DateTimeParser::parse(t, tz);
    return parsed.timestamp().epochMicroseconds() / 1000 - static_cast<int64_t>(tz) * 1000;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// The replay window: OK, or a stale / malformed refusal.
Status CheckWindow(const std::string& where, const std::string& text, int64_t now_ms,
                   int64_t tolerance_ms) {
  std::optional<int64_t> at = TimestampMs(text);
  if (!at) return Refuse("malformed", where + " is not a timestamp");
  if (*at < now_ms - tolerance_ms || *at > now_ms + tolerance_ms) {
    return Refuse("stale", where + " is outside the " + std::to_string(tolerance_ms / 1000) +
                               " s replay window");
  }
  return Status::Ok();
}

Status CheckOptionalWindow(const WebhookVerifier& v, const WebhookDelivery& d) {
  if (!v.timestamp_header.empty()) {
    std::string value = FindHeader(d.headers, v.timestamp_header);
    if (value.empty()) return Refuse("missing", "no " + v.timestamp_header + " header");
    return CheckWindow(v.timestamp_header, value, d.received_ms, v.tolerance_ms);
  }
  if (!v.timestamp_pointer.empty()) {
    std::optional<std::string> value = TextAt(d.body, v.timestamp_pointer);
    if (!value) return Refuse("missing", "no timestamp at " + v.timestamp_pointer + " in the body");
    return CheckWindow("the body's " + v.timestamp_pointer, *value, d.received_ms, v.tolerance_ms);
  }
  return Status::Ok();
}

bool AnySecretMatches(const WebhookVerifier& v, const std::string& sent,
                      const std::function<std::string(const std::string&)>& expected) {
  // Digests of both sides are compared: equal lengths, so the time taken
  // does not tell a secret's length (basic auth and tokens compare the secret
  // itself); every secret is tried, so it does not tell which one matched.
  const std::string sent_digest = Sha256Hex(sent);
  bool matched = false;
  for (const std::string& secret : v.secrets) {
    if (SameBytes(Sha256Hex(expected(secret)), sent_digest) && !sent.empty()) matched = true;
  }
  return matched;
}

Status VerifyHubSpot(const WebhookVerifier& v, const WebhookDelivery& d) {
  if (v.scheme == WebhookScheme::kHubSpotV3) {
    const std::string sent = FindHeader(d.headers, "X-HubSpot-Signature-v3");
    const std::string timestamp = FindHeader(d.headers, "X-HubSpot-Request-Timestamp");
    if (sent.empty()) return Refuse("missing", "no X-HubSpot-Signature-v3 header");
    if (timestamp.empty()) return Refuse("missing", "no X-HubSpot-Request-Timestamp header");
    // HubSpot refuses a timestamp older than five minutes; a window both ways
    // also stops a forger from signing far into the future.
    Status window = CheckWindow("X-HubSpot-Request-Timestamp", timestamp, d.received_ms,
                                v.tolerance_ms);
    if (!window.ok()) return window;
    if (AnySecretMatches(v, Trim(sent), [&](const std::string& secret) {
          return HubSpotSignatureV3(secret, d.method, d.url, d.body, Trim(timestamp));
        })) {
      return Status::Ok();
    }
    return Refuse("bad_signature", "X-HubSpot-Signature-v3 matches no secret");
  }
  const std::string sent = Lower(Trim(FindHeader(d.headers, "X-HubSpot-Signature")));
  if (sent.empty()) return Refuse("missing", "no X-HubSpot-Signature header");
  const std::string version = Lower(Trim(FindHeader(d.headers, "X-HubSpot-Signature-Version")));
  const bool v2 = v.scheme == WebhookScheme::kHubSpotV2;
  if (!version.empty() && version != (v2 ? "v2" : "v1")) {
    return Refuse("malformed", "X-HubSpot-Signature-Version is not " + std::string(v2 ? "v2" : "v1"));
  }
  Status window = CheckOptionalWindow(v, d);
  if (!window.ok()) return window;
  if (AnySecretMatches(v, sent, [&](const std::string& secret) {
        return v2 ? HubSpotSignatureV2(secret, d.method, d.url, d.body)
                  : HubSpotSignatureV1(secret, d.body);
      })) {
    return Status::Ok();
  }
  return Refuse("bad_signature", "X-HubSpot-Signature matches no secret");
}

Status VerifyHmac(const WebhookVerifier& v, const WebhookDelivery& d) {
  std::string sent = Trim(FindHeader(d.headers, v.header));
  if (sent.empty()) return Refuse("missing", "no " + v.header + " header");
  if (!v.prefix.empty()) {
    if (sent.compare(0, v.prefix.size(), v.prefix) != 0) {
      return Refuse("malformed", v.header + " does not start with " + v.prefix);
    }
    sent = sent.substr(v.prefix.size());
  }
  const bool hex = v.encoding == "hex";
  if (hex) sent = Lower(sent);
  Status window = CheckOptionalWindow(v, d);
  if (!window.ok()) return window;
  if (AnySecretMatches(v, sent, [&](const std::string& secret) {
        return hex ? HmacSha256Hex(secret, d.body) : HmacSha256Base64(secret, d.body);
      })) {
    return Status::Ok();
  }
  return Refuse("bad_signature", v.header + " matches no secret");
}

Status VerifyBasic(const WebhookVerifier& v, const WebhookDelivery& d) {
  const std::string auth = Trim(FindHeader(d.headers, "Authorization"));
  if (auth.empty()) return Refuse("missing", "no Authorization header");
  if (auth.size() < 6 || Lower(auth.substr(0, 6)) != "basic ") {
    return Refuse("malformed", "Authorization is not Basic");
  }
  std::string credentials;
  if (!Base64Decode(Trim(auth.substr(6)), &credentials) ||
      credentials.find(':') == std::string::npos) {
    return Refuse("malformed", "Authorization Basic is not base64 of user:password");
  }
  Status window = CheckOptionalWindow(v, d);
  if (!window.ok()) return window;
  if (AnySecretMatches(v, credentials, [](const std::string& secret) { return secret; })) {
    return Status::Ok();
  }
  return Refuse("bad_signature", "Authorization Basic matches no secret");
}

Status VerifyToken(const WebhookVerifier& v, const WebhookDelivery& d) {
  std::string sent;
  std::string where;
  if (!v.header.empty()) {
    sent = Trim(FindHeader(d.headers, v.header));
    where = v.header + " header";
  } else {
    sent = TextAt(d.body, v.token_pointer).value_or("");
    where = "token at " + v.token_pointer + " in the body";
  }
  if (sent.empty()) return Refuse("missing", "no " + where);
  Status window = CheckOptionalWindow(v, d);
  if (!window.ok()) return window;
  if (AnySecretMatches(v, sent, [](const std::string& secret) { return secret; })) {
    return Status::Ok();
  }
  return Refuse("bad_signature", "the " + where + " matches no secret");
}

}  // namespace

const char* WebhookSchemeName(WebhookScheme scheme) noexcept {
  switch (scheme) {
    case WebhookScheme::kHubSpotV3: return "hubspot-v3";
    case WebhookScheme::kHubSpotV2: return "hubspot-v2";
    case WebhookScheme::kHubSpotV1: return "hubspot-v1";
    case WebhookScheme::kHmacSha256: return "hmac-sha256";
    case WebhookScheme::kBasic: return "basic";
    case WebhookScheme::kToken: return "token";
  }
  return "unknown";
}

bool ParseWebhookScheme(const std::string& name, WebhookScheme* out) noexcept {
  for (WebhookScheme s : {WebhookScheme::kHubSpotV3, WebhookScheme::kHubSpotV2,
                          WebhookScheme::kHubSpotV1, WebhookScheme::kHmacSha256,
                          WebhookScheme::kBasic, WebhookScheme::kToken}) {
    if (name == WebhookSchemeName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

std::string CheckWebhookVerifier(const WebhookVerifier& v) {
  bool any = false;
  for (const std::string& secret : v.secrets) any = any || !secret.empty();
  if (!any) return "no secret is set for the " + std::string(WebhookSchemeName(v.scheme)) + " scheme";
  for (const std::string& secret : v.secrets) {
    if (secret.empty()) return "a secret is empty";
    if (v.scheme == WebhookScheme::kBasic && secret.find(':') == std::string::npos) {
      return "a basic-auth secret must be user:password";
    }
  }
  if (v.tolerance_ms < 1000) return "the replay window must be at least 1000 ms";
  if (!v.timestamp_header.empty() && !v.timestamp_pointer.empty()) {
    return "timestampHeader and timestampPointer are exclusive";
  }
  if (!v.timestamp_pointer.empty() && v.timestamp_pointer[0] != '/') {
    return "timestampPointer must be a JSON pointer starting with /";
  }
  switch (v.scheme) {
    case WebhookScheme::kHmacSha256:
      if (v.header.empty()) return "hmac-sha256 needs a header";
      if (v.encoding != "hex" && v.encoding != "base64") return "encoding must be hex or base64";
      break;
    case WebhookScheme::kToken:
      if (v.header.empty() == v.token_pointer.empty()) {
        return "token needs exactly one of header and tokenPointer";
      }
      if (!v.token_pointer.empty() && v.token_pointer[0] != '/') {
        return "tokenPointer must be a JSON pointer starting with /";
      }
      break;
    default:
      break;
  }
  return "";
}

Status VerifyWebhookWith(const WebhookVerifier& verifier, const WebhookDelivery& delivery) {
  std::string problem = CheckWebhookVerifier(verifier);
  if (!problem.empty()) return Refuse("malformed", "the verifier is not usable: " + problem);
  switch (verifier.scheme) {
    case WebhookScheme::kHubSpotV3:
    case WebhookScheme::kHubSpotV2:
    case WebhookScheme::kHubSpotV1:
      return VerifyHubSpot(verifier, delivery);
    case WebhookScheme::kHmacSha256:
      return VerifyHmac(verifier, delivery);
    case WebhookScheme::kBasic:
      return VerifyBasic(verifier, delivery);
    case WebhookScheme::kToken:
      return VerifyToken(verifier, delivery);
  }
  return Refuse("malformed", "unknown scheme");
}

std::string HubSpotSignatureV3(const std::string& secret, const std::string& method,
                               const std::string& url, const std::string& body,
                               const std::string& timestamp_ms) {
  return Base64(HmacRaw(secret, method + HubSpotUri(url) + body + timestamp_ms));
}

std::string HubSpotSignatureV2(const std::string& secret, const std::string& method,
                               const std::string& url, const std::string& body) {
  return Sha256Hex(secret + method + url + body);
}

std::string HubSpotSignatureV1(const std::string& secret, const std::string& body) {
  return Sha256Hex(secret + body);
}

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  std::string raw = HmacRaw(key, data);
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string HmacSha256Base64(const std::string& key, const std::string& data) {
  return Base64(HmacRaw(key, data));
}

}  // namespace crmsync
