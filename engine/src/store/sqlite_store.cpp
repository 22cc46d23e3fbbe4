// store/sqlite_store.cpp: the embedded SQLite store (sqlite_store.h): open,
// sync state, plugin state, and the transactions of intake and the queue. The
// rules they run are in queue/ and sync/, over SqlPort (SQLite's texts:
// sqlite_sql.cpp); the admin reads are in sqlite_store_admin.cpp, deliveries
// and the change feed in sqlite_store_inbound.cpp.
#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Path.h>

#include <algorithm>
#include <cstdlib>

#include "common/clock.h"
#include "crmsync/entities_json.h"
#include "queue/accept.h"
#include "queue/complete.h"
#include "queue/lease.h"
#include "store/sqlite_port.h"
#include "store/sqlite_schema.h"
#include "sync/plugin_state_rules.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

const char kSqlGetSyncState[] =
    "SELECT enabled, reason, changed_at FROM plugin_state WHERE plugin = ?1";
const char kSqlSetSyncState[] =
    "INSERT INTO plugin_state (plugin, enabled, reason, changed_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(plugin) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, "
    "changed_at = excluded.changed_at";
const char kSqlReadyIds[] = "SELECT id FROM jobs WHERE state = 'ready' ORDER BY priority, id LIMIT ?1";
const char kSqlLeaseJob[] =
    "UPDATE jobs SET state = 'leased', lease_token = ?2, lease_expires_ms = ?3, updated_ms = ?4 "
    "WHERE id = ?1 "
    "RETURNING id, event_id, event_type, entity_kind, entity_id, priority, payload, attempts, "
    "plan, step, in_doubt, created_ms, lease_token";
const char kSqlPromoteDelayed[] =
    "UPDATE jobs SET state = 'ready', updated_ms = ?1 WHERE state = 'delayed' AND available_ms <= ?1";
const char kSqlReclaimExpired[] =
    "UPDATE jobs SET state = 'ready', in_doubt = 1, lease_token = 0, updated_ms = ?1 "
    "WHERE state = 'leased' AND lease_expires_ms <= ?1";
const char kSqlReleaseAll[] =
    "UPDATE jobs SET state = 'ready', in_doubt = 1, lease_token = 0 WHERE state = 'leased'";
const char kSqlNextDelayed[] = "SELECT min(available_ms) FROM jobs WHERE state = 'delayed'";
const char kSqlNextLeaseExpiry[] =
    "SELECT min(lease_expires_ms) FROM jobs WHERE state = 'leased'";
// A trivial read that needs the schema.
const char kSqlCheck[] = "SELECT 1 FROM jobs LIMIT 1";
int PragmaInt(Db& db, const std::string& pragma) {
  auto stmt = db.Prepare("PRAGMA " + pragma);
  return stmt->Step() ? static_cast<int>(stmt->ColumnInt(0)) : 0;
}

// The schema version of `db` (at `path`) when it can be this build's store;
// throws StoreError otherwise (see CheckSqliteStoreFile).
int CheckedSchemaVersion(Db& db, const std::string& path) {
  int app_id = 0;
  try {
    app_id = PragmaInt(db, "application_id");
  } catch (const StoreError& e) {
    throw StoreError(path + " is not a usable SQLite database: " + e.what());
  }
  if (app_id != 0 && app_id != kSqliteApplicationId) {
    throw StoreError(path + " belongs to another application (SQLite application_id " +
                     std::to_string(app_id) + "); refusing to use it");
  }
  const int latest = SqliteMigrations().back().version;
  const int version = PragmaInt(db, "user_version");
  if (version > latest) {
    throw StoreError(path + " was written by a newer crmsync (schema version " +
                     std::to_string(version) + "; this build knows up to " +
                     std::to_string(latest) + "); refusing to open it");
  }
  return version;
}

}  // namespace

// --- open --------------------------------------------------------------------

SqliteStore::SqliteStore(const SqliteOptions& options) : options_(options) {}

SqliteStore::~SqliteStore() {
  committer_.reset();  // finishes pending writes first
  writer_stmts_.clear();
  reader_stmts_.clear();
}

