// fault_script.h: the mock CRM's scripted failures and latency.
//
// Settings (as the engine passes them: `crm.mock-crm.<key>` arrives as `<key>`):
//   faults.<route>      comma-separated tokens, one consumed per request on that
//                       route ("500, 429:retry-after=2, timeout, ok, 401")
//   faults.*            the script for every route that has no script of its own;
//                       each such route plays its own copy from the start
//   latency_ms          whole milliseconds added to every call (default 0)
//   latency_ms.<route>  the same for one route, replacing latency_ms there
// Tokens:
//   <status>[:retry-after=<s>]  answer that HTTP status (100-599) with a JSON
//                               {"message"} body, without applying the request;
//                               optionally with a Retry-After header of s seconds
//   ok        apply normally
//   timeout   apply, then lose the answer (kTimeout, request_sent)
//   drop      do not apply, then time out (kTimeout, request_sent)
//   connect   connection refused (kConnect, nothing sent, not applied)
//   reset     connection reset after sending (kIo, request_sent, not applied)
// When a route's script is used up, its requests pass normally.
//
// Thread-safety: Configure() is called once before use; Next() and LatencyMs()
// may then be called from any thread (a mutex guards the scripts' positions).
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_FAULT_SCRIPT_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_FAULT_SCRIPT_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "crmsync/plugin_config.h"
#include "crmsync/status.h"

namespace crmsync::mockcrm {

/// One scripted behaviour for one request.
struct Fault {
  enum class Kind {
    kPass,     ///< "ok", or the script is used up: apply normally.
    kStatus,   ///< Answer `status` without applying.
    kTimeout,  ///< Apply, then time out.
    kDrop,     ///< Do not apply, then time out.
    kConnect,  ///< Refuse the connection.
    kReset,    ///< Break the connection after sending.
  };
  Kind kind = Kind::kPass;
  int status = 0;              ///< For kStatus.
  int64_t retry_after_s = -1;  ///< For kStatus: Retry-After seconds, -1 for none.
};

/// Parses one script. `key` is only used in error messages. kInvalidConfig
/// ("<key>: unknown token '<token>'") on the first bad token.
Status ParseFaultScript(const std::string& key, const std::string& text, std::vector<Fault>* out);

/// The scripts of all routes and where each has got to.
class FaultScript {
 public:
  FaultScript() = default;
  FaultScript(const FaultScript&) = delete;
  FaultScript& operator=(const FaultScript&) = delete;

  /// Reads every faults.* and latency_ms* key of `config`, replacing any earlier
  /// scripts. kInvalidConfig naming the key and the bad token or value; on error
  /// the previous scripts are kept.
  Status Configure(const PluginConfig& config);

  /// Consumes and returns the next fault for `route`: from its own script when it
  /// has one, else from its own copy of the "*" script; kPass when used up.
  Fault Next(const std::string& route);

  /// The latency for `route` in milliseconds (its own, else latency_ms, else 0).
  int64_t LatencyMs(const std::string& route) const;

 private:
  struct Script {
    std::vector<Fault> faults;
    size_t next = 0;
  };

  mutable std::mutex mutex_;
  // By route; "*" is the fallback, copied for a route on its first request.
  std::map<std::string, Script> scripts_;
  int64_t latency_ms_ = 0;
  std::map<std::string, int64_t> route_latency_ms_;
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_FAULT_SCRIPT_H_
