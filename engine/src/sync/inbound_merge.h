// sync/inbound_merge.h: the inbound merge and field ownership rules, for
// every backend.
//
// A CRM webhook delivery, recorded and still pending, is applied change by
// change inside the backend's transaction:
//   - a young delivery about a CRM record we have no link for waits (deferred)
//     while one of our creates may be in flight: its answer is the link;
//   - each change finds its entity by the link, or creates one the CRM knew
//     first; fields that are not a JSON object are invalid;
//   - a change older than ours is stale; the fields the CRM may change are
//     merged (InboundRules: field ownership); a late echo of an earlier state
//     we sent, or nothing changed, is no change;
//   - the merged record must meet the wire contract, then the mirror, its
//     inbound hash (outbound echo check) and the change feed row are written;
//   - per event (InboundChange::event_ids): a change whose every CRM event was
//     applied before, from any delivery or poll, is a duplicate and writes only
//     an audit line; the event ids of every other change are remembered (table
//     inbound_events) whatever its outcome, but invalid (so the event applies
//     once the fault is mended);
//   - every outcome is audited, the changes the worker dropped
//     (InboundDelivery::dropped) too, and the delivery is finished with a summary.
// The backend holds the inbound lock (or is the only writer); the entity's
// lock is taken through the port.
#ifndef CRMSYNC_ENGINE_SYNC_INBOUND_MERGE_H_
#define CRMSYNC_ENGINE_SYNC_INBOUND_MERGE_H_

#include <cstdint>
#include <vector>

#include "queue/sql_port.h"
#include "sync/inbound_types.h"

namespace crmsync::engine {

/// Records a verified delivery as pending; false (nothing written) when its
/// id was recorded before. Its received_ms is raised past that of every
/// pending delivery, so pending ones list in arrival order even within one
/// millisecond. The backend lets one recorder in at a time.
bool RecordPendingDelivery(SqlPort& db, const InboundDelivery& delivery);

/// Applies `delivery` as above; no results when it is not pending any more.
std::vector<InboundResult> ApplyInboundDelivery(SqlPort& db, const InboundDelivery& delivery,
                                                const InboundRules& rules, int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_INBOUND_MERGE_H_
