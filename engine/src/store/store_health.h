// store/store_health.h: the StoreHealth role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_
#define CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_

#include <cstdint>
#include <string>

namespace crmsync::engine {

/// The outcome of the latest write a store tried to make durable.
struct WriteOutcome {
  /// Writes (or write groups) finished so far, failed ones included; 0 when the
  /// store does not track its writes (then only probes tell).
  uint64_t count = 0;
  bool ok = true;
  std::string error;  ///< The failure's reason when !ok.
};

/// What a store is, and whether it answers (readiness, status).
class StoreHealth {
 public:
  virtual ~StoreHealth() = default;

  /// "sqlite /abs/path/crmsync.db (WAL, synchronous=FULL)" and the like.
  virtual std::string Describe() const = 0;

  /// Runs a trivial read; false with `*why` when the store cannot answer.
  virtual bool Check(std::string* why) noexcept = 0;

  /// The latest write's outcome (see WriteOutcome), as of now.
  virtual WriteOutcome LastWrite() const noexcept = 0;

  /// Makes one small durable write now (a transaction that changes nothing a
  /// reader sees, committed like any other); false with `*why` when it could
  /// not be made durable (full disk, read-only file system, server gone).
  virtual bool ProbeWrite(std::string* why) noexcept = 0;

  /// The schema version the store is at (after migrations).
  virtual int SchemaVersion() = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_HEALTH_H_
