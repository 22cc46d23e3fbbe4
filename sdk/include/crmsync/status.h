// crmsync/status.h: the value every SDK call returns across the plugin seam.
//
// A Status carries the engine's decision, not just success or failure: the
// code says what the engine does next with the job (see kDecision below).
// Statuses are plain values; copying is cheap and thread-safe.
#ifndef CRMSYNC_STATUS_H_
#define CRMSYNC_STATUS_H_

#include <cstdint>
#include <string>

namespace crmsync {

/// What happened, phrased as what the engine must do next.
enum class StatusCode : int {
  kOk = 0,               ///< Done. For a CRM call: store what the response gave.
  kRetryable = 1,        ///< Transient (network, timeout, 408, 5xx): retry with backoff;
                         ///< uses up one attempt. retry_after_ms() may ask for a minimum wait.
  kRateLimited = 2,      ///< 429: wait retry_after_ms(), slow the whole plugin; no attempt used.
  kUnauthenticated = 3,  ///< 401/403: disable sync for the plugin and alert; the job waits.
  kNotFound = 4,         ///< 404: on an update, the external id is stale: drop it, create.
  kConflict = 5,         ///< 409: the record exists; look it up by reference and link it.
  kInvalidRecord = 6,    ///< 400/410/422: the CRM refuses this record; dead letter at once.
  kPermanent = 7,        ///< Any other failure a retry cannot fix; dead letter at once.
  kInvalidConfig = 8,    ///< configure() refuses its settings; the engine does not start.
  kInternal = 9,         ///< A bug or an exception inside a plugin; retried with backoff.
};

/// The stable lower-case name of a code ("ok", "retryable", ...), used in logs,
/// metrics labels and the dead-letter table.
const char* StatusCodeName(StatusCode code) noexcept;

/// A code and a short human message (never a payload or a secret), plus for
/// kRetryable and kRateLimited an optional minimum wait in milliseconds.
class Status {
 public:
  /// An OK status.
  Status() noexcept = default;
  Status(StatusCode code, std::string message, int64_t retry_after_ms = -1)
      : code_(code), message_(std::move(message)), retry_after_ms_(retry_after_ms) {}

  static Status Ok() { return Status(); }
  static Status Retryable(std::string msg, int64_t retry_after_ms = -1) {
    return Status(StatusCode::kRetryable, std::move(msg), retry_after_ms);
  }
  static Status RateLimited(std::string msg, int64_t retry_after_ms) {
    return Status(StatusCode::kRateLimited, std::move(msg), retry_after_ms);
  }
  static Status Unauthenticated(std::string msg) {
    return Status(StatusCode::kUnauthenticated, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Conflict(std::string msg) { return Status(StatusCode::kConflict, std::move(msg)); }
  static Status InvalidRecord(std::string msg) {
    return Status(StatusCode::kInvalidRecord, std::move(msg));
  }
  static Status Permanent(std::string msg) {
    return Status(StatusCode::kPermanent, std::move(msg));
  }
  static Status InvalidConfig(std::string msg) {
    return Status(StatusCode::kInvalidConfig, std::move(msg));
  }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  /// True when code() is kOk.
  bool ok() const noexcept { return code_ == StatusCode::kOk; }
  StatusCode code() const noexcept { return code_; }
  /// The message given at construction; empty for OK.
  const std::string& message() const noexcept { return message_; }
  /// Minimum wait before the next try in milliseconds, or -1 when none was asked.
  int64_t retry_after_ms() const noexcept { return retry_after_ms_; }
  /// True for the codes the engine retries later (kRetryable, kRateLimited, kInternal).
  bool IsTransient() const noexcept {
    return code_ == StatusCode::kRetryable || code_ == StatusCode::kRateLimited ||
           code_ == StatusCode::kInternal;
  }
  /// "ok" or "<code name>: <message>".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int64_t retry_after_ms_ = -1;
};

}  // namespace crmsync

#endif  // CRMSYNC_STATUS_H_
