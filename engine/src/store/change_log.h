// store/change_log.h: the ChangeLog role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_CHANGE_LOG_H_
#define CRMSYNC_ENGINE_STORE_CHANGE_LOG_H_

#include <string>
#include <vector>

#include "sync/inbound_types.h"

namespace crmsync::engine {

/// What the CRM changed, for the platform: the feed and its callbacks.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;

  /// Change-feed entries with seq > `after_seq`, oldest first, at most `limit`.
  virtual std::vector<ChangeRecord> Changes(int64_t after_seq, int limit) = 0;

  /// Change-feed entries whose callback is due at `now_ms`, oldest first.
  virtual std::vector<PendingCallback> DueCallbacks(int64_t now_ms, int max) = 0;
  /// Records a callback try: done, retry at `retry_at_ms`, or dead (a dead
  /// letter of plugin "callback" is written, replayable like any other).
  virtual void FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms,
                              bool dead, const std::string& error, int64_t now_ms) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_CHANGE_LOG_H_
