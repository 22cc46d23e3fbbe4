// store/sync_states.h: the SyncStates role of the engine's durable state. Each caller
// depends on the role it uses; Store (store.h) is every role at once.
// Methods throw StoreError on storage failure. Implementations are thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_SYNC_STATES_H_
#define CRMSYNC_ENGINE_STORE_SYNC_STATES_H_

#include <cstdint>
#include <string>

namespace crmsync::engine {

/// Whether sync runs for a plugin, and why not when it does not.
struct SyncState {
  bool enabled = true;
  std::string reason;      ///< Why it was disabled ("401 from CRM: ...", "by admin").
  std::string changed_at;  ///< ISO 8601 UTC time of the last change, "" if never.
};

/// Per-plugin state that survives restarts: whether sync runs, and the last
/// webhook registration with the plugin's CRM.
class SyncStates {
 public:
  virtual ~SyncStates() = default;

  /// The sync state of `plugin` (enabled when never set). Survives restarts.
  virtual SyncState GetSyncState(const std::string& plugin) = 0;

  /// Enables or disables sync for `plugin`, with the reason shown to ops.
  virtual void SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) = 0;

  /// The fingerprint of the last successful webhook registration with
  /// `plugin`'s CRM, "" when none; and recording a new one.
  virtual std::string WebhookRegistration(const std::string& plugin) = 0;
  virtual void SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                                      int64_t now_ms) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SYNC_STATES_H_
