// crmsync/webhook_verify.h: CRM webhook signature schemes, for a plugin's
// Adapter::VerifyWebhook(). Added in ABI 4.0.
//
// Each scheme compares in constant time (CRYPTO_memcmp), accepts several
// secrets (the first that matches wins, so a secret can be rotated: add the
// new one, switch the CRM, drop the old one) and, where a timestamp is signed
// or sent, refuses one outside a replay window measured against the engine's
// clock (WebhookDelivery::received_ms). A replay inside the window is not
// refused here: the engine's delivery and per-event dedup make it a no-op.
//
// Schemes (WebhookSchemeName / ParseWebhookScheme spell them):
//  * "hubspot-v3": X-HubSpot-Signature-v3 = base64(HMAC-SHA256(secret,
//    method + uri + body + timestamp)), X-HubSpot-Request-Timestamp in Unix
//    milliseconds, refused when older than the window (HubSpot: 5 minutes);
//    uri is WebhookDelivery::url with HubSpot's listed %XX escapes decoded.
//  * "hubspot-v2": X-HubSpot-Signature = hex(SHA-256(secret + method + uri +
//    body)), X-HubSpot-Signature-Version "v2".
//  * "hubspot-v1": X-HubSpot-Signature = hex(SHA-256(secret + body)),
//    X-HubSpot-Signature-Version "v1" (or absent).
//  * "hmac-sha256": HMAC-SHA256(secret, body) in `header`, hex (either case)
//    or base64 per `encoding`, after an optional `prefix` ("sha256=").
//  * "basic": Authorization: Basic base64(user:password); each secret is
//    "user:password".
//  * "token": the secret itself, in `header`, or in the JSON body at
//    `token_pointer` (Zoho's channel token).
// For hmac-sha256, basic and token, a timestamp for the replay window may be
// read from `timestamp_header` or from the JSON body at `timestamp_pointer`
// (Unix seconds or milliseconds, told apart by size, or ISO 8601); without
// one there is no window (the schemes sign no time).
//
// Pure functions; thread-safe. Secrets never appear in a returned message.
#ifndef CRMSYNC_WEBHOOK_VERIFY_H_
#define CRMSYNC_WEBHOOK_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/status.h"

namespace crmsync {

enum class WebhookScheme {
  kHubSpotV3,
  kHubSpotV2,
  kHubSpotV1,
  kHmacSha256,
  kBasic,
  kToken,
};
/// "hubspot-v3", "hubspot-v2", "hubspot-v1", "hmac-sha256", "basic", "token".
const char* WebhookSchemeName(WebhookScheme scheme) noexcept;
bool ParseWebhookScheme(const std::string& name, WebhookScheme* out) noexcept;

/// A configured scheme.
struct WebhookVerifier {
  WebhookScheme scheme = WebhookScheme::kHmacSha256;
  /// Accepted secrets, newest first; at least one.
  std::vector<std::string> secrets;
  /// hmac-sha256: the signature header. token: the token header ("" with
  /// token_pointer set: the token is in the body).
  std::string header;
  /// hmac-sha256: "hex" or "base64".
  std::string encoding = "hex";
  /// hmac-sha256: a prefix to strip from the header's value ("sha256=").
  std::string prefix;
  /// token: a JSON pointer to the token in the body.
  std::string token_pointer;
  /// hmac-sha256, basic, token: where the request's timestamp is, if anywhere.
  std::string timestamp_header;
  std::string timestamp_pointer;
  /// The replay window: a timestamp older (or newer) than this is stale.
  int64_t tolerance_ms = 300000;
};

/// Checks a configuration: "" when usable, else what is wrong (naming the
/// field, never a secret).
std::string CheckWebhookVerifier(const WebhookVerifier& verifier);

/// Verifies `delivery`. OK when a secret matches inside the window; else
/// kUnauthenticated with a message that starts with the reason and ": "
/// ("missing: no X-HubSpot-Signature-v3 header", "bad_signature: ...",
/// "stale: ...", "malformed: ..."), as Adapter::VerifyWebhook returns it.
Status VerifyWebhookWith(const WebhookVerifier& verifier, const WebhookDelivery& delivery);

/// HubSpot's v3 signature (base64) of a request, for tests and stand-ins.
std::string HubSpotSignatureV3(const std::string& secret, const std::string& method,
                               const std::string& url, const std::string& body,
                               const std::string& timestamp_ms);
/// HubSpot's v2 (hex) and v1 (hex) signatures.
std::string HubSpotSignatureV2(const std::string& secret, const std::string& method,
                               const std::string& url, const std::string& body);
std::string HubSpotSignatureV1(const std::string& secret, const std::string& body);
/// HMAC-SHA256 of `data` under `key`, as lower-case hex or base64.
std::string HmacSha256Hex(const std::string& key, const std::string& data);
std::string HmacSha256Base64(const std::string& key, const std::string& data);

}  // namespace crmsync

#endif  // CRMSYNC_WEBHOOK_VERIFY_H_
