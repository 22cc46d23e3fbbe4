// store/store.h: the engine's durable state, behind one interface.
//
// The embedded default is SQLite (sqlite_store.h); a server-backed store
// implements the same interface, so dispatch, intake and admin code never name
// a backend. Methods throw StoreError on storage failure. Implementations are
// thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_STORE_H_
#define CRMSYNC_ENGINE_STORE_STORE_H_

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "store/inbound_types.h"
#include "store/queue_types.h"
#include "store/store_error.h"

namespace crmsync::engine {

/// Whether sync runs for a plugin, and why not when it does not.
struct SyncState {
  bool enabled = true;
  std::string reason;      ///< Why it was disabled ("401 from CRM: ...", "by admin").
  std::string changed_at;  ///< ISO 8601 UTC time of the last change, "" if never.
};

class Store {
 public:
  virtual ~Store() = default;

  /// "sqlite /abs/path/crmsync.db (WAL, synchronous=FULL)" and the like.
  virtual std::string Describe() const = 0;

  /// Runs a trivial read; false with `*why` when the store cannot answer.
  virtual bool Check(std::string* why) noexcept = 0;

  /// The schema version the store is at (after migrations).
  virtual int SchemaVersion() = 0;

  /// The sync state of `plugin` (enabled when never set). Survives restarts.
  virtual SyncState GetSyncState(const std::string& plugin) = 0;

  /// Enables or disables sync for `plugin`, with the reason shown to ops.
  virtual void SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) = 0;

  // --- Intake -------------------------------------------------------------

  /// Writes each event's mirror row and job (or absorbs it into a pending job of
  /// the same entity) and records its id; an id seen before writes nothing and
  /// returns the original job. Durable when it returns: concurrent callers share
  /// one commit. On failure throws StoreError and nothing of the call is written.
  virtual std::vector<AcceptResult> Accept(const std::vector<IncomingEvent>& events,
                                           int64_t now_ms) = 0;

  /// Accept() without holding the caller: `done` runs once the write is durable
  /// (or failed: `error` set, nothing written), on a thread of the store's. The
  /// default runs Accept() in the caller's thread. The server's handler threads
  /// can then carry many requests into one commit.
  using AcceptDone =
      std::function<void(std::vector<AcceptResult> results, std::exception_ptr error)>;
  virtual void AcceptAsync(std::vector<IncomingEvent> events, int64_t now_ms, AcceptDone done) {
    std::vector<AcceptResult> results;
    try {
      results = Accept(events, now_ms);
    } catch (...) {
      done({}, std::current_exception());
      return;
    }
    done(std::move(results), nullptr);
  }

  // --- Queue --------------------------------------------------------------

  /// Leases up to `max_jobs` ready jobs, high priority first, oldest first within
  /// a priority, never two of one entity; each lease expires at now + lease_ms.
  /// Links are read for `plugin`.
  virtual std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                       int64_t lease_ms) = 0;

  /// Records outcomes (links for `plugin`, attempts, dead letters) and makes the
  /// next job of each finished entity ready. Durable when it returns. An outcome
  /// whose lease is no longer current is ignored.
  virtual void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                        int64_t now_ms) = 0;

  /// Complete() without holding the caller: `done` runs once the outcomes are
  /// durable (or failed: `error` set, nothing of them written). A write the
  /// caller submits afterwards (its next Lease) sees them. The default runs
  /// Complete() in the caller's thread.
  virtual void CompleteAsync(const std::string& plugin, std::vector<JobOutcome> outcomes,
                             int64_t now_ms, std::function<void(std::exception_ptr)> done) {
    try {
      Complete(plugin, outcomes, now_ms);
    } catch (...) {
      done(std::current_exception());
      return;
    }
    done(nullptr);
  }

  /// Moves delayed jobs whose time has come to ready, and leases that expired
  /// back to ready (marked in doubt); returns how many jobs moved.
  virtual int64_t Promote(int64_t now_ms) = 0;

  /// Returns every leased job to ready (marked in doubt): at start-up, for the
  /// leases a previous process held.
  virtual int64_t ReleaseAllLeases() = 0;

  /// The earliest time a delayed job or a lease falls due, or -1 when none.
  virtual int64_t NextDueMs() = 0;

  virtual QueueStats Stats() = 0;

  /// The jobs of one entity, newest first (at most `limit`).
  virtual std::vector<JobInfo> JobsForEntity(EntityKind kind, const std::string& entity_id,
                                             int limit) = 0;

  /// The audit trail of one entity, newest first (at most `limit`).
  virtual std::vector<AuditRecord> AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                  int limit) = 0;

  /// The mirror row of an entity in wire form, when present.
  virtual std::optional<std::string> GetMirror(EntityKind kind, const std::string& entity_id) = 0;

  // --- Dead letters -------------------------------------------------------

  virtual std::vector<DeadLetter> ListDeadLetters(const DeadLetterFilter& filter) = 0;
  /// One dead letter with every attempt of its job.
  virtual std::optional<DeadLetter> GetDeadLetter(int64_t id) = 0;
  /// Re-queues the matching dead letters (not yet replayed) as new jobs carrying
  /// the entity's current mirror state; keeps their history. Returns new job ids.
  virtual std::vector<int64_t> ReplayDeadLetters(const DeadLetterFilter& filter,
                                                 int64_t now_ms) = 0;
  /// Deletes the matching dead letters; returns how many.
  virtual int64_t PurgeDeadLetters(const DeadLetterFilter& filter) = 0;

  // --- Inbound ------------------------------------------------------------

  /// Persists a verified, parsed delivery before it is acknowledged. Durable
  /// when it returns. False (nothing written) when its id was recorded before.
  /// Its received_ms is raised past that of every pending delivery when needed,
  /// so pending deliveries list in arrival order even within one millisecond.
  virtual bool RecordDelivery(const InboundDelivery& delivery) = 0;

  /// Up to `max` deliveries not yet processed, oldest first.
  virtual std::vector<InboundDelivery> PendingDeliveries(int max) = 0;

  /// Applies a delivery's changes under `rules` and marks it processed, in one
  /// transaction: per change, finds the entity by external id (creating mirror
  /// row and link when the CRM knew it first), ignores it when stale or when it
  /// changes nothing, merges the fields the CRM may change, writes the mirror
  /// (remembering the result, so a platform event that only echoes it is not
  /// sent back), a change-feed entry and the audit log. A delivery processed
  /// before returns no results. A young delivery (kCreateEchoWaitMs) about a
  /// CRM record not linked yet while an outbound job of its kind is in flight
  /// returns one kDeferred result, writes nothing and stays pending.
  virtual std::vector<InboundResult> ApplyDelivery(const InboundDelivery& delivery,
                                                   const InboundRules& rules, int64_t now_ms) = 0;

  /// Change-feed entries with seq > `after_seq`, oldest first, at most `limit`.
  virtual std::vector<ChangeRecord> Changes(int64_t after_seq, int limit) = 0;

  /// Change-feed entries whose callback is due at `now_ms`, oldest first.
  virtual std::vector<PendingCallback> DueCallbacks(int64_t now_ms, int max) = 0;
  /// Records a callback try: done, retry at `retry_at_ms`, or dead (a dead
  /// letter of plugin "callback" is written, replayable like any other).
  virtual void FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms,
                              bool dead, const std::string& error, int64_t now_ms) = 0;

  /// The fingerprint of the last successful webhook registration with
  /// `plugin`'s CRM, "" when none; and recording a new one.
  virtual std::string WebhookRegistration(const std::string& plugin) = 0;
  virtual void SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                                      int64_t now_ms) = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_STORE_H_
