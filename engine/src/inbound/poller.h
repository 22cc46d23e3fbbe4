// inbound/poller.h: change polling, the inbound path for CRMs without usable
// webhooks (docs/design.md §5, "Change polling").
//
// Per entity kind (lead, property) the plugin can poll, the poller asks
// Adapter::PollChanges() from the cursor kept durably in the PluginStates role
// (plugin "crmsync.poll", key "<plugin>.<entity>"), records the page's changes
// as ONE InboundDelivery through InboundLog::RecordDelivery (the webhook
// path), wakes the inbound worker, and only then saves the page's
// next_cursor. A crash between the two re-reads the same page after the
// restart: its delivery id ("poll-<entity>-" + a stable hash of the cursor
// asked from and the page's changes) is known, so RecordDelivery records
// nothing, and a page that grew meanwhile is caught by the per-event ids.
//
// Each PollChanges() call takes a token from the dispatcher's RateLimiter, so
// polling stays inside the CRM's budget. page.more polls again at once; else
// the entity waits the interval. kNotFound: the plugin cannot poll that
// entity; it is not asked again this run. kRetryable/kRateLimited back off
// (doubling from 1 s, capped at the interval; a Retry-After is honoured);
// other errors and bad pages (no next_cursor) wait the interval, logged
// masked. The cursor is kept on every error.
//
// Only one engine of a group on one store polls: the one holding the lease,
// a PluginStates row ("<plugin>.lease" = "<owner> <until_ms>") renewed on each
// pass. The role has no compare-and-swap, so two engines may both poll for one
// pass at a handover; that costs requests, never correctness (the delivery and
// event ids above make a page read twice apply once).
//
// One thread (common/wake_loop.h) ticking once a second; PollOnce() runs a
// pass on the caller's thread (tests, with a ManualClock). Thread-safe.
#ifndef CRMSYNC_ENGINE_INBOUND_POLLER_H_
#define CRMSYNC_ENGINE_INBOUND_POLLER_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/wake_loop.h"
#include "crmsync/adapter.h"
#include "dispatch/rate_limiter.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"
#include "store/inbound_log.h"
#include "store/plugin_states.h"

namespace crmsync::engine {

/// The PluginStates plugin name the poller keeps its cursors and lease under.
inline constexpr char kPollStatePlugin[] = "crmsync.poll";

/// Whether to poll, from inbound.poll ("auto", "on", "off") and the plugin's
/// capabilities: auto polls when it can poll and takes no webhooks, on polls
/// whenever it can poll. False with `*error` naming inbound.poll when the mode
/// is unknown, or "on" and the plugin `plugin` cannot poll.
bool DecidePolling(const std::string& mode, const Capabilities& capabilities,
                   const std::string& plugin, bool* poll, std::string* error);

struct PollerOptions {
  /// The plugin's name: InboundDelivery::plugin and the cursor keys.
  std::string plugin;
  /// inbound.poll_interval_ms: the wait after a page without `more`.
  int64_t interval_ms = 60000;
  /// The entity kinds to ask about, in order.
  std::vector<EntityKind> entities = {EntityKind::kLead, EntityKind::kProperty};
  /// This engine's name in the lease; unique per process.
  std::string owner;
  /// How long a lease holds without renewal; 0: no lease (one engine alone).
  int64_t lease_ms = 0;
  /// Most pages one entity reads in a pass before the next pass continues.
  int max_pages_per_pass = 100;
  /// Values masked wherever an error message quotes them (the secret
  /// settings: Settings::SecretValues()), before MaskSensitive().
  std::vector<std::string> secrets;
};

/// One entity's polling, as ops see it (the service's
/// crmsync_poll_last_success_seconds gauge reads last_success_ms). The cursor is opaque and may hold a
/// token: only whether one is kept is shown.
struct EntityPollStatus {
  std::string entity;            ///< "lead", "property".
  bool polling = true;           ///< False once the plugin said kNotFound.
  int64_t last_success_ms = 0;   ///< 0: never this run.
  std::string last_error;        ///< Masked; "" when the last poll worked.
  int64_t last_error_ms = 0;
  int64_t changes = 0;           ///< Changes recorded this run.
  int64_t errors = 0;            ///< Failed polls this run.
  bool cursor_set = false;       ///< A cursor is kept (as of the last read).
};

struct PollStatus {
  bool enabled = false;
  int64_t interval_ms = 0;
  /// This engine holds the lease (always true without one).
  bool leader = false;
  std::vector<EntityPollStatus> entities;
};

class Poller {
 public:
  /// Nothing is owned; `limiter` and `metrics` may be null.
  Poller(PollerOptions options, GuardedAdapter* adapter, InboundLog* log, PluginStates* states,
         RateLimiter* limiter, Clock* clock, MetricsRegistry* metrics);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// Called after a page was recorded (wakes the inbound worker).
  void OnRecorded(std::function<void()> callback) { on_recorded_ = std::move(callback); }

  void Start();
  /// Finishes the call in hand and stops. Idempotent.
  void Stop();

  /// One pass now, on the caller's thread: every entity that is due at the
  /// clock's time reads pages while `more` says so and the rate budget lets
  /// it. Returns how many pages were read (recorded or empty).
  int PollOnce();

  /// When the next entity is due (clock ms); INT64_MAX when none is polled.
  int64_t NextDueMs() const;
  PollStatus Status() const;
  /// The PluginStates key of an entity's cursor: "<plugin>.<entity>".
  std::string CursorKey(EntityKind kind) const;

 private:
  struct Entity {
    EntityKind kind = EntityKind::kLead;
    int64_t due_ms = 0;
    int64_t backoff_ms = 0;
    EntityPollStatus status;
  };
  // kMore: another page is ready now; kWaiting: the rate budget let no call go.
  enum class Step { kMore, kDone, kWaiting };

  // Reads one page for `e` and schedules it.
  Step ReadPage(Entity* e);
  // Records a failed poll: status, counter, log.
  void Fail(Entity* e, const char* result, const std::string& message, int64_t wait_ms);
  bool HoldLease();
  // `text` as it may be logged or shown: secrets, e-mails, phones, tokens masked.
  std::string Mask(const std::string& text) const;
  void Count(const Entity& e, const char* result);

  const PollerOptions options_;
  GuardedAdapter* adapter_;
  InboundLog* log_;
  PluginStates* states_;
  RateLimiter* limiter_;
  Clock* clock_;
  MetricsRegistry* metrics_;
  std::function<void()> on_recorded_;
  std::mutex pass_mu_;     // one pass at a time
  mutable std::mutex mu_;  // guards entities_' due times and statuses, and leader_
  std::vector<Entity> entities_;
  bool leader_ = false;
  int advance_id_ = -1;  // the clock's OnAdvance registration while started
  WakeLoop loop_;  // last: stopped before the members its pass uses
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_INBOUND_POLLER_H_
