// The embedded SQLite store; see sqlite_store.h. Every SQL statement of the
// store is in this file.
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
#include <sstream>

#include "common/clock.h"
#include "common/hash.h"
#include "crmsync/entities_json.h"
#include "queue/accept.h"
#include "queue/complete.h"
#include "queue/lease.h"
#include "queue/replay.h"
#include "sync/inbound_merge.h"
#include "store/sqlite_port.h"
#include "store/sqlite_schema.h"
#include "store/store_codec.h"

namespace crmsync::engine {
namespace {

// --- SQL ---------------------------------------------------------------------

const char kSqlGetSyncState[] =
    "SELECT enabled, reason, changed_at FROM plugin_state WHERE plugin = ?1";
const char kSqlSetSyncState[] =
    "INSERT INTO plugin_state (plugin, enabled, reason, changed_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(plugin) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason, "
    "changed_at = excluded.changed_at";
const char kSqlInsertDelivery[] =
    "INSERT INTO deliveries (id, plugin, event, changes, received_ms, state) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 'pending') ON CONFLICT(id) DO NOTHING";
// Deliveries list by received_ms (the id is no arrival order), so a new one must
// sort after every pending one even when the clock has not moved.
const char kSqlLastPendingReceived[] =
    "SELECT max(received_ms) FROM deliveries WHERE state = 'pending'";
const char kSqlPendingDeliveries[] =
    "SELECT id, plugin, event, changes, received_ms FROM deliveries WHERE state = 'pending' "
    "ORDER BY received_ms, id LIMIT ?1";
const char kSqlChangesAfter[] =
    "SELECT seq, at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, entity "
    "FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
const char kSqlDueCallbacks[] =
    "SELECT seq, at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, entity, "
    "callback_attempts FROM changes WHERE callback_state = 'pending' AND callback_at_ms <= ?1 "
    "ORDER BY callback_at_ms, seq LIMIT ?2";
const char kSqlFinishCallback[] =
    "UPDATE changes SET callback_state = ?2, callback_attempts = ?3, callback_at_ms = ?4, "
    "callback_error = ?5 WHERE seq = ?1";
const char kSqlAuditForEntity[] =
    "SELECT id, at_ms, job_id, action, detail FROM audit WHERE entity_kind = ?1 AND entity_id = ?2 "
    "ORDER BY id DESC LIMIT ?3";
const char kSqlCountPendingDeliveries[] =
    "SELECT count(*) FROM deliveries WHERE state = 'pending'";
const char kSqlGetRegistration[] = "SELECT fingerprint FROM webhook_registrations WHERE plugin = ?1";
const char kSqlSetRegistration[] =
    "INSERT INTO webhook_registrations (plugin, fingerprint, registered_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT(plugin) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "registered_ms = excluded.registered_ms";
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
// Kept by the triggers of migration 4.
const char kSqlCountState[] = "SELECT value FROM counters WHERE name = 'jobs_' || ?1";
const char kSqlCountReadyByPriority[] =
    "SELECT CAST(substr(name, 8) AS INTEGER), value FROM counters WHERE name LIKE 'ready_p%'";
// Ids grow with time: the smallest unfinished id is the oldest job (index jobs_unfinished).
const char kSqlOldestPending[] =
    "SELECT created_ms FROM jobs WHERE id = (SELECT min(id) FROM jobs "
    "WHERE state IN ('queued','ready','delayed','leased'))";
const char kSqlCountOpenDead[] = "SELECT count(*) FROM dead_letters WHERE replayed_ms = 0";
const char kSqlGetCounter[] = "SELECT value FROM counters WHERE name = ?1";
const char kSqlCountEvents[] = "SELECT count(*) FROM events";
const char kSqlJobsForEntity[] =
    "SELECT id, event_id, event_type, state, attempts, plan, step, available_ms, created_ms, "
    "updated_ms, last_error, coalesced FROM jobs WHERE entity_kind = ?1 AND entity_id = ?2 "
    "ORDER BY id DESC LIMIT ?3";
// Dead letters matching a filter; empty text and 0 mean "any".
#define CRMSYNC_DLQ_WHERE                                                               \
  " WHERE (?1 = 0 OR id = ?1) AND (?2 = '' OR plugin = ?2) AND (?3 = '' OR error_class = ?3)" \
  " AND (?4 = '' OR entity_kind = ?4) AND (?5 = '' OR entity_id = ?5) AND created_ms >= ?6" \
  " AND (?7 = 0 OR created_ms < ?7) AND (?8 = 1 OR replayed_ms = 0)"
const char kSqlListDeadLetters[] =
    "SELECT id, job_id, plugin, event_id, event_type, entity_kind, entity_id, error_class, reason, "
    "attempts, created_ms, replayed_ms, replay_job_id FROM dead_letters" CRMSYNC_DLQ_WHERE
    " ORDER BY id LIMIT ?9";
const char kSqlPurgeDeadLetters[] = "DELETE FROM dead_letters" CRMSYNC_DLQ_WHERE;
const char kSqlAttemptsOfJob[] =
    "SELECT attempt, step, step_kind, at_ms, outcome, http_status, message FROM attempts "
    "WHERE job_id = ?1 ORDER BY rowid";

// --- helpers -----------------------------------------------------------------

int PragmaInt(Db& db, const std::string& pragma) {
  auto stmt = db.Prepare("PRAGMA " + pragma);
  return stmt->Step() ? static_cast<int>(stmt->ColumnInt(0)) : 0;
}

void BindFilter(Stmt& stmt, const DeadLetterFilter& f) {
  stmt.Bind(1, f.id.value_or(0))
      .Bind(2, f.plugin)
      .Bind(3, f.error_class)
      .Bind(4, f.entity_kind)
      .Bind(5, f.entity_id)
      .Bind(6, f.since_ms)
      .Bind(7, f.until_ms)
      .Bind(8, int64_t{f.include_replayed ? 1 : 0});
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
  const auto& migrations = SqliteMigrations();
  const int latest = migrations.back().version;
  int version = PragmaInt(db, "user_version");
  if (version > latest) {
    throw StoreError(path + " was written by a newer crmsync (schema version " +
                     std::to_string(version) + "; this build knows up to " +
                     std::to_string(latest) + "); refusing to open it");
  }
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
    Stmt& stmt = R(kSqlCountOpenDead);
    StmtScope scope(stmt);
    stmt.Step();
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

QueueStats SqliteStore::Stats() {
  std::lock_guard<std::mutex> lock(reader_mu_);
  QueueStats s;
  auto count_state = [&](const char* state) {
    Stmt& stmt = R(kSqlCountState);
    StmtScope scope(stmt);
    stmt.Bind(1, std::string(state));
    return stmt.Step() ? stmt.ColumnInt(0) : 0;
  };
  s.ready = count_state("ready");
  s.queued = count_state("queued");
  s.delayed = count_state("delayed");
  s.leased = count_state("leased");
  s.done = count_state("done");
  {
    Stmt& stmt = R(kSqlCountReadyByPriority);
    StmtScope scope(stmt);
    while (stmt.Step()) {
      int64_t p = stmt.ColumnInt(0);
      if (p >= 0 && p < 3) s.ready_by_priority[p] = stmt.ColumnInt(1);
    }
  }
  {
    Stmt& stmt = R(kSqlOldestPending);
    StmtScope scope(stmt);
    if (stmt.Step() && !stmt.ColumnIsNull(0)) s.oldest_pending_created_ms = stmt.ColumnInt(0);
  }
  {
    Stmt& stmt = R(kSqlCountOpenDead);
    StmtScope scope(stmt);
    if (stmt.Step()) s.dead = stmt.ColumnInt(0);
  }
  {
    Stmt& stmt = R(kSqlGetCounter);
    StmtScope scope(stmt);
    if (stmt.Bind(1, std::string("coalesced")).Step()) s.coalesced_total = stmt.ColumnInt(0);
  }
  for (auto [name, field] : {std::pair{"echo_suppressed_outbound", &QueueStats::echo_suppressed_outbound},
                             std::pair{"echo_suppressed_inbound", &QueueStats::echo_suppressed_inbound}}) {
    Stmt& stmt = R(kSqlGetCounter);
    StmtScope scope(stmt);
    if (stmt.Bind(1, std::string(name)).Step()) s.*field = stmt.ColumnInt(0);
  }
  {
    Stmt& stmt = R(kSqlCountPendingDeliveries);
    StmtScope scope(stmt);
    if (stmt.Step()) s.deliveries_pending = stmt.ColumnInt(0);
  }
  {
    Stmt& stmt = R(kSqlCountEvents);
    StmtScope scope(stmt);
    if (stmt.Step()) s.events_total = stmt.ColumnInt(0);
  }
  return s;
}

std::vector<JobInfo> SqliteStore::JobsForEntity(EntityKind kind, const std::string& entity_id,
                                                int limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<JobInfo> jobs;
  Stmt& stmt = R(kSqlJobsForEntity);
  StmtScope scope(stmt);
  stmt.Bind(1, std::string(EntityKindName(kind))).Bind(2, entity_id).Bind(3, int64_t{limit});
  while (stmt.Step()) {
    JobInfo j;
    j.id = stmt.ColumnInt(0);
    j.event_id = stmt.ColumnText(1);
    j.event_type = stmt.ColumnText(2);
    j.state = stmt.ColumnText(3);
    j.attempts = static_cast<int>(stmt.ColumnInt(4));
    j.plan = stmt.ColumnText(5);
    j.step = static_cast<int>(stmt.ColumnInt(6));
    j.available_at_ms = stmt.ColumnInt(7);
    j.created_ms = stmt.ColumnInt(8);
    j.updated_ms = stmt.ColumnInt(9);
    j.last_error = stmt.ColumnText(10);
    j.coalesced = static_cast<int>(stmt.ColumnInt(11));
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<AuditRecord> SqliteStore::AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                     int limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<AuditRecord> list;
  Stmt& stmt = R(kSqlAuditForEntity);
  StmtScope scope(stmt);
  stmt.Bind(1, std::string(EntityKindName(kind))).Bind(2, entity_id).Bind(3, int64_t{limit});
  while (stmt.Step()) {
    AuditRecord a;
    a.id = stmt.ColumnInt(0);
    a.at_ms = stmt.ColumnInt(1);
    a.job_id = stmt.ColumnInt(2);
    a.action = stmt.ColumnText(3);
    a.detail = stmt.ColumnText(4);
    list.push_back(std::move(a));
  }
  return list;
}

std::optional<std::string> SqliteStore::GetMirror(EntityKind kind, const std::string& entity_id) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kind == EntityKind::kLead ? SqliteSql(Sql::kGetLead) : SqliteSql(Sql::kGetProperty));
  StmtScope scope(stmt);
  if (!stmt.Bind(1, entity_id).Step()) return std::nullopt;
  return stmt.ColumnText(0);
}

// --- dead letters ------------------------------------------------------------

std::vector<DeadLetter> SqliteStore::QueryDeadLetters(const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  Stmt& stmt = R(kSqlListDeadLetters);
  StmtScope scope(stmt);
  BindFilter(stmt, filter);
  stmt.Bind(9, int64_t{filter.limit > 0 ? filter.limit : 100});
  while (stmt.Step()) {
    DeadLetter d;
    d.id = stmt.ColumnInt(0);
    d.job_id = stmt.ColumnInt(1);
    d.plugin = stmt.ColumnText(2);
    d.event_id = stmt.ColumnText(3);
    d.event_type = stmt.ColumnText(4);
    d.entity_kind = stmt.ColumnText(5);
    d.entity_id = stmt.ColumnText(6);
    d.error_class = stmt.ColumnText(7);
    d.reason = stmt.ColumnText(8);
    d.attempts = static_cast<int>(stmt.ColumnInt(9));
    d.created_ms = stmt.ColumnInt(10);
    d.replayed_ms = stmt.ColumnInt(11);
    d.replay_job_id = stmt.ColumnInt(12);
    list.push_back(std::move(d));
  }
  return list;
}

std::vector<DeadLetter> SqliteStore::ListDeadLetters(const DeadLetterFilter& filter) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  return QueryDeadLetters(filter);
}

std::optional<DeadLetter> SqliteStore::GetDeadLetter(int64_t id) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  DeadLetterFilter filter;
  filter.id = id;
  filter.include_replayed = true;
  std::vector<DeadLetter> found = QueryDeadLetters(filter);
  if (found.empty()) return std::nullopt;
  DeadLetter d = std::move(found[0]);
  Stmt& stmt = R(kSqlAttemptsOfJob);
  StmtScope scope(stmt);
  stmt.Bind(1, d.job_id);
  while (stmt.Step()) {
    AttemptRecord a;
    a.attempt = static_cast<int>(stmt.ColumnInt(0));
    a.step = static_cast<int>(stmt.ColumnInt(1));
    a.step_kind = stmt.ColumnText(2);
    a.at_ms = stmt.ColumnInt(3);
    a.outcome = stmt.ColumnText(4);
    a.http_status = static_cast<int>(stmt.ColumnInt(5));
    a.message = stmt.ColumnText(6);
    d.history.push_back(std::move(a));
  }
  return d;
}

