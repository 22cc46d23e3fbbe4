// queue/complete.h: the outcome transitions, for every backend.
//
// A worker's outcome for a leased job, inside the caller's transaction:
//   - a lease that is no longer the job's current one (it expired and was
//     taken again) changes nothing;
//   - every attempt made is recorded; a link to the CRM record is written
//     when the outcome carries one;
//   - done: state done, what was sent remembered (inbound echo check),
//     audited, and the entity's next queued job made ready;
//   - dead letter: state dead, a dead letter with the reason, audited, and
//     the entity's next job made ready;
//   - retry or release: ready when due, else delayed until available_at_ms.
// The backend holds the entities' locks (or is the only writer).
#ifndef CRMSYNC_ENGINE_QUEUE_COMPLETE_H_
#define CRMSYNC_ENGINE_QUEUE_COMPLETE_H_

#include <cstdint>
#include <string>

#include "queue/sql_port.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Records `outcome` of a job leased for `plugin`, as above. Throws StoreError.
void RecordOutcome(SqlPort& db, const std::string& plugin, const JobOutcome& outcome,
                   int64_t now_ms);

/// Makes the entity's oldest queued job ready, if it has one.
void MakeNextReady(SqlPort& db, const std::string& kind, const std::string& entity_id,
                   int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_COMPLETE_H_
