// Webhook verification; see verify.h.
#include "webhook/verify.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "common/strings.h"
#include "crmsync/webhook_verify.h"

namespace crmsync::engine {
namespace {

// The raw HMAC-SHA256 bytes, through the SDK's HMAC (crmsync/webhook_verify.h),
// which plugins' schemes use too: compared as bytes, so a signature sent with
// other base64 padding still matches.
std::string HmacSha256(const std::string& key, const std::string& data) {
  std::string digest;
  Base64Decode(HmacSha256Base64(key, data), &digest);
  return digest;
}

bool SameBytes(const std::string& a, const std::string& b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const char* WebhookVerdictName(WebhookVerdict verdict) noexcept {
  switch (verdict) {
    case WebhookVerdict::kVerified: return "verified";
    case WebhookVerdict::kMissing: return "missing";
    case WebhookVerdict::kBadSignature: return "bad_signature";
    case WebhookVerdict::kStale: return "stale";
    case WebhookVerdict::kMalformed: return "malformed";
  }
  return "unknown";
}

bool ParseWebhookSecrets(const std::vector<std::string>& secrets, WebhookSecrets* out,
                         std::string* error) {
  static const std::string kPrefix = "whsec_";
  for (size_t i = 0; i < secrets.size(); ++i) {
    const std::string& s = secrets[i];
    if (s.empty()) continue;
    if (s.compare(0, kPrefix.size(), kPrefix) == 0) {
      std::string key;
      if (!Base64Decode(s.substr(kPrefix.size()), &key)) {
        *error = "webhook secret #" + std::to_string(i + 1) +
                 " starts with whsec_ but the rest is not valid base64";
        return false;
      }
      out->standard_keys.push_back(key);
    } else {
      out->shared.push_back(s);
    }
  }
  return true;
}

std::string StandardWebhookSignature(const std::string& key, const std::string& id,
                                     const std::string& timestamp, const std::string& body) {
  return "v1," + HmacSha256Base64(key, id + "." + timestamp + "." + body);
}

WebhookCheck VerifyWebhook(const HeaderList& headers, const std::string& body,
                           const WebhookSecrets& secrets, int64_t now_s, int64_t tolerance_s) {
  WebhookCheck check;
  const std::string id = FindHeader(headers, "webhook-id");
  const std::string timestamp = FindHeader(headers, "webhook-timestamp");
  const std::string signatures = FindHeader(headers, "webhook-signature");
  const std::string shared = FindHeader(headers, "X-CRM-Secret");
  bool standard_sent = !id.empty() || !timestamp.empty() || !signatures.empty();

  if (standard_sent) {
    check.delivery_id = id;
    if (id.empty() || timestamp.empty() || signatures.empty()) {
      check.verdict = WebhookVerdict::kMalformed;
      return check;
    }
    errno = 0;
    char* end = nullptr;
    long long ts = std::strtoll(timestamp.c_str(), &end, 10);
    if (errno != 0 || end == timestamp.c_str() || *end != '\0') {
      check.verdict = WebhookVerdict::kMalformed;
      return check;
    }
    if (ts < now_s - tolerance_s || ts > now_s + tolerance_s) {
      check.verdict = WebhookVerdict::kStale;
      return check;
    }
    const std::string signed_content = id + "." + timestamp + "." + body;
    std::istringstream list(signatures);
    std::string entry;
    while (list >> entry) {
      size_t comma = entry.find(',');
      if (comma == std::string::npos || entry.substr(0, comma) != "v1") continue;
      std::string sent;
      if (!Base64Decode(entry.substr(comma + 1), &sent)) continue;
      for (const std::string& key : secrets.standard_keys) {
        if (SameBytes(sent, HmacSha256(key, signed_content))) {
          check.verdict = WebhookVerdict::kVerified;
          check.scheme = "standard-webhooks";
          return check;
        }
      }
    }
    check.verdict = WebhookVerdict::kBadSignature;
    return check;
  }
  if (!shared.empty()) {
    bool match = false;
    // Compare against every secret, so timing does not tell which one is close.
    for (const std::string& secret : secrets.shared) {
      match = (shared.size() == secret.size() &&
               CRYPTO_memcmp(shared.data(), secret.data(), secret.size()) == 0) ||
              match;
    }
    check.verdict = match ? WebhookVerdict::kVerified : WebhookVerdict::kBadSignature;
    if (match) check.scheme = "shared-secret";
    return check;
  }
  check.verdict = WebhookVerdict::kMissing;
  return check;
}

}  // namespace crmsync::engine
