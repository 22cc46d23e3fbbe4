// crmsync/classify.h: the default outcome table (DESIGN.md §4).
//
// Pure functions; thread-safe.
#ifndef CRMSYNC_CLASSIFY_H_
#define CRMSYNC_CLASSIFY_H_

#include <cstdint>
#include <string>

#include "crmsync/http.h"
#include "crmsync/status.h"

namespace crmsync {

/// Reads one CRM answer into the engine's decision:
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

/// A short reason from a CRM error body, for dead letters and logs: the first of
/// "message", "error", "reason", "detail" (string or {message}) in a JSON body,
/// else the first 200 bytes of the body with control characters removed.
std::string ExtractCrmReason(const std::string& body) noexcept;

}  // namespace crmsync

#endif  // CRMSYNC_CLASSIFY_H_
