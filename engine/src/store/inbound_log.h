// store/inbound_log.h: the InboundLog role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_INBOUND_LOG_H_
#define CRMSYNC_ENGINE_STORE_INBOUND_LOG_H_

#include <vector>

#include "sync/inbound_types.h"

namespace crmsync::engine {

/// CRM webhook deliveries: recorded before they are acknowledged, applied in
/// order (sync/inbound_merge.h).
class InboundLog {
 public:
  virtual ~InboundLog() = default;

  /// Persists a verified, parsed delivery before it is acknowledged. Durable
  /// when it returns. False (nothing written) when its id was recorded before.
  /// Its received_ms is raised past that of every pending delivery when needed,
  /// so pending deliveries list in arrival order even within one millisecond.
  virtual bool RecordDelivery(const InboundDelivery& delivery) = 0;

  /// Up to `max` deliveries not yet processed, oldest first.
  virtual std::vector<InboundDelivery> PendingDeliveries(int max) = 0;

  /// Applies a delivery's changes under `rules` and marks it processed, in one
  /// transaction: per change, finds the entity by external id (creating mirror
  /// row and link when the CRM knew it first), ignores it when stale or when it
  /// changes nothing, merges the fields the CRM may change, writes the mirror
  /// (remembering the result, so a platform event that only echoes it is not
  /// sent back), a change-feed entry and the audit log. A delivery processed
  /// before returns no results. A young delivery (kCreateEchoWaitMs) about a
  /// CRM record not linked yet while an outbound job of its kind is in flight
  /// returns one kDeferred result, writes nothing and stays pending.
  virtual std::vector<InboundResult> ApplyDelivery(const InboundDelivery& delivery,
                                                   const InboundRules& rules, int64_t now_ms) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_INBOUND_LOG_H_
