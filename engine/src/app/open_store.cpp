// Store selection; see open_store.h.
#include "app/open_store.h"

#include "redis/redis_queue.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"

namespace crmsync::engine {

std::unique_ptr<Store> OpenStore(const config::Settings& settings) {
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
    if (!redis) return state;
    RedisQueueOptions queue;
    queue.url = settings.GetString("queue.redis_url");
    queue.prefix = settings.GetString("queue.redis_prefix");
    queue.reclaim_ms = settings.GetInt("queue.reclaim_ms");
    // Each worker blocks on one connection; the ticker and intake need more.
    queue.pool_size = static_cast<int>(settings.GetInt("workers.count")) + 4;
    return RedisQueue::Open(std::move(state), queue);
  }
  if (backend != "sqlite") throw StoreError("unknown store.backend '" + backend + "'");
  SqliteOptions options;
  options.path = settings.GetString("store.path");
  options.synchronous = settings.GetString("store.synchronous");
  return SqliteStore::Open(options);
}

}  // namespace crmsync::engine
