// store/dead_letters.h: the DeadLetters role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_DEAD_LETTERS_H_
#define CRMSYNC_ENGINE_STORE_DEAD_LETTERS_H_

#include <optional>
#include <vector>

#include "queue/queue_types.h"

namespace crmsync::engine {

/// Jobs that gave up: list, inspect, replay, purge.
class DeadLetters {
 public:
  virtual ~DeadLetters() = default;

  virtual std::vector<DeadLetter> ListDeadLetters(const DeadLetterFilter& filter) = 0;
  /// One dead letter with every attempt of its job.
  virtual std::optional<DeadLetter> GetDeadLetter(int64_t id) = 0;
  /// Re-queues the matching dead letters (not yet replayed) as new jobs carrying
  /// the entity's current mirror state; keeps their history. Returns new job ids.
  virtual std::vector<int64_t> ReplayDeadLetters(const DeadLetterFilter& filter,
                                                 int64_t now_ms) = 0;
  /// Deletes the matching dead letters; returns how many.
  virtual int64_t PurgeDeadLetters(const DeadLetterFilter& filter) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_DEAD_LETTERS_H_
