// crmsync/redact.h: masking personal data and secrets in free text.
//
// CRMs quote the values they refuse ("Email address asha@example.com is
// invalid"), and transports may echo URLs or headers. Any such text that ends
// up in a Status message is logged and stored by the engine (dead letters,
// attempt history, the job's last error, audit), so it goes through
// MaskSensitive() first. The engine applies it to every Status a plugin returns;
// DefaultClassify() and ExtractCrmReason() apply it too. A plugin that builds
// messages from CRM text itself may call it directly.
//
// Pure function; thread-safe; linear in the input (a hand-written scanner, no
// std::regex), so bodies of many KB are fine.
#ifndef CRMSYNC_REDACT_H_
#define CRMSYNC_REDACT_H_

#include <string>
#include <vector>

namespace crmsync {

/// Placeholders MaskSensitive() writes in place of what it hides.
inline constexpr char kMaskedEmail[] = "[email]";
inline constexpr char kMaskedPhone[] = "[phone]";
inline constexpr char kMaskedToken[] = "[token]";

/// Returns `text` with personal data and secrets replaced by placeholders; all
/// other text is kept byte for byte, so the message stays readable:
///
///   e-mail address        local@domain (any non-empty local part and domain;
///                         also local%40domain, URL-encoded) -> "[email]"
///   phone number          10 to 15 digits in groups split by single " ", "-",
///                         "." or "(...)" ("+91 98765 43210", "+1 (555) 010-2233",
///                         "555-010-2233"), "+" and 8 to 15 digits, or a bare run of
///                         10 to 12 digits -> "[phone]"
///   credential value      after "Bearer ", "Basic ", "Token ", or after a key
///                         naming a secret (api_key, apikey, token, access_token,
///                         secret, client_secret, password, signature, ...)
///                         followed by "=" or ":" -> the value becomes "[token]",
///                         the key is kept ("api_key=[token]")
///   JWT                   eyJ... three dot-separated base64url parts -> "[token]"
///   opaque string         24 or more of [A-Za-z0-9_+=~-] containing letters and
///                         digits, with a part (between "_"/"-") of 8+ characters
///                         mixing letter case or letters and digits -> "[token]"
///
/// Kept as they are: ordinary words, field and error-code names
/// (INVALID_EMAIL, hs_lead_status_v2), URL paths (/api/v1/leads/crm_2/deals),
/// HTTP statuses and small numbers, ISO dates and timestamps, short ids
/// (crm_12, lead:42), UUIDs (correlation ids) and numbers of 13+ digits
/// without separators (record ids, epoch milliseconds).
///
/// Idempotent: masking masked text changes nothing. Never throws; returns ""
/// only for "" or when memory runs out.
std::string MaskSensitive(const std::string& text) noexcept;

/// Returns `text` with every occurrence of each of `secrets` (values the caller
/// knows are secret: an access token, a configured key) replaced by
/// "[token]". Secrets shorter than 4 bytes are skipped (they would mask
/// ordinary text); the scan resumes after each placeholder, so a secret that
/// occurs inside "[token]" cannot loop. Linear in the text per secret.
std::string MaskSecrets(std::string text, const std::vector<std::string>& secrets);

}  // namespace crmsync

#endif  // CRMSYNC_REDACT_H_
