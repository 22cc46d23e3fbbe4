// sync/inbound_reads.h: the inbound side's reads, for every backend: the
// deliveries still pending, and the change feed after a seq. The backend picks
// the connection; the rows are read and decoded here.
#ifndef CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_
#define CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_

#include <cstdint>
#include <vector>

#include "queue/sql_port.h"
#include "sync/inbound_types.h"

namespace crmsync::engine {

/// Up to `max` deliveries not yet processed, oldest first.
std::vector<InboundDelivery> ReadPendingDeliveries(SqlPort& db, int max);
/// Change-feed entries with seq > `after_seq`, oldest first, at most `limit`.
std::vector<ChangeRecord> ReadChanges(SqlPort& db, int64_t after_seq, int limit);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_
