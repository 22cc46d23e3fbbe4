// conformance/battery.h: the checks of `crmsync plugin-check` that run against
// a loaded, configured plugin: mapping of every event type and lead status,
// the status table both ways, classification of every outcome row, webhook
// parsing and verification, and the batch round trip.
//
// Every call goes through the GuardedAdapter; the transport is never called
// (Send is not used), so nothing reaches a network. Each check returns PASS or
// FAIL with a reason naming the first problems, or SKIP when the behaviour is
// not observable for this plugin. Called from one thread.
#ifndef CRMSYNC_ENGINE_CONFORMANCE_BATTERY_H_
#define CRMSYNC_ENGINE_CONFORMANCE_BATTERY_H_

#include <string>
#include <vector>

#include "conformance/report.h"
#include "crmsync/adapter.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine::conformance {

/// What the checks share: the guarded plugin, its capabilities after
/// Configure(), and the messages of calls that threw (for "no exception escapes").
struct BatteryContext {
  GuardedAdapter* adapter = nullptr;
  Capabilities capabilities;
  std::vector<std::string>* thrown = nullptr;

  /// Returns `s`, noting its message in `thrown` when it is an exception the
  /// guard caught.
  Status Note(Status s) const;
};

/// Problems found by one check; the reason names the first few.
class Problems {
 public:
  void Add(std::string problem) { items_.push_back(std::move(problem)); }
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  /// "a; b; c; and 4 more".
  std::string Summary(size_t max_items = 3) const;

 private:
  std::vector<std::string> items_;
};

/// What is wrong with a request mapping built ("" when nothing): a method, a
/// path starting with '/', a JSON body when the content type says JSON.
std::string RequestProblem(const HttpRequest& request);

/// "maps every event type": Plan + BuildRequest for every event type and lead
/// (or property) status, linked and not; BuildLookup when lookup_by_reference.
CheckResult CheckMapsEvents(const BatteryContext& context);
/// "status table complete both ways": every lead status reaches the update body
/// as a distinct non-empty CRM value, and a webhook carrying that value maps
/// back to the same status (SKIP when webhooks give no status).
CheckResult CheckStatusTable(const BatteryContext& context);
/// "classification": every outcome row (fixtures.h) through Adapter::Classify.
CheckResult CheckClassification(const BatteryContext& context);
/// "webhook parse and verification": malformed body -> invalid_record with a
/// message; unknown event -> OK, no change; VerifyWebhook only ok /
/// unauthenticated / not_found; BuildWebhookRegistration when declared.
CheckResult CheckWebhooks(const BatteryContext& context);
/// "batch round trip": when max_batch_size > 1, BuildBatch of 3 jobs is one
/// request and ReadBatch of a 503 and of an unreadable 200 report errors.
CheckResult CheckBatch(const BatteryContext& context);

}  // namespace crmsync::engine::conformance

#endif  // CRMSYNC_ENGINE_CONFORMANCE_BATTERY_H_
