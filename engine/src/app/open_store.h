// app/open_store.h: opens the store the settings choose (store.backend):
// the embedded SQLite file (default, no server needed) or PostgreSQL, with the
// Redis queue in front of it when queue.backend=redis. Wiring, so it lives in
// app/ (the composition root): store/ itself reads no settings and knows no
// queue.
//
// Stateless; thread-safe.
#ifndef CRMSYNC_ENGINE_APP_OPEN_STORE_H_
#define CRMSYNC_ENGINE_APP_OPEN_STORE_H_

#include <memory>
#include <string>

#include "config/settings.h"
#include "redis/redis_queue.h"
#include "store/store.h"

namespace crmsync::engine {

/// The opened store: the state, which plays every role, and with
/// queue.backend=redis the Redis queue, which takes over the JobQueue role.
/// Destroy it whole (the queue listens to the state).
struct OpenedStore {
  /// Every role; with the Redis queue its JobQueue side is not used.
  std::unique_ptr<Store> state;
  /// queue.backend=redis only; declared after `state`, so destroyed first.
  std::unique_ptr<RedisQueue> redis;

  /// The JobQueue the dispatcher uses.
  JobQueue* queue() const {
    return redis ? static_cast<JobQueue*>(redis.get()) : static_cast<JobQueue*>(state.get());
  }
  /// The state's description, and the queue's when it is elsewhere.
  std::string Describe() const;
  /// The state answers, and so does the queue when it is elsewhere.
  bool Check(std::string* why) const noexcept;
};

/// Opens and migrates the configured store. Throws StoreError naming the
/// backend and the reason (never a password).
OpenedStore OpenStore(const config::Settings& settings);

/// The state alone, opened and migrated as OpenStore() opens it, without the
/// Redis queue: for a command that keeps plugin state but runs no queue
/// (check-connection, app/plugin_hosts.h). Throws as OpenStore() does.
std::unique_ptr<Store> OpenStateStore(const config::Settings& settings);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_OPEN_STORE_H_
