// Store selection; see open_store.h.
#include "app/open_store.h"

#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace crmsync::engine {

std::string OpenedStore::Describe() const {
  return redis ? state->Describe() + "; " + redis->Describe() : state->Describe();
}

bool OpenedStore::Check(std::string* why) const noexcept {
  return state->Check(why) && (!redis || redis->Check(why));
}

OpenedStore OpenStore(const config::Settings& settings) {
  OpenedStore opened;
  const std::string backend = settings.GetString("store.backend");
  const bool redis = settings.GetString("queue.backend") == "redis";
  if (redis && backend != "postgres") {
    throw StoreError("queue.backend=redis needs store.backend=postgres (the jobs' state, shared "
                     "by every engine on the queue, lives there); store.backend is '" +
                     backend + "'");
  }
  if (backend == "postgres") {
    PgOptions options;
    options.url = settings.GetString("store.url");
    options.pool_size = static_cast<int>(settings.GetInt("store.pool_size"));
    options.announce = redis;
    std::unique_ptr<PgStore> state = PgStore::Open(options);
    PgStore* pg = state.get();
    opened.state = std::move(state);
    if (!redis) return opened;
    RedisQueueOptions queue;
    queue.url = settings.GetString("queue.redis_url");
    queue.prefix = settings.GetString("queue.redis_prefix");
    queue.reclaim_ms = settings.GetInt("queue.reclaim_ms");
    // Each worker blocks on one connection; the ticker and intake need more.
    queue.pool_size = static_cast<int>(settings.GetInt("workers.count")) + 4;
    opened.redis = RedisQueue::Open(pg, queue);
    return opened;
  }
  if (backend != "sqlite") throw StoreError("unknown store.backend '" + backend + "'");
  SqliteOptions options;
  options.path = settings.GetString("store.path");
  options.synchronous = settings.GetString("store.synchronous");
  opened.state = SqliteStore::Open(options);
  return opened;
}

}  // namespace crmsync::engine
