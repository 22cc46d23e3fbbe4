// inbound/change_feed.h: how the platform hears about CRM changes.
//
// GET /api/v1/changes?after=<seq>&limit=<n> (intake bearer token) lists inbound
// changes in commit order; the answer's "next" is the cursor for the next
// call. When inbound.callback_url is set, a CallbackSender also POSTs each
// change there, with the outbound retry schedule, and turns one that keeps
// failing into a dead letter (plugin "callback", replayable).
// Handlers are thread-safe; the sender runs one thread.
#ifndef CRMSYNC_ENGINE_INBOUND_CHANGE_FEED_H_
#define CRMSYNC_ENGINE_INBOUND_CHANGE_FEED_H_

#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "common/wake_loop.h"
#include "crmsync/http_transport.h"
#include "dispatch/retry_policy.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "store/change_log.h"

namespace crmsync::engine {

/// The JSON of one change as the feed and the callback show it:
/// {"seq","at","entity":"lead:42","source","deliveryId","crmEvent","fields":{...},"data":{...}}.
std::string ChangeJson(const ChangeRecord& change);

/// Adds GET /api/v1/changes.
void AddChangeFeedRoutes(Router& router, ChangeLog* store, const std::string& token);

class CallbackSender {
 public:
  /// Sends to `url` (http(s); http only to loopback unless `allow_insecure`).
  /// Returns nullptr with `*error` when the URL is unusable.
  static std::unique_ptr<CallbackSender> Create(const std::string& url, bool allow_insecure,
                                                ChangeLog* store, RetryPolicy policy, Clock* clock,
                                                MetricsRegistry* metrics, std::string* error);
  ~CallbackSender();

  void Start();
  void Stop();
  /// New changes may be due.
  void Wake();
  /// Sends what is due now, on the caller's thread (tests).
  int SendDue();

 private:
  CallbackSender() : policy_(1000, 5, false) {}

  std::string path_;
  std::unique_ptr<HttpTransport> transport_;
  ChangeLog* store_ = nullptr;
  RetryPolicy policy_;
  Clock* clock_ = nullptr;
  MetricsRegistry* metrics_ = nullptr;
  std::mutex send_mu_;
  int advance_subscription_ = -1;
  WakeLoop loop_;  // last: stopped before the members its pass uses
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_CHANGE_FEED_H_
