// Status names and formatting.
#include "crmsync/status.h"

namespace crmsync {

const char* StatusCodeName(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kRetryable: return "retryable";
    case StatusCode::kRateLimited: return "rate_limited";
    case StatusCode::kUnauthenticated: return "unauthenticated";
    case StatusCode::kNotFound: return "not_found";
    case StatusCode::kConflict: return "conflict";
    case StatusCode::kInvalidRecord: return "invalid_record";
    case StatusCode::kPermanent: return "permanent";
    case StatusCode::kInvalidConfig: return "invalid_config";
    case StatusCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out = StatusCodeName(code_);
  if (!message_.empty()) out += ": " + message_;
  return out;
}

}  // namespace crmsync
