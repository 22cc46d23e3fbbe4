// store/store.h: the engine's durable state, every role at once.
//
// The embedded default is SQLite (sqlite_store.h); PostgreSQL (pg_store.h)
// implements the same roles, so callers never name a backend. A caller takes
// only the role it uses: intake an EventIntake, the dispatcher a JobQueue,
// admin the DeadLetters and QueueInspection, inbound the InboundLog, the change
// feed a ChangeLog, a plugin's PluginHost the PluginStates (what the plugin
// saved, e.g. a rotated OAuth refresh token; table plugin_kv), reconcile and
// resync the MirrorListing. The rules
// behind them are written once, in queue/ and sync/, over SqlPort. With
// queue.backend=redis the dispatcher's JobQueue is the Redis queue
// (redis/redis_queue.h), which implements that role alone; app/open_store.h
// pairs it with the PostgreSQL store.
#ifndef CRMSYNC_ENGINE_STORE_STORE_H_
#define CRMSYNC_ENGINE_STORE_STORE_H_

#include "store/change_log.h"
#include "store/dead_letters.h"
#include "store/event_intake.h"
#include "store/inbound_log.h"
#include "store/job_queue.h"
#include "store/mirror_listing.h"
#include "store/plugin_states.h"
#include "store/queue_inspection.h"
#include "store/store_error.h"
#include "store/store_health.h"
#include "store/sync_states.h"

namespace crmsync::engine {

class Store : public StoreHealth,
              public SyncStates,
              public PluginStates,
              public EventIntake,
              public JobQueue,
              public QueueInspection,
              public DeadLetters,
              public InboundLog,
              public ChangeLog,
              public MirrorListing {};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_H_
