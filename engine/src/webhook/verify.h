// webhook/verify.h: checks that a CRM webhook really comes from the CRM.
//
// Two schemes (docs/design.md §5), tried in this order:
//  * Standard Webhooks: headers webhook-id, webhook-timestamp and
//    webhook-signature ("v1,<base64 HMAC-SHA256 of id.timestamp.body>", several
//    space-separated), secrets "whsec_<base64>", timestamp within the
//    tolerance both ways. Several secrets are accepted so one can rotate.
//  * The strategy's shared secret: header X-CRM-Secret equal (constant time)
//    to one of the plain secrets.
// The reason for a refusal is for logs and metrics only: callers answer 401
// without it, so nothing helps a forger. Pure functions; thread-safe.
#ifndef CRMSYNC_ENGINE_WEBHOOK_VERIFY_H_
#define CRMSYNC_ENGINE_WEBHOOK_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "crmsync/http.h"

namespace crmsync::engine {

/// The accepted secrets, parsed once from CRM_WEBHOOK_SECRET and webhook.secrets.
struct WebhookSecrets {
  std::vector<std::string> shared;             ///< Plain secrets for X-CRM-Secret.
  std::vector<std::string> standard_keys;      ///< Decoded keys of the whsec_ secrets.
  bool empty() const { return shared.empty() && standard_keys.empty(); }
};

/// Sorts secrets into the two kinds: "whsec_<base64>" ones become Standard
/// Webhooks keys (false with `*error` naming the bad one's position when its
/// base64 is invalid; the secret itself is never quoted), others shared secrets.
bool ParseWebhookSecrets(const std::vector<std::string>& secrets, WebhookSecrets* out,
                         std::string* error);

enum class WebhookVerdict {
  kVerified,      ///< A scheme matched.
  kMissing,       ///< No credentials of either scheme were sent.
  kBadSignature,  ///< Credentials sent, none matched.
  kStale,         ///< Standard Webhooks timestamp outside the tolerance.
  kMalformed,     ///< Standard Webhooks headers present but unreadable.
};
const char* WebhookVerdictName(WebhookVerdict verdict) noexcept;

struct WebhookCheck {
  WebhookVerdict verdict = WebhookVerdict::kMissing;
  std::string scheme;       ///< "standard-webhooks" or "shared-secret" when verified.
  std::string delivery_id;  ///< webhook-id when the Standard Webhooks scheme was used.
};

/// Verifies a delivery against `secrets` at `now_s` (Unix seconds).
WebhookCheck VerifyWebhook(const HeaderList& headers, const std::string& body,
                           const WebhookSecrets& secrets, int64_t now_s, int64_t tolerance_s = 300);

/// The Standard Webhooks signature ("v1,<base64>") of `body` for `key` (tests, mock CRMs).
std::string StandardWebhookSignature(const std::string& key, const std::string& id,
                                     const std::string& timestamp, const std::string& body);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_WEBHOOK_VERIFY_H_
