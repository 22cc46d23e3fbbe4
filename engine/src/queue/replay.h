// queue/replay.h: the dead-letter replay rule, for every backend.
//
// Replaying a dead letter that is still open:
//   - a change-feed callback that gave up (its job_id holds -seq) is queued
//     to be sent again;
//   - a job is queued anew, with the entity as the platform holds it now and
//     the event's extras as they were, behind the entity's unfinished job;
// and the dead letter is marked replayed (with the new job), audited.
// The backend chose the targets and holds their entities' locks.
#ifndef CRMSYNC_ENGINE_QUEUE_REPLAY_H_
#define CRMSYNC_ENGINE_QUEUE_REPLAY_H_

#include <cstdint>
#include <optional>

#include "queue/sql_port.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// Replays `letter`: the new job's id, 0 for a callback, nothing when the
/// letter was replayed or purged since it was listed (or its job is gone).
std::optional<int64_t> ReplayDeadLetter(SqlPort& db, const DeadLetter& letter, int64_t now_ms);

/// Writes an audit row for an entity's job.
void AuditJob(SqlPort& db, int64_t now_ms, const std::string& kind, const std::string& entity_id,
              int64_t job_id, const std::string& action, const std::string& detail);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_REPLAY_H_
