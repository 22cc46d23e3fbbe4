// crmsync/rate_limit.h: a CRM's request budget, as its answers' headers state it.
//
// Many CRMs say in every answer how many requests are left in the current
// budget and when it refills: `X-RateLimit-Remaining` / `X-RateLimit-Reset`,
// the IETF `RateLimit-Remaining` / `RateLimit-Reset` (or one structured
// `RateLimit` header), HubSpot's `X-HubSpot-RateLimit-Remaining` /
// `X-HubSpot-RateLimit-Interval-Milliseconds`, Salesforce's
// `Sforce-Limit-Info: api-usage=18/5000`. The engine reads them from every
// answer itself (no plugin call): when the budget is nearly spent it spreads
// what is left over the time until the reset instead of running into 429s, and
// when nothing is left it waits for the reset.
//
// The engine knows the names above (DefaultRateLimitHeaders()). A plugin whose
// CRM uses other names, or whose reset needs another reading, names them in its
// Dump()'s top-level "rateLimitHeaders" object (RateLimitHeadersJson() writes
// one); the engine reads it once after Configure(), tries it before the
// defaults, and refuses to start when it is not valid
// (ParseRateLimitHeaders()).
//
// Added in ABI 2.1. Pure functions of their arguments; thread-safe; nothing
// here throws.
#ifndef CRMSYNC_RATE_LIMIT_H_
#define CRMSYNC_RATE_LIMIT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/http.h"

namespace crmsync {

/// How a reset header's value says when the budget refills.
enum class RateLimitReset {
  kAuto,          ///< "auto": seconds from now, or Unix seconds when >= 1,000,000,000
  kSeconds,       ///< "seconds": seconds from now (decimals allowed)
  kMilliseconds,  ///< "milliseconds": milliseconds from now
  kUnixSeconds,   ///< "unixSeconds": the Unix time of the reset, in seconds
  kUnixMilliseconds,      ///< "unixMilliseconds": the same in milliseconds
  kIntervalSeconds,       ///< "intervalSeconds": the budget window's length (at most this long)
  kIntervalMilliseconds,  ///< "intervalMilliseconds": the same in milliseconds (HubSpot)
};

/// The name of `format` as ParseRateLimitHeaders() reads it ("intervalMilliseconds").
const char* RateLimitResetName(RateLimitReset format) noexcept;

/// Where one CRM states its budget. Exactly one of remaining_header,
/// usage_header and structured_header is set.
struct RateLimitHeaders {
  /// A header holding the requests left, a whole number ("X-RateLimit-Remaining").
  std::string remaining_header;
  /// With remaining_header: a header saying when the budget refills
  /// ("X-RateLimit-Reset"), read as reset_format.
  std::string reset_header;
  RateLimitReset reset_format = RateLimitReset::kAuto;
  /// A header holding "<used>/<limit>" instead ("Sforce-Limit-Info").
  std::string usage_header;
  /// With usage_header: the key in front of used/limit ("api-usage" in
  /// "api-usage=18/5000"); "" takes the first used/limit of the value.
  std::string usage_key;
  /// A header in the IETF structured form, holding both the requests left and
  /// the seconds until the reset: `"default";r=50;t=30` or
  /// `limit=100, remaining=50, reset=30` ("RateLimit").
  std::string structured_header;
  /// The budget's window in milliseconds, taken as the time left when no
  /// reset is given (Salesforce's daily limit: 86,400,000); 0 for none.
  int64_t window_ms = 0;
};

/// What one answer says about the budget.
struct RateLimitBudget {
  /// Requests left before the reset (>= 0).
  int64_t remaining = 0;
  /// Milliseconds until the budget refills (>= 0; 0 when the reset has
  /// passed). For interval formats and window_ms, an upper bound.
  int64_t reset_in_ms = 0;
};

/// The sets the engine reads, in this order, after any the plugin names:
/// `RateLimit` (structured); `RateLimit-Remaining` + `RateLimit-Reset`
/// (seconds); `X-RateLimit-Remaining` + `X-RateLimit-Reset` (auto);
/// `X-HubSpot-RateLimit-Remaining` + `X-HubSpot-RateLimit-Interval-Milliseconds`
/// (intervalMilliseconds); `Sforce-Limit-Info` (usage, key `api-usage`,
/// window 24 h).
const std::vector<RateLimitHeaders>& DefaultRateLimitHeaders();

/// Reads a "rateLimitHeaders" JSON object (the text of one):
///   {"remainingHeader": "X-Acme-Left", "resetHeader": "X-Acme-Reset",
///    "resetFormat": "unixSeconds"}
///   {"usageHeader": "Sforce-Limit-Info", "usageKey": "api-usage", "windowSeconds": 86400}
///   {"structuredHeader": "RateLimit"}
/// resetFormat is one of the names of RateLimitReset (default "auto");
/// windowSeconds a whole number from 1 to 2,678,400 (31 days). Every problem
/// is appended to *problems as (key, reason), key "" for the object itself:
/// not JSON or not an object, an unknown key, a header name that is not an
/// HTTP token, none or several of the three kinds named, resetHeader /
/// resetFormat / usageKey without the header they belong to, an unknown
/// resetFormat, a bad windowSeconds, and remainingHeader without resetHeader
/// or windowSeconds (when the budget refills would be unknown). Returns true
/// and fills *out when there is none.
bool ParseRateLimitHeaders(const std::string& json, RateLimitHeaders* out,
                           std::vector<std::pair<std::string, std::string>>* problems) noexcept;

/// The JSON object text of `headers`, as ParseRateLimitHeaders() reads it.
std::string RateLimitHeadersJson(const RateLimitHeaders& headers);

/// Reads the budget from `response` with the first set in `sets` whose
/// header (remaining, usage or structured) the answer carries. True with *out
/// set when it reads; false when no set's header is present (*problem empty),
/// or when the values cannot be read (*problem says which header, what it
/// holds, masked and shortened, and why: a count that is not a whole number, a
/// negative reset, a used/limit that is not one, no reset at all). `now_unix_ms`
/// turns Unix reset times into a wait.
bool ReadRateLimitBudget(const HttpResponse& response, const std::vector<RateLimitHeaders>& sets,
                         int64_t now_unix_ms, RateLimitBudget* out, std::string* problem) noexcept;

}  // namespace crmsync

#endif  // CRMSYNC_RATE_LIMIT_H_
