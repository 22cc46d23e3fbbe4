// queue/accept.h: the accept rule, for every backend.
//
// An accepted event becomes, inside the caller's transaction:
//   - nothing new, when its event_id was seen (the original job is returned);
//   - a recorded event and no job, when it is stale (older than every field it
//     carries) or an echo of what the CRM last set (no sync loop); inquiries
//     are new facts and always go on;
//   - else the entity's mirror merged with its patch (in event order), the
//     inquiry row for inquiry.submitted, and a job: the entity's newest
//     untried upsert absorbs it (coalescing), or a new job is queued behind
//     the entity's unfinished one (ordering), ready when there is none.
// The backend holds the entity's lock (or is the only writer).
#ifndef CRMSYNC_ENGINE_QUEUE_ACCEPT_H_
#define CRMSYNC_ENGINE_QUEUE_ACCEPT_H_

#include <cstdint>
#include <string>

#include "queue/queue_types.h"
#include "queue/sql_port.h"

namespace crmsync::engine {

/// Writes `event` as above and fills `*result`. Throws StoreError.
void AcceptEvent(SqlPort& db, const IncomingEvent& event, int64_t now_ms, AcceptResult* result);

/// A job to queue for an entity (intake, dead-letter replay).
struct NewJob {
  std::string event_id;
  std::string event_type;
  std::string kind;  ///< "lead", "property"
  std::string entity_id;
  int priority = 1;
  std::string payload;
  bool coalescable = false;
};

/// Inserts `job` behind the entity's unfinished job (queued), or ready when it
/// has none; returns its id. The caller holds the entity's lock.
int64_t QueueJob(SqlPort& db, const NewJob& job, int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_ACCEPT_H_
