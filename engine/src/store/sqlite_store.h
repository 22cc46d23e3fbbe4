// store/sqlite_store.h: the embedded store, one SQLite file in WAL mode.
//
// Opening applies the versioned migrations (store/sqlite_schema.cpp) and
// refuses a file written by a newer crmsync or by another application. Every
// write goes through one GroupCommitter thread (shared transactions, one fsync
// per group); reads use a second connection. All of the queue's SQL is in
// sqlite_store.cpp. Thread-safe.
#ifndef CRMSYNC_ENGINE_STORE_SQLITE_STORE_H_
#define CRMSYNC_ENGINE_STORE_SQLITE_STORE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <Poco/JSON/Object.h>

#include "store/group_commit.h"
#include "store/store.h"

namespace crmsync::engine {

struct SqliteOptions {
  /// The database file; its folder is created when missing.
  std::string path;
  /// PRAGMA synchronous: OFF, NORMAL, FULL or EXTRA.
  std::string synchronous = "FULL";
  /// How long a statement waits for a lock held by another connection.
  int busy_timeout_ms = 5000;
};

class SqliteStore final : public Store {
 public:
  /// Opens and migrates. Throws StoreError naming the file and the reason.
  static std::unique_ptr<SqliteStore> Open(const SqliteOptions& options);
  ~SqliteStore() override;

  std::string Describe() const override;
  bool Check(std::string* why) noexcept override;
  WriteOutcome LastWrite() const noexcept override;
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
  void AcceptAsync(std::vector<IncomingEvent> events, int64_t now_ms, AcceptDone done) override;
  std::vector<LeasedJob> Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                               int64_t lease_ms) override;
  void Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                int64_t now_ms) override;
  void CompleteAsync(const std::string& plugin, std::vector<JobOutcome> outcomes, int64_t now_ms,
                     std::function<void(std::exception_ptr)> done) override;
  int64_t Promote(int64_t now_ms) override;
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
  std::vector<PendingCallback> DueCallbacks(int64_t now_ms, int max) override;
  void FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms, bool dead,
                      const std::string& error, int64_t now_ms) override;
  std::string WebhookRegistration(const std::string& plugin) override;
  void SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                              int64_t now_ms) override;

  // --- MirrorListing (sqlite_store_mirror.cpp) ------------------------------
  std::vector<MirrorEntry> ListMirror(EntityKind kind, const std::string& plugin,
                                      const std::string& after_id, int limit) override;
  std::optional<MirrorEntry> GetMirrorEntry(EntityKind kind, const std::string& plugin,
                                            const std::string& id) override;
  int64_t CountMirror(EntityKind kind) override;
  RunJobCounts CountRunJobs(const std::string& event_id_prefix) override;

  /// The group committer (tests inject commit failures; benchmarks count groups).
  GroupCommitter& committer() { return *committer_; }

 private:
  explicit SqliteStore(const SqliteOptions& options);
  // Cached statements: W() only inside a write (the writer thread), R() with reader_mu_ held.
  Stmt& W(const char* sql);
  Stmt& R(const char* sql);
  void AcceptOne(Db& db, const IncomingEvent& event, int64_t now_ms, AcceptResult* result);
  // Complete()'s write, on the committer's thread.
  void WriteOutcomes(Db& db, const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                     int64_t now_ms);
  std::vector<DeadLetter> QueryDeadLetters(const DeadLetterFilter& filter);

  SqliteOptions options_;
  std::unique_ptr<Db> writer_db_;
  std::unique_ptr<GroupCommitter> committer_;
  std::map<const char*, std::unique_ptr<Stmt>> writer_stmts_;
  std::mutex reader_mu_;
  std::unique_ptr<Db> reader_db_;
  std::map<const char*, std::unique_ptr<Stmt>> reader_stmts_;
  std::atomic<int64_t> next_lease_token_{1};
};

/// Checks that the existing SQLite file at `path` can be this build's store,
/// reading it only (no migration, no WAL switch): a SQLite database, of no
/// other application, at a schema version this build knows. The version
/// (0 for an empty database), or throws StoreError naming the file and the
/// reason, in the words Open() refuses it with.
int CheckSqliteStoreFile(const std::string& path);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_SQLITE_STORE_H_
