// inbound/inbound_worker.h: applies recorded webhook deliveries to the
// platform's mirror, one delivery per transaction, in arrival order.
//
// A delivery is durable before its 2xx (webhook_handler); this worker picks it
// up, maps CRM agent ids to dealers, and lets the store merge it under the
// field-ownership rules. A crash between the 2xx and processing loses nothing:
// the delivery stays pending. One thread; Wake() from any thread.
#ifndef CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_
#define CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_

#include <atomic>
#include <functional>
#include <mutex>

#include "common/clock.h"
#include "common/wake_loop.h"
#include "inbound/agent_directory.h"
#include "metrics/metrics.h"
#include "store/inbound_log.h"

namespace crmsync::engine {

class InboundWorker {
 public:
  InboundWorker(InboundLog* store, InboundRules rules, AgentDirectory* agents, Clock* clock,
                MetricsRegistry* metrics);
  ~InboundWorker();
  InboundWorker(const InboundWorker&) = delete;
  InboundWorker& operator=(const InboundWorker&) = delete;

  void Start();
  /// Finishes the delivery in hand and stops.
  void Stop();
  /// A delivery was recorded.
  void Wake();
  /// Called after a change-feed entry is written (wakes the callback sender).
  void OnChange(std::function<void()> callback) { on_change_ = std::move(callback); }

  /// Processes every pending delivery now, on the caller's thread (tests).
  /// Deferred ones (InboundResult::kDeferred) stay pending and are not counted;
  /// the worker's loop tries them again within a second.
  int ProcessPending();

 private:
  void MapAgents(InboundDelivery* delivery);

  InboundLog* store_;
  const InboundRules rules_;
  AgentDirectory* agents_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::function<void()> on_change_;
  std::mutex process_mu_;  // one processing pass at a time
  WakeLoop loop_;  // last: stopped before the members its pass uses
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_INBOUND_WORKER_H_
