// queue/lease.h: what a lease hands a worker, for every backend.
//
// Each backend takes ready jobs its own way (SQLite: the one writer marks
// them leased; PostgreSQL: FOR UPDATE SKIP LOCKED, or the ids Redis named) and
// returns the leased rows in the columns below. The rule turns them into
// LeasedJobs, highest priority then oldest first, each with its link to the
// CRM record (external id, last sent hash) and, for a lead or inquiry naming a
// propertyId, where that property stands for the plugin (RelatedState: its
// CRM id, or whether the job must wait for it; docs/design.md §4).
#ifndef CRMSYNC_ENGINE_QUEUE_LEASE_H_
#define CRMSYNC_ENGINE_QUEUE_LEASE_H_

#include <string>
#include <vector>

#include "queue/sql_port.h"
#include "queue/queue_types.h"

namespace crmsync::engine {

/// `leased` columns: id, event_id, event_type, entity_kind, entity_id,
/// priority, payload, attempts, plan, step, in_doubt, created_ms, lease_token.
std::vector<LeasedJob> TakeLeased(SqlPort& db, const std::string& plugin, const SqlRows& leased);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_LEASE_H_