std::vector<int64_t> SqliteStore::ReplayDeadLetters(const DeadLetterFilter& filter,
                                                    int64_t now_ms) {
  std::vector<DeadLetter> targets;
  {
    std::lock_guard<std::mutex> lock(reader_mu_);
    DeadLetterFilter open = filter;
    open.include_replayed = false;
    if (open.limit <= 0 || open.limit > 10000) open.limit = 10000;
    targets = QueryDeadLetters(open);
  }
  std::vector<int64_t> new_jobs;
  if (targets.empty()) return new_jobs;
  committer_->Submit([&](Db& db) {
    new_jobs.clear();
    SqlitePort port(db, writer_stmts_);
    for (const DeadLetter& d : targets) {
      if (std::optional<int64_t> job_id = ReplayDeadLetter(port, d, now_ms)) new_jobs.push_back(*job_id);
    }
  });
  return new_jobs;
}

int64_t SqliteStore::PurgeDeadLetters(const DeadLetterFilter& filter) {
  int64_t purged = 0;
  committer_->Submit([&](Db& db) {
    Stmt& stmt = W(kSqlPurgeDeadLetters);
    StmtScope scope(stmt);
    BindFilter(stmt, filter);
    stmt.Run();
    purged = db.Changes();
  });
  return purged;
}

