// queue/history.h: what ops read about the queue, for every backend: an
// entity's jobs and audit trail, and the dead letters (a filter's matches, one
// with every attempt of its job). The backend picks the connection (SQLite's
// reader, a PostgreSQL transaction); the rows are read and decoded here.
#ifndef CRMSYNC_ENGINE_QUEUE_HISTORY_H_
#define CRMSYNC_ENGINE_QUEUE_HISTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "queue/queue_types.h"
#include "queue/sql_port.h"

namespace crmsync::engine {

/// The entity's jobs, newest first, at most `limit`.
std::vector<JobInfo> ReadJobs(SqlPort& db, EntityKind kind, const std::string& entity_id,
                              int limit);
/// The entity's audit trail, newest first, at most `limit`.
std::vector<AuditRecord> ReadAudit(SqlPort& db, EntityKind kind, const std::string& entity_id,
                                   int limit);
/// The dead letters matching `filter`, oldest first, at most its limit (100
/// when none is set).
std::vector<DeadLetter> ReadDeadLetters(SqlPort& db, const DeadLetterFilter& filter);
/// One dead letter, replayed or not, with every attempt of its job.
std::optional<DeadLetter> ReadDeadLetter(SqlPort& db, int64_t id);
/// Deletes the dead letters matching `filter` (its limit does not apply);
/// returns how many.
int64_t PurgeMatching(SqlPort& db, const DeadLetterFilter& filter);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_HISTORY_H_
