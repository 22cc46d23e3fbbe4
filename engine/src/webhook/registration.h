// webhook/registration.h: registers the engine's webhook URL with the CRM at
// start, through the plugin (the strategy's POST /api/v1/webhooks).
//
// Idempotent across restarts: the fingerprint of what was registered (URL,
// events, a hash of the secret) is kept in the store, and an unchanged
// registration is not sent again. Transient failures are retried on the
// outbound schedule in a background thread; start-up never waits for the CRM.
// Start/Stop from one thread.
#ifndef CRMSYNC_ENGINE_WEBHOOK_REGISTRATION_H_
#define CRMSYNC_ENGINE_WEBHOOK_REGISTRATION_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "dispatch/retry_policy.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "store/sync_states.h"

namespace crmsync::engine {

class WebhookRegistrar {
 public:
  WebhookRegistrar(SyncStates* store, GuardedAdapter* adapter, std::string plugin,
                   WebhookRegistration registration, RetryPolicy policy, Clock* clock,
                   MetricsRegistry* metrics);
  ~WebhookRegistrar();

  void Start();
  void Stop();

  /// One try: OK when registered now or already (then `*skipped`), else the
  /// failure as classified.
  Status RegisterOnce(bool* skipped);

  /// "pending", "registered", "already registered", or "failed: <reason>".
  std::string state() const;

 private:
  void Loop();
  std::string Fingerprint() const;

  SyncStates* store_;
  GuardedAdapter* adapter_;
  std::string plugin_;
  WebhookRegistration registration_;
  RetryPolicy policy_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string state_ = "pending";
  int advance_subscription_ = -1;
  std::thread thread_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_WEBHOOK_REGISTRATION_H_