// --- inbound -----------------------------------------------------------------

namespace {






}  // namespace

const char* InboundResultName(InboundResult::Kind kind) noexcept {
  switch (kind) {
    case InboundResult::Kind::kApplied: return "applied";
    case InboundResult::Kind::kCreated: return "created";
    case InboundResult::Kind::kNoChange: return "no_change";
    case InboundResult::Kind::kStale: return "stale";
    case InboundResult::Kind::kInvalid: return "invalid";
    case InboundResult::Kind::kDeferred: return "deferred";
  }
  return "unknown";
}

bool SqliteStore::RecordDelivery(const InboundDelivery& delivery) {
  bool inserted = false;
  std::string changes = ChangesToJson(delivery.changes);
  committer_->Submit([&](Db& db) {
    int64_t received_ms = delivery.received_ms;
    {
      Stmt& last = W(kSqlLastPendingReceived);
      StmtScope last_scope(last);
      if (last.Step() && !last.ColumnIsNull(0)) {
        received_ms = std::max(received_ms, last.ColumnInt(0) + 1);
      }
    }
    Stmt& stmt = W(kSqlInsertDelivery);
    StmtScope scope(stmt);
    stmt.Bind(1, delivery.id).Bind(2, delivery.plugin).Bind(3, delivery.event).Bind(4, changes);
    stmt.Bind(5, received_ms).Run();
    inserted = db.Changes() > 0;
  });
  return inserted;
}

