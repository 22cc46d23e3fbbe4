// plugin_host/guarded_adapter.h: the only way engine code calls a plugin.
//
// Every call is wrapped: an exception escaping the plugin becomes a kInternal
// Status (or a transport error for Send) whose message names the plugin and
// the call, and is counted, so a misbehaving plugin never crashes the engine.
// Every Status message a plugin returns (ReadBatch's per-job statuses too) is
// passed through MaskSensitive() (crmsync/redact.h) before the engine logs or
// stores it: plugins quote CRM text, which may hold personal data or secrets.
// Thread-safety: as the wrapped adapter's (after Configure, concurrent calls).
#ifndef CRMSYNC_ENGINE_PLUGIN_HOST_GUARDED_ADAPTER_H_
#define CRMSYNC_ENGINE_PLUGIN_HOST_GUARDED_ADAPTER_H_

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "crmsync/adapter.h"
#include "crmsync/prepare.h"
#include "crmsync/rate_limit.h"
#include "crmsync/records.h"

namespace crmsync::engine {

class GuardedAdapter {
 public:
  /// Wraps `adapter` (not owned) of the plugin called `plugin_name`.
  GuardedAdapter(Adapter* adapter, std::string plugin_name)
      : adapter_(adapter), name_(std::move(plugin_name)) {}

  const std::string& name() const { return name_; }

  /// Info(); on an exception, `*error` is set and a PluginInfo holding only the
  /// name is returned.
  PluginInfo Info(std::string* error = nullptr);
  /// Attach(`host`); kInternal naming the plugin when it throws.
  Status Attach(PluginHost* host);
  Status Configure(const PluginConfig& config);
  Status Plan(const SyncJob& job, std::vector<StepKind>* steps);
  Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out);
  Status ReadResponse(const SyncJob& job, StepKind step, const HttpResponse& response,
                      StepResult* out);
  Status BuildLookup(const SyncJob& job, HttpRequest* out);
  Status ReadLookup(const SyncJob& job, const HttpResponse& response,
                    std::optional<std::string>* external_id);
  Status BuildBatch(const std::vector<SyncJob>& jobs, StepKind step, HttpRequest* out);
  Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind step, const HttpResponse& response,
                   std::vector<Status>* statuses, std::vector<StepResult>* results);
  Status ParseWebhook(const WebhookDelivery& delivery, std::vector<InboundChange>* changes);
  Status BuildWebhookRegistration(const WebhookRegistration& registration, HttpRequest* out);
  /// Send(); an exception becomes a kIo transport error with request_sent = true
  /// (the engine cannot know what reached the CRM).
  HttpResponse Send(const HttpRequest& request);
  /// The request as the plugin's transport would write it (crmsync/prepare.h),
  /// sending nothing. `*supported` is false, and nothing is filled, when the
  /// transport does not implement PreparingTransport (a plugin built before
  /// ABI 2.3).
  Status Prepare(const HttpRequest& request, WireRequest* out, bool* supported);
  Status Classify(const HttpRequest& request, const HttpResponse& response);
  Status VerifyWebhook(const WebhookDelivery& delivery);
  /// Dump(); "{}" when the plugin throws.
  std::string Dump();
  /// The strings of Dump()'s top-level "warnings" array (a configuration that
  /// works but was never checked against the CRM, ...); empty when none.
  std::vector<std::string> Warnings();
  /// Where the CRM's answers state its budget: the sets Dump()'s top-level
  /// "rateLimitHeaders" names (one object, or an array of them;
  /// crmsync/rate_limit.h), in order, then DefaultRateLimitHeaders(). False,
  /// with every problem in *error ("... rateLimitHeaders/<key>: <reason>;
  /// ..."), when any is invalid: the engine does not start on a guess.
  bool BudgetHeaders(std::vector<RateLimitHeaders>* out, std::string* error);
  /// FetchChange(`change`) (ABI 4.0): fills a notification-only change from the CRM.
  Status FetchChange(InboundChange* change);
  /// PollChanges(`request`, `page`) (ABI 4.0): one page of the CRM's changes.
  Status PollChanges(const PollRequest& request, PollPage* page);
  Status ListUsers(std::vector<CrmUser>* users);

  // --- RecordReader (ABI 4.1, crmsync/records.h), for reconcile ------------
  /// True when the plugin implements RecordReader.
  bool ReadsRecords();
  /// ListRecords / ReadRecord; kNotFound when the plugin does not implement
  /// RecordReader (as for a kind it cannot list).
  Status ListRecords(const RecordListRequest& request, RecordListPage* page);
  Status ReadRecord(EntityKind kind, const std::string& external_id, CrmRecord* record);

  /// How many plugin calls threw so far.
  int64_t exceptions() const { return exceptions_.load(); }

 private:
  template <typename F>
  Status Guard(const char* call, F&& f);
  /// Dump() as a JSON object; nullptr when it is not one.
  Poco::JSON::Object::Ptr DumpObject();
  std::string ThrewMessage(const char* call, const char* what) const;

  Adapter* adapter_;
  std::string name_;
  std::atomic<int64_t> exceptions_{0};
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_PLUGIN_HOST_GUARDED_ADAPTER_H_
