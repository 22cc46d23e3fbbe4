// store/store_health.h: the StoreHealth role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_
#define CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_

#include <string>

namespace crmsync::engine {

/// What a store is, and whether it answers (readiness, status).
class StoreHealth {
 public:
  virtual ~StoreHealth() = default;

  /// "sqlite /abs/path/crmsync.db (WAL, synchronous=FULL)" and the like.
  virtual std::string Describe() const = 0;

  /// Runs a trivial read; false with `*why` when the store cannot answer.
  virtual bool Check(std::string* why) noexcept = 0;

  /// The schema version the store is at (after migrations).
  virtual int SchemaVersion() = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_