std::vector<InboundDelivery> SqliteStore::PendingDeliveries(int max) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<InboundDelivery> list;
  Stmt& stmt = R(kSqlPendingDeliveries);
  StmtScope scope(stmt);
  stmt.Bind(1, int64_t{max});
  while (stmt.Step()) {
    InboundDelivery d;
    d.id = stmt.ColumnText(0);
    d.plugin = stmt.ColumnText(1);
    d.event = stmt.ColumnText(2);
    d.changes = ChangesFromJson(stmt.ColumnText(3));
    d.received_ms = stmt.ColumnInt(4);
    list.push_back(std::move(d));
  }
  return list;
}

namespace {

// How long a sent state is remembered: CRM echoes arrive within seconds; a
// CRM user going back to an older value after this is a real change.


}  // namespace

std::vector<InboundResult> SqliteStore::ApplyDelivery(const InboundDelivery& delivery,
                                                      const InboundRules& rules, int64_t now_ms) {
  std::vector<InboundResult> results;
  committer_->Submit([&](Db& db) {
    SqlitePort port(db, writer_stmts_);
    results = ApplyInboundDelivery(port, delivery, rules, now_ms);
  });
  return results;
}

std::vector<ChangeRecord> SqliteStore::Changes(int64_t after_seq, int limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<ChangeRecord> list;
  Stmt& stmt = R(kSqlChangesAfter);
  StmtScope scope(stmt);
  stmt.Bind(1, after_seq).Bind(2, int64_t{limit});
  while (stmt.Step()) {
    ChangeRecord c;
    c.seq = stmt.ColumnInt(0);
    c.at_ms = stmt.ColumnInt(1);
    c.entity_kind = stmt.ColumnText(2);
    c.entity_id = stmt.ColumnText(3);
    c.source = stmt.ColumnText(4);
    c.delivery_id = stmt.ColumnText(5);
    c.crm_event = stmt.ColumnText(6);
    c.fields_json = stmt.ColumnText(7);
    c.entity_json = stmt.ColumnText(8);
    list.push_back(std::move(c));
  }
  return list;
}

