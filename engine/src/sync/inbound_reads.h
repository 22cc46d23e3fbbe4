// sync/inbound_reads.h: the inbound side's reads, for every backend: the
// deliveries still pending, and the change feed after a seq; and the record of
// a change's callback try. The backend picks
// the connection; the rows are read and decoded here.
#ifndef CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_
#define CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "queue/sql_port.h"
#include "sync/inbound_types.h"

namespace crmsync::engine {

/// Up to `max` deliveries not yet processed, oldest first.
std::vector<InboundDelivery> ReadPendingDeliveries(SqlPort& db, int max);
/// Change-feed entries with seq > `after_seq`, oldest first, at most `limit`.
std::vector<ChangeRecord> ReadChanges(SqlPort& db, int64_t after_seq, int limit);

/// Records a callback try of change `seq`: done, pending again at
/// `retry_at_ms`, or dead, when a dead letter of plugin "callback" (job_id
/// -seq, replayed by queue/replay.cpp) is written too.
void RecordCallbackTry(SqlPort& db, int64_t seq, bool delivered, int attempts,
                       int64_t retry_at_ms, bool dead, const std::string& error, int64_t now_ms);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_SYNC_INBOUND_READS_H_
