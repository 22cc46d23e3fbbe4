// webhook/webhook_handler.h: POST /api/v1/crm/webhook (docs/design.md §5).
//
// Order: 503 while shutting down; body limit (413); verification by the
// Standard Webhooks scheme, the X-CRM-Secret header, or the plugin's own
// scheme (401 without detail); parsing by the plugin (400 naming the fault);
// an event the plugin does not map is 202 and ignored; a delivery id seen
// before is 200 with no effect; otherwise the delivery is recorded durably and
// answered 202, and the inbound worker applies it. Thread-safe.
#ifndef CRMSYNC_ENGINE_WEBHOOK_WEBHOOK_HANDLER_H_
#define CRMSYNC_ENGINE_WEBHOOK_WEBHOOK_HANDLER_H_

#include <atomic>
#include <functional>
#include <string>

#include "common/clock.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "store/inbound_log.h"
#include "webhook/verify.h"

namespace crmsync::engine {

struct WebhookContext {
  InboundLog* store = nullptr;
  GuardedAdapter* adapter = nullptr;
  std::string plugin;
  Clock* clock = nullptr;
  MetricsRegistry* metrics = nullptr;
  WebhookSecrets secrets;
  int64_t tolerance_s = 300;
  const std::atomic<bool>* shutting_down = nullptr;
  std::function<void()> on_recorded;  ///< Wakes the inbound worker.
};

void AddWebhookRoutes(Router& router, WebhookContext context);

/// The delivery id of a webhook: webhook-id, X-CRM-Delivery, X-Request-Id, or
/// else a hash of the event header and the body within a 10-minute window at
/// `now_ms`: an exact resend soon after is a repeat, while the same change made
/// again later (status A, B, then A again) is not dropped. CRMs that can send a
/// delivery id should: only then is every resend recognised.
std::string DeliveryId(const HeaderList& headers, const std::string& body, int64_t now_ms = 0);

/// Width of the window in which identical bodies without an id count as one.
constexpr int64_t kHashDeliveryWindowMs = 10 * 60 * 1000;

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_WEBHOOK_WEBHOOK_HANDLER_H_
