// store/pg_store.h: the server-backed store, state and queue in PostgreSQL.
//
// Several engine processes may share one database: jobs are leased with
// SELECT ... FOR UPDATE SKIP LOCKED, and every write that decides an entity's
// head (Accept, Complete, Replay, inbound changes) first takes a transaction
// advisory lock per entity, so the per-entity rules of docs/design.md §4 hold across
// processes. Each Store call is one READ COMMITTED transaction on a connection
// from a small pool, retried whole on a serialization failure or deadlock.
// There is no group commit: PostgreSQL's own commit path serves concurrent
// callers, and one fsync per call is acceptable for the server backend.
// Opening applies the versioned migrations (store/pg_schema.cpp) and refuses a
// database written by a newer crmsync. All of the store's SQL is in
// pg_store.cpp. Thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_PG_STORE_H_
#define CRMSYNC_ENGINE_STORE_PG_STORE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <Poco/JSON/Object.h>

#include "store/pg_db.h"
#include "store/store.h"

namespace crmsync::engine {

struct PgOptions {
  /// libpq conninfo ("host=... dbname=...") or a postgresql:// URL.
  std::string url;
  /// Most connections open at once.
  int pool_size = 8;
  /// Write every job that becomes ready, delayed or dead to job_outbox, in the
  /// same transaction (the Redis queue relays them; redis/redis_queue.h).
  bool announce = false;
};

/// One job_outbox row: a job that became ready, delayed or dead.
struct OutboxRow {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string state;  ///< ready, delayed or dead.
  int priority = 1;
  int64_t due_ms = 0;  ///< available_ms: when a delayed job falls due.
  std::string entity_kind;
  std::string entity_id;
  std::string event_id;
};

class PgStore final : public Store {
 public:
  /// Connects, migrates and registers this store as a lease owner. Throws
  /// StoreError naming the database (never the password) and the reason.
  static std::unique_ptr<PgStore> Open(const PgOptions& options);
  ~PgStore() override;

  std::string Describe() const override;
  bool Check(std::string* why) noexcept override;
  /// Writes are not tracked (count 0): readiness relies on ProbeWrite().
  WriteOutcome LastWrite() const noexcept override { return WriteOutcome{}; }
  bool ProbeWrite(std::string* why) noexcept override;
  int SchemaVersion() override;
  SyncState GetSyncState(const std::string& plugin) override;
  void SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) override;
  std::optional<std::string> LoadPluginState(const std::string& plugin,
                                             const std::string& key) override;
  void SavePluginState(const std::string& plugin, const std::string& key, const std::string& value,
                       int64_t now_ms) override;

