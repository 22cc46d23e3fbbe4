// webhook_emitter.h: mock-crm's outgoing webhooks, so the engine's two-way flow
// (docs/design.md §5) can be tried with the default plugin.
//
// Settings (`crm.mock-crm.<key>` arrives as `<key>`; the last two come from
// CRM_WEBHOOK_URL / CRM_WEBHOOK_SECRET):
//   emit_webhooks   true/false (default false)
//   webhook_url     where to POST; plain http:// only (the engine's own
//                   /api/v1/crm/webhook, usually on loopback)
//   webhook_secret  sent as X-CRM-Secret
// With emit_webhooks true and webhook_url set, every lead or property create or
// update the CRM applies (not activities, deals, registrations, reads or refused
// requests) is POSTed, like the reference CRM does, as
//   X-CRM-Secret: <webhook_secret>
//   X-CRM-Event: lead.created | lead.updated | property.created | property.updated
//   X-CRM-Delivery: mock-<emitter start ms>-<n>   (unique per emission)
//   {"event", "entityId": <CRM id>, "data": {<the record as the CRM now holds
//    it, in the CRM's vocabulary: status "won", assignedAgent, budgetRange...>}}
//
// Sending is done by ONE background thread from a queue, in the order the
// changes were applied: Enqueue() never blocks on the network, so a transport
// Send() is never slowed or failed by a webhook. Each webhook is tried once;
// its answer's status (0 for no answer: refused, timed out, unreadable) is
// counted and shown in Dump() as "webhooksSent": {"202": n, "0": m}. Nothing is
// retried and nothing is journaled: emission is not CRM state. Webhooks still
// queued when the emitter is destroyed are dropped. The queue holds at most
// kMaxQueued webhooks; beyond that they are dropped and counted as "dropped".
//
// Thread-safety: every method may be called from any thread.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_WEBHOOK_EMITTER_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_WEBHOOK_EMITTER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <Poco/JSON/Object.h>

#include "crmsync/plugin_config.h"
#include "crmsync/status.h"

namespace crmsync::mockcrm {

/// The setting that turns emission on.
constexpr char kEmitWebhooksKey[] = "emit_webhooks";

class WebhookEmitter {
 public:
  /// Webhooks waiting to be sent, at most.
  static constexpr size_t kMaxQueued = 10000;
  /// Connect, send and receive timeout of one POST.
  static constexpr int64_t kTimeoutMs = 5000;

  WebhookEmitter();
  ~WebhookEmitter();  ///< Stops the sender after the POST in flight, if any.
  WebhookEmitter(const WebhookEmitter&) = delete;
  WebhookEmitter& operator=(const WebhookEmitter&) = delete;

  /// Reads emit_webhooks, webhook_url and webhook_secret. kInvalidConfig naming
  /// the key when emit_webhooks is not a boolean, or when emission is on and
  /// webhook_url is not an http:// URL. May be called again; the new settings
  /// apply to webhooks enqueued afterwards.
  Status Configure(const PluginConfig& config);

  /// True when emission is on and a URL is set.
  bool enabled() const;

  /// Queues one webhook about record `entity_id` (`kind` "lead" or "property",
  /// `action` "created" or "updated") whose fields are `data`, serialised now.
  /// Does nothing when not enabled(). Never blocks on the network.
  void Enqueue(const std::string& kind, const std::string& action, const std::string& entity_id,
               const Poco::JSON::Object::Ptr& data);

  /// {"<status>": count, ...} of the webhooks tried so far ("0": no answer,
  /// "dropped": queue full).
  Poco::JSON::Object::Ptr Results() const;
  /// Webhooks queued or being sent.
  int64_t Pending() const;

 private:
  struct Outgoing {
    std::string url;
    std::string secret;
    std::string event;
    std::string delivery_id;
    std::string body;
  };

  void Loop();
  // POSTs one webhook; the answer's status, 0 when there is none.
  static int Post(const Outgoing& webhook);

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool emit_ = false;
  std::string url_;
  std::string secret_;
  std::deque<Outgoing> queue_;
  bool sending_ = false;  // A POST is in flight.
  bool stopping_ = false;
  std::map<std::string, int64_t> results_;
  const int64_t start_ms_;
  int64_t sequence_ = 0;
  std::thread sender_;  // Started by the first Enqueue() that queues something.
};

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_WEBHOOK_EMITTER_H_
