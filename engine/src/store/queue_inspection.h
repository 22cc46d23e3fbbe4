// store/queue_inspection.h: the QueueInspection role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_QUEUE_INSPECTION_H_
#define CRMSYNC_ENGINE_STORE_QUEUE_INSPECTION_H_

#include <optional>
#include <string>
#include <vector>

#include "queue/queue_types.h"

namespace crmsync::engine {

/// Ops reads: queue counts, an entity's jobs, audit trail and mirror.
class QueueInspection {
 public:
  virtual ~QueueInspection() = default;

  virtual QueueStats Stats() = 0;

  /// The jobs of one entity, newest first (at most `limit`).
  virtual std::vector<JobInfo> JobsForEntity(EntityKind kind, const std::string& entity_id,
                                             int limit) = 0;

  /// The audit trail of one entity, newest first (at most `limit`).
  virtual std::vector<AuditRecord> AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                  int limit) = 0;

  /// The mirror row of an entity in wire form, when present.
  virtual std::optional<std::string> GetMirror(EntityKind kind, const std::string& entity_id) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_QUEUE_INSPECTION_H_