  std::vector<AcceptResult> Accept(const std::vector<IncomingEvent>& events,
                                   int64_t now_ms) override;
  std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                               int64_t lease_ms) override;
  void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                int64_t now_ms) override;
  /// Also returns the leases of store instances whose process is gone (their
  /// liveness lock was released with their connection), in doubt. First makes
  /// sure this instance's own liveness session is there: when it was lost
  /// (server restart), it is opened and locked again, and until then Lease()
  /// refuses (other engines may take this one's leases meanwhile).
  int64_t Promote(int64_t now_ms) override;
  /// Returns the leases held by this store instance, and those of instances
  /// that are gone; never the leases of another live engine sharing the database.
  int64_t ReleaseAllLeases() override;
  int64_t NextDueMs() override;
  QueueStats Stats() override;
  std::vector<JobInfo> JobsForEntity(EntityKind kind, const std::string& entity_id,
                                     int limit) override;
  std::optional<std::string> GetMirror(EntityKind kind, const std::string& entity_id) override;
  std::vector<AuditRecord> AuditForEntity(EntityKind kind, const std::string& entity_id,
                                          int limit) override;

  std::vector<DeadLetter> ListDeadLetters(const DeadLetterFilter& filter) override;
  std::optional<DeadLetter> GetDeadLetter(int64_t id) override;
  std::vector<int64_t> ReplayDeadLetters(const DeadLetterFilter& filter, int64_t now_ms) override;
  int64_t PurgeDeadLetters(const DeadLetterFilter& filter) override;

  bool RecordDelivery(const InboundDelivery& delivery) override;
  std::vector<InboundDelivery> PendingDeliveries(int max) override;
  std::vector<InboundResult> ApplyDelivery(const InboundDelivery& delivery,
                                           const InboundRules& rules, int64_t now_ms) override;
  std::vector<ChangeRecord> Changes(int64_t after_seq, int limit) override;
  /// Also claims what it returns for 5 minutes (until FinishCallback), so
  /// another engine sharing the database does not send the same callbacks.
  std::vector<PendingCallback> DueCallbacks(int64_t now_ms, int max) override;
  void FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms, bool dead,
                      const std::string& error, int64_t now_ms) override;
  std::string WebhookRegistration(const std::string& plugin) override;
  void SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                              int64_t now_ms) override;

  // --- MirrorListing (pg_store_mirror.cpp) ------------------------------
  std::vector<MirrorEntry> ListMirror(EntityKind kind, const std::string& plugin,
                                      const std::string& after_id, int limit) override;
  std::optional<MirrorEntry> GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                            const std::string& id) override;
  int64_t CountMirror(EntityKind kind) override;
  RunJobCounts CountRunJobs(const std::string& event_id_prefix) override;

  // --- For the Redis queue (redis/redis_queue.h) ---------------------------

  /// Leases those of `ids` that are ready (the rest are skipped), as Lease()
  /// does; ordered by priority then id.
  std::vector<LeasedJob> LeaseIds(const std::string& plugin, std::vector<int64_t> ids,
                                  int64_t now_ms, int64_t lease_ms);
  /// Makes ready those of `ids` that are delayed and due at `now_ms`; fills
  /// `still_delayed` (when given) with those still delayed and their due time.
  int64_t PromoteIds(const std::vector<int64_t>& ids, int64_t now_ms,
                     std::vector<std::pair<int64_t, int64_t>>* still_delayed = nullptr);
  /// Promote() without the delayed jobs: expired leases and those of gone
  /// owners back to ready, in doubt.
  int64_t ReclaimLeases(int64_t now_ms);
  /// Takes up to `max_rows` outbox rows at a time (rows another engine is
  /// relaying are skipped), hands them to `send` and deletes them in the same
  /// transaction; when `send` throws they stay for the next relay. Repeats
  /// until the outbox is empty; returns how many rows were relayed.
  int64_t RelayOutbox(int max_rows,
                      const std::function<void(const std::vector<OutboxRow>&)>& send);
  /// Writes an outbox row for every ready and delayed job (the Redis queue
  /// lost its data, or is new).
  int64_t AnnounceUnfinished();
  /// The owner ids of the store instances whose process is alive.
  std::set<int64_t> LiveOwners();
  /// The earliest lease expiry, or -1 when nothing is leased.
  int64_t NextLeaseExpiryMs();

  /// This instance's lease owner id (a Redis consumer is named after it).
  int64_t owner_id() const { return owner_id_; }

  /// With PgOptions::announce, `on_announced` runs after each committed
  /// transaction that may have written job_outbox rows (accept, outcomes,
  /// promotion, lease returns, replay, inbound apply), in the writer's thread;
  /// the Redis queue relays then. Empty clears it. Set it before the store is
  /// shared; it must not call back into this store.
  void SetAnnounceListener(std::function<void()> on_announced);

 private:
  explicit PgStore(const PgOptions& options);
  enum class TxKind {
    kPlain,     ///< READ COMMITTED.
    kSnapshot,  ///< Read-only, one snapshot.
  };
  /// Runs `fn(conn)` in one transaction of `kind`; retried whole on
  /// 40001/40P01/23505.
  void Tx(const std::function<void(PgConn&)>& fn, TxKind kind = TxKind::kPlain);
  void AcceptOne(PgConn& c, const IncomingEvent& event, int64_t now_ms, AcceptResult* result);
  int64_t PromoteDue(int64_t now_ms, bool delayed);
  /// Tells the announce listener that committed work may have written
  /// job_outbox rows (a no-op without PgOptions::announce).
  void Announced();
  void KeepLiveness();
  void RefuseWithoutLiveness() const;
  std::vector<DeadLetter> QueryDeadLetters(PgConn& c, const DeadLetterFilter& filter);

  PgOptions options_;
  std::string where_;  ///< host, port, database and user, for messages.
  std::unique_ptr<PgPool> pool_;
  /// Holds this instance's liveness lock (session advisory lock on owner_id_).
  std::unique_ptr<PgConn> liveness_;
  std::mutex liveness_mu_;  ///< Guards liveness_ (the ticker and shutdown use it).
  std::atomic<bool> liveness_lost_{false};
  int64_t owner_id_ = 0;
  std::atomic<int64_t> promote_calls_{0};
  std::mutex announce_mu_;  ///< Guards on_announced_.
  std::function<void()> on_announced_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_PG_STORE_H_
