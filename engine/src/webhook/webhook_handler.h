// webhook/webhook_handler.h: POST /api/v1/crm/webhook (docs/design.md §5).
//
// Order: 503 while shutting down; body limit (413); verification (401 without
// detail): the plugin's own scheme first (Adapter::VerifyWebhook, given the
// delivery's method, URL and receive time: OK accepts, kUnauthenticated
// refuses, kNotFound says it has none), then, only when it has none, the
// engine's (Standard Webhooks, X-CRM-Secret); parsing by the plugin (400
// naming the fault); an event the plugin does not map is 202 and ignored; a
// delivery id seen before is 200 with no effect; otherwise the delivery is
// recorded durably and answered 202, and the inbound worker applies it.
// Thread-safe.
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
  /// crm.webhook.url: its scheme, host and port make WebhookDelivery::url
  /// (the URL the CRM signed); "" to take the request's Host header.
  std::string public_url;
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

/// WebhookDelivery::url for a request to `uri` (path and query as received):
/// with `public_url` (crm.webhook.url) set, its scheme://host[:port] and its
/// path (the URL the CRM called, also behind a proxy that rewrites the path),
/// then the request's query; a public URL without a path takes the request's
/// path. Else "http://" + the request's `host` header + `uri`.
std::string WebhookUrl(const std::string& public_url, const std::string& host,
                       const std::string& uri);

/// The metric result of a plugin's kUnauthenticated refusal: "refused_" + the
/// reason its message starts with ("missing", "bad_signature", "stale" or
/// "malformed", then ':'), else "refused_plugin".
std::string PluginRefusalResult(const std::string& message);

/// Width of the window in which identical bodies without an id count as one.
constexpr int64_t kHashDeliveryWindowMs = 10 * 60 * 1000;

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_WEBHOOK_WEBHOOK_HANDLER_H_