std::unique_ptr<SqliteStore> SqliteStore::Open(const SqliteOptions& options) {
  const std::string& path = options.path;
  if (path.empty()) throw StoreError("store.path is empty");
  const std::string sync = options.synchronous;
  if (sync != "OFF" && sync != "NORMAL" && sync != "FULL" && sync != "EXTRA") {
    throw StoreError("store.synchronous must be OFF, NORMAL, FULL or EXTRA, not '" + sync + "'");
  }
  try {
    Poco::Path parent = Poco::Path(path).absolute().parent();
    Poco::File(parent).createDirectories();
  } catch (const Poco::Exception& e) {
    throw StoreError("cannot create the folder of store.path " + path + ": " + e.displayText());
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(options));
  store->writer_db_ = std::make_unique<Db>(path, true);
  Db& db = *store->writer_db_;
  sqlite3_busy_timeout(db.handle(), options.busy_timeout_ms);

  const auto& migrations = SqliteMigrations();
  int version = CheckedSchemaVersion(db, path);
  std::string mode;
  {
    auto stmt = db.Prepare("PRAGMA journal_mode=WAL");
    if (stmt->Step()) mode = stmt->ColumnText(0);
  }
  if (mode != "wal") throw StoreError("cannot put " + path + " in WAL mode (got '" + mode + "')");
  db.Exec("PRAGMA synchronous=" + sync);
  // A group commit touches many pages; with SQLite's default 2 MB cache they
  // spill to the WAL in the middle of the transaction and are written twice
  // (perf: pwrite under sqlite3BtreeInsert). 16 MiB holds a large group.
  db.Exec("PRAGMA cache_size=-16384");
  // Statement journals (each write's SAVEPOINT) and ephemeral tables stay in
  // memory: on disk each group commit opened and unlinked a temp file.
  db.Exec("PRAGMA temp_store=MEMORY");
  for (const Migration& m : migrations) {
    if (m.version <= version) continue;
    try {
      db.Exec("BEGIN IMMEDIATE");
      db.Exec(m.sql);
      db.Exec("PRAGMA user_version=" + std::to_string(m.version));
      db.Exec("PRAGMA application_id=" + std::to_string(kSqliteApplicationId));
      db.Exec("COMMIT");
    } catch (const StoreError& e) {
      try {
        db.Exec("ROLLBACK");
      } catch (const StoreError&) {
      }
      throw StoreError("migration " + std::to_string(m.version) + " (" + m.description +
                       ") failed on " + path + ": " + e.what());
    }
  }
  store->reader_db_ = std::make_unique<Db>(path, false);
  sqlite3_busy_timeout(store->reader_db_->handle(), options.busy_timeout_ms);
  // Lease tokens only need to differ from those of earlier processes.
  store->next_lease_token_ = SystemClock::Instance().NowMs() * 1000;
  store->committer_ = std::make_unique<GroupCommitter>(store->writer_db_.get());
  return store;
}

Stmt& SqliteStore::W(const char* sql) {
  auto& slot = writer_stmts_[sql];
  if (!slot) slot = writer_db_->Prepare(sql);
  return *slot;
}

Stmt& SqliteStore::R(const char* sql) {
  auto& slot = reader_stmts_[sql];
  if (!slot) slot = reader_db_->Prepare(sql);
  return *slot;
}

std::string SqliteStore::Describe() const {
  return "sqlite " + Poco::Path(options_.path).absolute().toString() +
         " (WAL, synchronous=" + options_.synchronous + ")";
}

bool SqliteStore::Check(std::string* why) noexcept {
  try {
    std::lock_guard<std::mutex> lock(reader_mu_);
    Stmt& stmt = R(kSqlCheck);
    StmtScope scope(stmt);
    stmt.Step();
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

WriteOutcome SqliteStore::LastWrite() const noexcept {
  try {
    return committer_->last_outcome();
  } catch (const std::exception& e) {
    return WriteOutcome{0, false, e.what()};
  }
}

bool SqliteStore::ProbeWrite(std::string* why) noexcept {
  try {
    // Rewriting user_version with its own value dirties the header page, so
    // the group commits one WAL frame and syncs it like any real write.
    committer_->Submit([](Db& db) {
      const int version = PragmaInt(db, "user_version");
      db.Exec("PRAGMA user_version=" + std::to_string(version));
    });
    return true;
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return false;
  }
}

int SqliteStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  return PragmaInt(*reader_db_, "user_version");
}

SyncState SqliteStore::GetSyncState(const std::string& plugin) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kSqlGetSyncState);
  StmtScope scope(stmt);
  stmt.Bind(1, plugin);
  SyncState state;
  if (stmt.Step()) {
    state.enabled = stmt.ColumnInt(0) != 0;
    state.reason = stmt.ColumnText(1);
    state.changed_at = stmt.ColumnText(2);
  }
  return state;
}

void SqliteStore::SetSyncState(const std::string& plugin, bool enabled, const std::string& reason) {
  std::string now = FormatIsoMs(SystemClock::Instance().NowMs());
  committer_->Submit([&](Db&) {
    Stmt& stmt = W(kSqlSetSyncState);
    StmtScope scope(stmt);
    stmt.Bind(1, plugin).Bind(2, int64_t{enabled ? 1 : 0}).Bind(3, reason).Bind(4, now).Run();
  });
}

std::optional<std::string> SqliteStore::LoadPluginState(const std::string& plugin,
                                                        const std::string& key) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadPluginState(port, plugin, key);
}

void SqliteStore::SavePluginState(const std::string& plugin, const std::string& key,
                                  const std::string& value, int64_t now_ms) {
  committer_->Submit([&](Db& db) {
    SqlitePort port(db, writer_stmts_);
    WritePluginState(port, plugin, key, value, now_ms);
  });
}

// --- intake ------------------------------------------------------------------

