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

namespace {

// The configured state store; `announce`: PostgreSQL writes job_outbox rows
// for the Redis queue.
std::unique_ptr<Store> OpenState(const config::Settings& settings, bool announce) {
  const std::string backend = settings.GetString("store.backend");
  if (backend == "postgres") {
    PgOptions options;
    options.url = settings.GetString("store.url");
    options.pool_size = static_cast<int>(settings.GetInt("store.pool_size"));
    options.announce = announce;
    return PgStore::Open(options);
  }
  if (backend != "sqlite") throw StoreError("unknown store.backend '" + backend + "'");
  SqliteOptions options;
  options.path = settings.GetString("store.path");
  options.synchronous = settings.GetString("store.synchronous");
  return SqliteStore::Open(options);
}

}  // namespace

OpenedStore OpenStore(const config::Settings& settings) {
  OpenedStore opened;
  const std::string backend = settings.GetString("store.backend");
  const bool redis = settings.GetString("queue.backend") == "redis";
  if (redis && backend != "postgres") {
    throw StoreError("queue.backend=redis needs store.backend=postgres (the jobs' state, shared "
                     "by every engine on the queue, lives there); store.backend is '" +
                     backend + "'");
  }
  opened.state = OpenState(settings, redis);
  if (!redis) return opened;
  RedisQueueOptions queue;
  queue.url = settings.GetString("queue.redis_url");
  queue.prefix = settings.GetString("queue.redis_prefix");
  queue.reclaim_ms = settings.GetInt("queue.reclaim_ms");
  // Each worker blocks on one connection; the ticker and intake need more.
  queue.pool_size = static_cast<int>(settings.GetInt("workers.count")) + 4;
  opened.redis = RedisQueue::Open(static_cast<PgStore*>(opened.state.get()), queue);
  return opened;
}

std::unique_ptr<Store> OpenStateStore(const config::Settings& settings) {
  return OpenState(settings, false);
}

}  // namespace crmsync::engine
