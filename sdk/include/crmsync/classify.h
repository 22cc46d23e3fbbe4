// crmsync/classify.h: the default outcome table (docs/design.md §4).
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_CLASSIFY_H_
#define CRMSYNC_CLASSIFY_H_

#include <cstdint>
#include <string>

#include "crmsync/http.h"
#include "crmsync/status.h"

namespace crmsync {

/// Reads one CRM answer into the engine's decision (the message is
/// "HTTP <status>: <ExtractCrmReason(body)>", or the transport error, masked):
///   transport error (connect, timeout, I/O, TLS), 408   kRetryable
///   2xx                                                  kOk
///   401, 403                                             kUnauthenticated
///   404                                                  kNotFound
///   409                                                  kConflict
///   400, 410, 422                                        kInvalidRecord (CRM's reason kept)
///   429                                                  kRateLimited, wait from Retry-After
///   5xx                                                  kRetryable (Retry-After honoured)
///   1xx, 3xx, other 4xx                                  kPermanent
/// `now_unix_ms` is the current time, used to turn a Retry-After HTTP date into a
/// wait. A 429 without a readable Retry-After waits kDefaultRateLimitWaitMs.
Status DefaultClassify(const HttpResponse& response, int64_t now_unix_ms) noexcept;

/// DefaultClassify() at the system clock's now.
Status DefaultClassify(const HttpResponse& response) noexcept;

/// Wait for a 429 that gives no usable Retry-After.
constexpr int64_t kDefaultRateLimitWaitMs = 1000;

/// Parses a Retry-After value: delta seconds ("120") or an HTTP date
/// ("Wed, 21 Oct 2015 07:28:00 GMT"). Returns the wait in milliseconds (never
/// negative), or -1 when the value is neither.
int64_t ParseRetryAfterMs(const std::string& value, int64_t now_unix_ms) noexcept;

/// A short reason from a CRM error body, for dead letters and logs, with
/// personal data and secrets masked (MaskSensitive(), crmsync/redact.h) and at
/// most 400 bytes, control characters removed.
///
/// When the body lists per-field errors, the reason keeps each of them as
/// "<field>: <message> (<code>)", joined by "; " (field and code left out
/// where the CRM gives none). Recognised shapes: a top-level array of
/// {message, errorCode, fields} (Salesforce); "data" (Zoho: {code, message,
/// details.api_name}; items with status "success" are skipped); "errors"
/// (HubSpot and others: {message, code, context.propertyName}, or plain
/// strings, or an object of field -> message(s) as Rails-style APIs send); HubSpot's
/// "failureMessages" ({propertyValidationResult} or {error}) and the JSON list
/// inside its "Property values were not valid: [...]" message ({message,
/// error, name}); a body that itself names a field (details.api_name, ...).
/// Example: "email: Email address [email] is invalid (INVALID_EMAIL)".
///
/// Otherwise the first of "message", "error", "reason", "detail" (string or
/// {message}) in a JSON object, else the start of the body itself.
std::string ExtractCrmReason(const std::string& body) noexcept;

}  // namespace crmsync

#endif  // CRMSYNC_CLASSIFY_H_