std::vector<AcceptResult> SqliteStore::Accept(const std::vector<IncomingEvent>& events,
                                              int64_t now_ms) {
  std::vector<AcceptResult> results(events.size());
  committer_->Submit([&](Db& db) {
    for (size_t i = 0; i < events.size(); ++i) AcceptOne(db, events[i], now_ms, &results[i]);
  });
  return results;
}

void SqliteStore::AcceptAsync(std::vector<IncomingEvent> events, int64_t now_ms,
                              AcceptDone done) {
  struct Call {
    std::vector<IncomingEvent> events;
    std::vector<AcceptResult> results;
    AcceptDone done;
  };
  auto call = std::make_shared<Call>();
  call->events = std::move(events);
  call->results.resize(call->events.size());
  call->done = std::move(done);
  committer_->SubmitAsync(
      [this, call, now_ms](Db& db) {
        for (size_t i = 0; i < call->events.size(); ++i) {
          AcceptOne(db, call->events[i], now_ms, &call->results[i]);
        }
      },
      [call](std::exception_ptr error) {
        if (error) {
          call->done({}, error);
        } else {
          call->done(std::move(call->results), nullptr);
        }
      });
}

void SqliteStore::AcceptOne(Db& db, const IncomingEvent& e, int64_t now_ms, AcceptResult* result) {
  SqlitePort port(db, writer_stmts_);
  AcceptEvent(port, e, now_ms, result);
}

// --- queue -------------------------------------------------------------------

std::vector<LeasedJob> SqliteStore::Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                          int64_t lease_ms) {
  std::vector<LeasedJob> jobs;
  if (max_jobs <= 0) return jobs;
  committer_->Submit([&](Db& db) {
    jobs.clear();
    std::vector<int64_t> ids;
    {
      Stmt& stmt = W(kSqlReadyIds);
      StmtScope scope(stmt);
      stmt.Bind(1, int64_t{max_jobs});
      while (stmt.Step()) ids.push_back(stmt.ColumnInt(0));
    }
    SqlitePort port(db, writer_stmts_);
    SqlRows leased;
    for (int64_t id : ids) {
      leased.Append(port.QueryText(kSqlLeaseJob, {id, next_lease_token_.fetch_add(1),
                                                  now_ms + lease_ms, now_ms}));
    }
    jobs = TakeLeased(port, plugin, leased);
  });
  return jobs;
}

void SqliteStore::Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                           int64_t now_ms) {
  if (outcomes.empty()) return;
  committer_->Submit([&](Db& db) { WriteOutcomes(db, plugin, outcomes, now_ms); });
}

void SqliteStore::CompleteAsync(const std::string& plugin, std::vector<JobOutcome> outcomes,
                                int64_t now_ms, std::function<void(std::exception_ptr)> done) {
  if (outcomes.empty()) {
    done(nullptr);
    return;
  }
  auto owned = std::make_shared<std::vector<JobOutcome>>(std::move(outcomes));
  committer_->SubmitAsync(
      [this, plugin, owned, now_ms](Db& db) { WriteOutcomes(db, plugin, *owned, now_ms); },
      std::move(done));
}

void SqliteStore::WriteOutcomes(Db& db, const std::string& plugin,
                                const std::vector<JobOutcome>& outcomes, int64_t now_ms) {
  SqlitePort port(db, writer_stmts_);
  for (const JobOutcome& o : outcomes) RecordOutcome(port, plugin, o, now_ms);
}

int64_t SqliteStore::Promote(int64_t now_ms) {
  int64_t moved = 0;
  committer_->Submit([&](Db& db) {
    moved = 0;
    {
      Stmt& stmt = W(kSqlPromoteDelayed);
      StmtScope scope(stmt);
      stmt.Bind(1, now_ms).Run();
      moved += db.Changes();
    }
    Stmt& stmt = W(kSqlReclaimExpired);
    StmtScope scope(stmt);
    stmt.Bind(1, now_ms).Run();
    moved += db.Changes();
  });
  return moved;
}

int64_t SqliteStore::ReleaseAllLeases() {
  int64_t moved = 0;
  committer_->Submit([&](Db& db) {
    Stmt& stmt = W(kSqlReleaseAll);
    StmtScope scope(stmt);
    stmt.Run();
    moved = db.Changes();
  });
  return moved;
}

int64_t SqliteStore::NextDueMs() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  int64_t next = -1;
  for (const char* sql : {kSqlNextDelayed, kSqlNextLeaseExpiry}) {
    Stmt& stmt = R(sql);
    StmtScope scope(stmt);
    if (stmt.Step() && !stmt.ColumnIsNull(0)) {
      int64_t t = stmt.ColumnInt(0);
      if (next < 0 || t < next) next = t;
    }
  }
  return next;
}

int CheckSqliteStoreFile(const std::string& path) {
  Db db(path, /*create=*/false, /*read_only=*/true);
  return CheckedSchemaVersion(db, path);
}

}  // namespace crmsync::engine