std::vector<PendingCallback> SqliteStore::DueCallbacks(int64_t now_ms, int max) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  std::vector<PendingCallback> list;
  Stmt& stmt = R(kSqlDueCallbacks);
  StmtScope scope(stmt);
  stmt.Bind(1, now_ms).Bind(2, int64_t{max});
  while (stmt.Step()) {
    PendingCallback p;
    p.change.seq = stmt.ColumnInt(0);
    p.change.at_ms = stmt.ColumnInt(1);
    p.change.entity_kind = stmt.ColumnText(2);
    p.change.entity_id = stmt.ColumnText(3);
    p.change.source = stmt.ColumnText(4);
    p.change.delivery_id = stmt.ColumnText(5);
    p.change.crm_event = stmt.ColumnText(6);
    p.change.fields_json = stmt.ColumnText(7);
    p.change.entity_json = stmt.ColumnText(8);
    p.attempts = static_cast<int>(stmt.ColumnInt(9));
    list.push_back(std::move(p));
  }
  return list;
}

void SqliteStore::FinishCallback(int64_t seq, bool delivered, int attempts, int64_t retry_at_ms,
                                 bool dead, const std::string& error, int64_t now_ms) {
  committer_->Submit([&](Db&) {
    std::string kind, entity_id;
    {
      Stmt& stmt = W(kSqlFinishCallback);
      StmtScope scope(stmt);
      stmt.Bind(1, seq)
          .Bind(2, std::string(delivered ? "done" : dead ? "dead" : "pending"))
          .Bind(3, int64_t{attempts})
          .Bind(4, retry_at_ms)
          .Bind(5, error)
          .Run();
    }
    if (!dead) return;
    Stmt& stmt = W(SqliteSql(Sql::kInsertDeadLetter));
    StmtScope scope(stmt);
    stmt.Bind(1, -seq).Bind(2, std::string("callback")).Bind(3, "change-" + std::to_string(seq));
    stmt.Bind(4, std::string("change.callback")).Bind(5, std::string("change"));
    stmt.Bind(6, std::to_string(seq)).Bind(7, std::string("retryable")).Bind(8, error);
    stmt.Bind(9, int64_t{attempts}).Bind(10, now_ms).Run();
  });
}

std::string SqliteStore::WebhookRegistration(const std::string& plugin) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  Stmt& stmt = R(kSqlGetRegistration);
  StmtScope scope(stmt);
  return stmt.Bind(1, plugin).Step() ? stmt.ColumnText(0) : "";
}

void SqliteStore::SetWebhookRegistration(const std::string& plugin, const std::string& fingerprint,
                                         int64_t now_ms) {
  committer_->Submit([&](Db&) {
    Stmt& stmt = W(kSqlSetRegistration);
    StmtScope scope(stmt);
    stmt.Bind(1, plugin).Bind(2, fingerprint).Bind(3, now_ms).Run();
  });
}

}  // namespace crmsync::engine
