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
const char kSqlFindEvent[] = "SELECT job_id FROM events WHERE event_id = ?1";
const char kSqlInsertEvent[] =
    "INSERT INTO events (event_id, job_id, type, received_ms) VALUES (?1, ?2, ?3, ?4)";
// A platform write clears inbound_hash: the mirror no longer holds the CRM's last state.
const char kSqlUpsertLead[] =
    "INSERT INTO leads (id, data, updated_ms, field_times) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "field_times = excluded.field_times, inbound_hash = ''";
const char kSqlUpsertProperty[] =
    "INSERT INTO properties (id, data, updated_ms, field_times) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "field_times = excluded.field_times, inbound_hash = ''";
// What a platform event merges into: the mirror, when its fields were set, and
// the hash of the CRM's last change (an echo check).
const char kSqlMirrorLead[] = "SELECT data, field_times, inbound_hash FROM leads WHERE id = ?1";
const char kSqlMirrorProperty[] =
    "SELECT data, field_times, inbound_hash FROM properties WHERE id = ?1";
// An inbound (CRM) write records the hash of what the CRM set.
const char kSqlInboundLead[] =
    "INSERT INTO leads (id, data, updated_ms, inbound_hash) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "inbound_hash = excluded.inbound_hash";
const char kSqlInboundProperty[] =
    "INSERT INTO properties (id, data, updated_ms, inbound_hash) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET data = excluded.data, updated_ms = excluded.updated_ms, "
    "inbound_hash = excluded.inbound_hash";
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
const char kSqlDeliveryState[] = "SELECT state FROM deliveries WHERE id = ?1";
const char kSqlFinishDelivery[] =
    "UPDATE deliveries SET state = 'done', result = ?2, processed_ms = ?3 WHERE id = ?1";
// An outbound job of a kind, in flight, waiting for a retry, or ready again in
// doubt (a lease that expired or a crashed process), whose entity has no CRM id
// yet: the CRM may already hold it (its create answer not committed).
const char kSqlUnlinkedJobInFlight[] =
    "SELECT 1 FROM jobs j WHERE (j.state IN ('leased', 'delayed') OR "
    "(j.state = 'ready' AND j.in_doubt = 1)) AND j.entity_kind = ?2 "
    "AND NOT EXISTS (SELECT 1 FROM links l WHERE l.plugin = ?1 AND l.entity_kind = j.entity_kind "
    "AND l.entity_id = j.entity_id AND coalesce(l.external_id, '') <> '') LIMIT 1";
const char kSqlLinkByExternal[] =
    "SELECT entity_id FROM links WHERE plugin = ?1 AND entity_kind = ?2 AND external_id = ?3";
const char kSqlInsertChange[] =
    "INSERT INTO changes (at_ms, entity_kind, entity_id, source, delivery_id, crm_event, fields, "
    "entity, callback_state, callback_at_ms) VALUES (?1, ?2, ?3, 'crm', ?4, ?5, ?6, ?7, ?8, ?1)";
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
const char kSqlRequeueCallback[] =
    "UPDATE changes SET callback_state = 'pending', callback_attempts = 0, callback_at_ms = ?2 "
    "WHERE seq = ?1 AND callback_state = 'dead'";
const char kSqlUpsertInquiry[] =
    "INSERT INTO inquiries (id, lead_id, data, updated_ms) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET lead_id = excluded.lead_id, data = excluded.data, "
    "updated_ms = excluded.updated_ms";
const char kSqlGetLead[] = "SELECT data FROM leads WHERE id = ?1";
const char kSqlGetProperty[] = "SELECT data FROM properties WHERE id = ?1";
// The newest job of an entity that is not finished.
const char kSqlLastActiveJob[] =
    "SELECT id, state, coalescable, attempts, step, plan, payload FROM jobs "
    "WHERE entity_kind = ?1 AND entity_id = ?2 AND state IN ('queued','ready','delayed','leased') "
    "ORDER BY id DESC LIMIT 1";
const char kSqlAbsorb[] =
    "UPDATE jobs SET event_id = ?2, event_type = ?3, payload = ?4, priority = min(priority, ?5), "
    "coalesced = coalesced + 1, updated_ms = ?6 WHERE id = ?1";
const char kSqlInsertJob[] =
    "INSERT INTO jobs (event_id, event_type, entity_kind, entity_id, priority, state, payload, "
    "coalescable, available_ms, created_ms, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9)";
const char kSqlHasActiveJob[] =
    "SELECT 1 FROM jobs WHERE entity_kind = ?1 AND entity_id = ?2 "
    "AND state IN ('queued','ready','delayed','leased') LIMIT 1";
const char kSqlBumpCounter[] =
    "INSERT INTO counters (name, value) VALUES (?1, ?2) "
    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value";
const char kSqlReadyIds[] = "SELECT id FROM jobs WHERE state = 'ready' ORDER BY priority, id LIMIT ?1";
const char kSqlLeaseJob[] =
    "UPDATE jobs SET state = 'leased', lease_token = ?2, lease_expires_ms = ?3, updated_ms = ?4 "
    "WHERE id = ?1 "
    "RETURNING event_id, event_type, entity_kind, entity_id, priority, payload, attempts, plan, "
    "step, in_doubt, created_ms";
const char kSqlGetLink[] =
    "SELECT external_id, last_sent_hash FROM links "
    "WHERE plugin = ?1 AND entity_kind = ?2 AND entity_id = ?3";
const char kSqlCurrentLease[] =
    "SELECT entity_kind, entity_id, event_id, event_type FROM jobs "
    "WHERE id = ?1 AND state = 'leased' AND lease_token = ?2";
const char kSqlInsertAttempt[] =
    "INSERT INTO attempts (job_id, attempt, step, step_kind, at_ms, outcome, http_status, message) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const char kSqlUpsertLink[] =
    "INSERT INTO links (plugin, entity_kind, entity_id, external_id, last_sent_hash, updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(plugin, entity_kind, entity_id) DO UPDATE SET "
    "external_id = excluded.external_id, last_sent_hash = excluded.last_sent_hash, "
    "updated_ms = excluded.updated_ms";
const char kSqlGetSentRecent[] =
    "SELECT sent_recent FROM links WHERE plugin = ?1 AND entity_kind = ?2 AND entity_id = ?3";
const char kSqlSetSentRecent[] =
    "UPDATE links SET sent_recent = ?4 WHERE plugin = ?1 AND entity_kind = ?2 AND entity_id = ?3";
const char kSqlJobPayload[] = "SELECT payload FROM jobs WHERE id = ?1";
const char kSqlFinishJob[] =
    "UPDATE jobs SET state = ?2, attempts = ?3, plan = ?4, step = ?5, available_ms = ?6, "
    "in_doubt = ?9, last_error = ?7, lease_token = 0, updated_ms = ?8 WHERE id = ?1";
const char kSqlNextQueued[] =
    "SELECT id FROM jobs WHERE entity_kind = ?1 AND entity_id = ?2 AND state = 'queued' "
    "ORDER BY id LIMIT 1";
const char kSqlMakeReady[] = "UPDATE jobs SET state = 'ready', updated_ms = ?2 WHERE id = ?1";
const char kSqlInsertDeadLetter[] =
    "INSERT INTO dead_letters (job_id, plugin, event_id, event_type, entity_kind, entity_id, "
    "error_class, reason, attempts, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const char kSqlInsertAudit[] =
    "INSERT INTO audit (at_ms, entity_kind, entity_id, job_id, action, detail) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
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
const char kSqlJobForReplay[] =
    "SELECT event_id, event_type, entity_kind, entity_id, priority, payload, coalescable "
    "FROM jobs WHERE id = ?1";
const char kSqlDeadLetterOpen[] = "SELECT 1 FROM dead_letters WHERE id = ?1 AND replayed_ms = 0";
const char kSqlMarkReplayed[] =
    "UPDATE dead_letters SET replayed_ms = ?2, replay_job_id = ?3 WHERE id = ?1";

// --- helpers -----------------------------------------------------------------

int PragmaInt(Db& db, const std::string& pragma) {
  auto stmt = db.Prepare("PRAGMA " + pragma);
  return stmt->Step() ? static_cast<int>(stmt->ColumnInt(0)) : 0;
}

const char* StateName(JobOutcome::Kind kind, bool due) {
  switch (kind) {
    case JobOutcome::Kind::kDone: return "done";
    case JobOutcome::Kind::kDeadLetter: return "dead";
    case JobOutcome::Kind::kRetry: return due ? "ready" : "delayed";
    case JobOutcome::Kind::kRelease: return due ? "ready" : "delayed";
  }
  return "ready";
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

int64_t SqliteStore::InsertJob(const std::string& event_id, const std::string& event_type,
                               const std::string& kind, const std::string& entity_id, int priority,
                               const std::string& payload, bool coalescable, int64_t now_ms) {
  bool has_active = false;
  {
    Stmt& stmt = W(kSqlHasActiveJob);
    StmtScope scope(stmt);
    has_active = stmt.Bind(1, kind).Bind(2, entity_id).Step();
  }
  Stmt& stmt = W(kSqlInsertJob);
  StmtScope scope(stmt);
  stmt.Bind(1, event_id)
      .Bind(2, event_type)
      .Bind(3, kind)
      .Bind(4, entity_id)
      .Bind(5, int64_t{priority})
      .Bind(6, std::string(has_active ? "queued" : "ready"))
      .Bind(7, payload)
      .Bind(8, int64_t{coalescable ? 1 : 0})
      .Bind(9, now_ms)
      .Run();
  return writer_db_->LastInsertRowId();
}

void SqliteStore::AcceptOne(Db& db, const IncomingEvent& e, int64_t now_ms, AcceptResult* result) {
  result->event_id = e.event_id;
  {
    Stmt& stmt = W(kSqlFindEvent);
    StmtScope scope(stmt);
    if (stmt.Bind(1, e.event_id).Step()) {
      result->job_id = stmt.ColumnInt(0);
      result->duplicate = true;
      return;
    }
  }
  const std::string kind = EntityKindName(e.kind);
  const bool is_lead = e.kind == EntityKind::kLead;
  std::string stored;
  std::string stored_times;
  std::string inbound_hash;
  {
    Stmt& stmt = W(is_lead ? kSqlMirrorLead : kSqlMirrorProperty);
    StmtScope scope(stmt);
    if (stmt.Bind(1, e.entity_id).Step()) {
      stored = stmt.ColumnText(0);
      stored_times = stmt.ColumnText(1);
      inbound_hash = stmt.ColumnText(2);
    }
  }
  // The event's patch merged into the mirror, in event order (store_codec).
  PatchMerge merge = MergeEventPatch(stored, stored_times, e.entity_json,
                                     IsoMs(e.occurred_at).value_or(now_ms), is_lead, e.data_path);
  // An event older than every field it carries, or one that carries back
  // exactly what the CRM last set (no sync loop), is recorded but not sent.
  // Inquiries are new facts: always sent.
  if (e.type != EventType::kInquirySubmitted &&
      (merge.stale || (!inbound_hash.empty() && merge.echo_hash == inbound_hash))) {
    Stmt& stmt = W(kSqlInsertEvent);
    StmtScope scope(stmt);
    stmt.Bind(1, e.event_id).Bind(2, int64_t{0}).Bind(3, std::string(EventTypeName(e.type)));
    stmt.Bind(4, now_ms).Run();
    if (merge.stale) {
      result->stale = true;
      return;
    }
    Stmt& counter = W(kSqlBumpCounter);
    StmtScope counter_scope(counter);
    counter.Bind(1, std::string("echo_suppressed_outbound")).Bind(2, int64_t{1}).Run();
    result->echo_suppressed = true;
    return;
  }
  {
    Stmt& stmt = W(is_lead ? kSqlUpsertLead : kSqlUpsertProperty);
    StmtScope scope(stmt);
    stmt.Bind(1, e.entity_id).Bind(2, merge.entity_json).Bind(3, now_ms);
    stmt.Bind(4, merge.field_times).Run();
  }
  if (e.type == EventType::kInquirySubmitted) {
    Stmt& stmt = W(kSqlUpsertInquiry);
    StmtScope scope(stmt);
    stmt.Bind(1, e.inquiry_id).Bind(2, e.entity_id).Bind(3, e.inquiry_json).Bind(4, now_ms).Run();
  }
  // The job payload: the merged entity, the event's extras, what it changed.
  std::string payload = JobPayload(e, merge.entity_json, merge.changed);

  // Coalescing: the entity's newest unfinished job absorbs this one when both
  // are plain upserts and it has not been tried yet.
  int64_t job_id = 0;
  if (e.coalescable) {
    Stmt& stmt = W(kSqlLastActiveJob);
    StmtScope scope(stmt);
    if (stmt.Bind(1, kind).Bind(2, e.entity_id).Step()) {
      std::string state = stmt.ColumnText(1);
      bool absorbable = (state == "queued" || state == "ready") && stmt.ColumnInt(2) == 1 &&
                        stmt.ColumnInt(3) == 0 && stmt.ColumnInt(4) == 0 &&
                        stmt.ColumnText(5).empty();
      if (absorbable) {
        job_id = stmt.ColumnInt(0);
        // The absorbed job sends what either changed.
        payload = JobPayload(e, merge.entity_json, UnionChanged(stmt.ColumnText(6), merge.changed));
      }
    }
  }
  if (job_id != 0) {
    Stmt& stmt = W(kSqlAbsorb);
    StmtScope scope(stmt);
    stmt.Bind(1, job_id)
        .Bind(2, e.event_id)
        .Bind(3, std::string(EventTypeName(e.type)))
        .Bind(4, payload)
        .Bind(5, int64_t{static_cast<int>(e.priority)})
        .Bind(6, now_ms)
        .Run();
    Stmt& counter = W(kSqlBumpCounter);
    StmtScope counter_scope(counter);
    counter.Bind(1, std::string("coalesced")).Bind(2, int64_t{1}).Run();
    result->coalesced = true;
  } else {
    job_id = InsertJob(e.event_id, EventTypeName(e.type), kind, e.entity_id,
                       static_cast<int>(e.priority), payload, e.coalescable, now_ms);
  }
  Stmt& stmt = W(kSqlInsertEvent);
  StmtScope scope(stmt);
  stmt.Bind(1, e.event_id).Bind(2, job_id).Bind(3, std::string(EventTypeName(e.type))).Bind(4, now_ms);
  stmt.Run();
  result->job_id = job_id;
  (void)db;
}

// --- queue -------------------------------------------------------------------

std::vector<LeasedJob> SqliteStore::Lease(const std::string& plugin, int max_jobs, int64_t now_ms,
                                          int64_t lease_ms) {
  std::vector<LeasedJob> jobs;
  if (max_jobs <= 0) return jobs;
  committer_->Submit([&](Db&) {
    jobs.clear();
    std::vector<int64_t> ids;
    {
      Stmt& stmt = W(kSqlReadyIds);
      StmtScope scope(stmt);
      stmt.Bind(1, int64_t{max_jobs});
      while (stmt.Step()) ids.push_back(stmt.ColumnInt(0));
    }
    for (int64_t id : ids) {
      LeasedJob job;
      job.id = id;
      job.lease_token = next_lease_token_.fetch_add(1);
      {
        Stmt& stmt = W(kSqlLeaseJob);
        StmtScope scope(stmt);
        stmt.Bind(1, id).Bind(2, job.lease_token).Bind(3, now_ms + lease_ms).Bind(4, now_ms);
        if (!stmt.Step()) continue;
        job.event_id = stmt.ColumnText(0);
        ParseEventType(stmt.ColumnText(1), &job.type);
        ParseEntityKind(stmt.ColumnText(2), &job.kind);
        job.entity_id = stmt.ColumnText(3);
        job.priority = static_cast<Priority>(stmt.ColumnInt(4));
        job.payload = stmt.ColumnText(5);
        job.attempts = static_cast<int>(stmt.ColumnInt(6));
        job.plan = stmt.ColumnText(7);
        job.step = static_cast<int>(stmt.ColumnInt(8));
        job.in_doubt = stmt.ColumnInt(9) != 0;
        job.created_at_ms = stmt.ColumnInt(10);
        while (stmt.Step()) {
        }
      }
      {
        Stmt& stmt = W(kSqlGetLink);
        StmtScope scope(stmt);
        stmt.Bind(1, plugin).Bind(2, std::string(EntityKindName(job.kind))).Bind(3, job.entity_id);
        if (stmt.Step()) {
          job.external_id = stmt.ColumnOptText(0);
          job.last_sent_hash = stmt.ColumnText(1);
        }
      }
      jobs.push_back(std::move(job));
    }
  });
  return jobs;
}

void SqliteStore::MakeNextReady(const std::string& kind, const std::string& entity_id,
                                int64_t now_ms) {
  int64_t next = 0;
  {
    Stmt& stmt = W(kSqlNextQueued);
    StmtScope scope(stmt);
    if (stmt.Bind(1, kind).Bind(2, entity_id).Step()) next = stmt.ColumnInt(0);
  }
  if (next == 0) return;
  Stmt& stmt = W(kSqlMakeReady);
  StmtScope scope(stmt);
  stmt.Bind(1, next).Bind(2, now_ms).Run();
}

void SqliteStore::Audit(int64_t now_ms, const std::string& kind, const std::string& entity_id,
                        int64_t job_id, const std::string& action, const std::string& detail) {
  Stmt& stmt = W(kSqlInsertAudit);
  StmtScope scope(stmt);
  stmt.Bind(1, now_ms).Bind(2, kind).Bind(3, entity_id).Bind(4, job_id).Bind(5, action);
  stmt.Bind(6, detail).Run();
}

void SqliteStore::Complete(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                           int64_t now_ms) {
  if (outcomes.empty()) return;
  committer_->Submit([&](Db&) { WriteOutcomes(plugin, outcomes, now_ms); });
}

void SqliteStore::CompleteAsync(const std::string& plugin, std::vector<JobOutcome> outcomes,
                                int64_t now_ms, std::function<void(std::exception_ptr)> done) {
  if (outcomes.empty()) {
    done(nullptr);
    return;
  }
  auto owned = std::make_shared<std::vector<JobOutcome>>(std::move(outcomes));
  committer_->SubmitAsync(
      [this, plugin, owned, now_ms](Db&) { WriteOutcomes(plugin, *owned, now_ms); },
      std::move(done));
}

void SqliteStore::WriteOutcomes(const std::string& plugin, const std::vector<JobOutcome>& outcomes,
                                int64_t now_ms) {
  for (const JobOutcome& o : outcomes) {
    std::string kind, entity_id, event_id, event_type;
    {
      Stmt& stmt = W(kSqlCurrentLease);
      StmtScope scope(stmt);
      if (!stmt.Bind(1, o.job_id).Bind(2, o.lease_token).Step()) continue;  // stale lease
      kind = stmt.ColumnText(0);
      entity_id = stmt.ColumnText(1);
      event_id = stmt.ColumnText(2);
      event_type = stmt.ColumnText(3);
    }
    for (const AttemptRecord& a : o.attempts_made) {
      Stmt& stmt = W(kSqlInsertAttempt);
      StmtScope scope(stmt);
      stmt.Bind(1, o.job_id).Bind(2, int64_t{a.attempt}).Bind(3, int64_t{a.step});
      stmt.Bind(4, a.step_kind).Bind(5, a.at_ms).Bind(6, a.outcome);
      stmt.Bind(7, int64_t{a.http_status}).Bind(8, a.message).Run();
    }
    if (o.update_link) {
      Stmt& stmt = W(kSqlUpsertLink);
      StmtScope scope(stmt);
      stmt.Bind(1, plugin).Bind(2, kind).Bind(3, entity_id).Bind(4, o.external_id);
      stmt.Bind(5, o.sent_hash).Bind(6, now_ms).Run();
    }
    bool due = o.available_at_ms <= now_ms;
    {
      Stmt& stmt = W(kSqlFinishJob);
      StmtScope scope(stmt);
      stmt.Bind(1, o.job_id)
          .Bind(2, std::string(StateName(o.kind, due)))
          .Bind(3, int64_t{o.attempts})
          .Bind(4, o.plan)
          .Bind(5, int64_t{o.step})
          .Bind(6, o.available_at_ms)
          .Bind(7, o.kind == JobOutcome::Kind::kDone ? std::string() : o.reason)
          .Bind(8, now_ms)
          .Bind(9, int64_t{o.in_doubt ? 1 : 0})
          .Run();
    }
    if (o.kind == JobOutcome::Kind::kDone) {
      RememberSent(plugin, kind, entity_id, o.job_id, now_ms);
      Audit(now_ms, kind, entity_id, o.job_id, "synced",
            "event " + event_id + " (" + event_type + ") via " + plugin +
                (o.external_id ? " as " + *o.external_id : ""));
      MakeNextReady(kind, entity_id, now_ms);
    } else if (o.kind == JobOutcome::Kind::kDeadLetter) {
      Stmt& stmt = W(kSqlInsertDeadLetter);
      StmtScope scope(stmt);
      stmt.Bind(1, o.job_id).Bind(2, plugin).Bind(3, event_id).Bind(4, event_type);
      stmt.Bind(5, kind).Bind(6, entity_id).Bind(7, o.error_class).Bind(8, o.reason);
      stmt.Bind(9, int64_t{o.attempts}).Bind(10, now_ms).Run();
      Audit(now_ms, kind, entity_id, o.job_id, "dead_lettered",
            "event " + event_id + ": " + o.error_class + ": " + o.reason);
      MakeNextReady(kind, entity_id, now_ms);
    }
  }
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
  Stmt& stmt = R(kind == EntityKind::kLead ? kSqlGetLead : kSqlGetProperty);
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
  committer_->Submit([&](Db&) {
    new_jobs.clear();
    for (const DeadLetter& d : targets) {
      {
        // Listed outside the write: a concurrent replay or purge may have taken it since.
        Stmt& stmt = W(kSqlDeadLetterOpen);
        StmtScope scope(stmt);
        if (!stmt.Bind(1, d.id).Step()) continue;
      }
      if (d.plugin == "callback") {
        // A change-feed callback that gave up (job_id holds -seq): send it again.
        Stmt& stmt = W(kSqlRequeueCallback);
        StmtScope scope(stmt);
        stmt.Bind(1, -d.job_id).Bind(2, now_ms).Run();
        Stmt& mark = W(kSqlMarkReplayed);
        StmtScope mark_scope(mark);
        mark.Bind(1, d.id).Bind(2, now_ms).Bind(3, int64_t{0}).Run();
        new_jobs.push_back(0);
        continue;
      }
      std::string event_id, event_type, kind, entity_id, payload;
      int priority = 1;
      bool coalescable = false;
      {
        Stmt& stmt = W(kSqlJobForReplay);
        StmtScope scope(stmt);
        if (!stmt.Bind(1, d.job_id).Step()) continue;
        event_id = stmt.ColumnText(0);
        event_type = stmt.ColumnText(1);
        kind = stmt.ColumnText(2);
        entity_id = stmt.ColumnText(3);
        priority = static_cast<int>(stmt.ColumnInt(4));
        payload = stmt.ColumnText(5);
        coalescable = stmt.ColumnInt(6) != 0;
      }
      // The entity as the platform holds it now; the event's extras as they were.
      std::string mirror;
      {
        Stmt& stmt = W(kind == "property" ? kSqlGetProperty : kSqlGetLead);
        StmtScope scope(stmt);
        if (stmt.Bind(1, entity_id).Step()) mirror = stmt.ColumnText(0);
      }
      if (!mirror.empty()) {
        Poco::JSON::Object::Ptr object =
            Poco::JSON::Parser().parse(payload).extract<Poco::JSON::Object::Ptr>();
        object->set(kind, Poco::JSON::Parser().parse(mirror));
        payload = Stringify(object);
      }
      int64_t job_id =
          InsertJob(event_id, event_type, kind, entity_id, priority, payload, coalescable, now_ms);
      Stmt& stmt = W(kSqlMarkReplayed);
      StmtScope scope(stmt);
      stmt.Bind(1, d.id).Bind(2, now_ms).Bind(3, job_id).Run();
      Audit(now_ms, kind, entity_id, job_id, "replayed",
            "dead letter " + std::to_string(d.id) + " of job " + std::to_string(d.job_id));
      new_jobs.push_back(job_id);
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

void SqliteStore::RememberSent(const std::string& plugin, const std::string& kind,
                               const std::string& entity_id, int64_t job_id, int64_t now_ms) {
  std::string payload;
  {
    Stmt& stmt = W(kSqlJobPayload);
    StmtScope scope(stmt);
    if (!stmt.Bind(1, job_id).Step()) return;
    payload = stmt.ColumnText(0);
  }
  std::string recent;
  {
    Stmt& stmt = W(kSqlGetSentRecent);
    StmtScope scope(stmt);
    if (!stmt.Bind(1, plugin).Bind(2, kind).Bind(3, entity_id).Step()) return;
    recent = stmt.ColumnText(0);
  }
  const std::string text = AppendSent(recent, payload, now_ms);
  Stmt& stmt = W(kSqlSetSentRecent);
  StmtScope scope(stmt);
  stmt.Bind(1, plugin).Bind(2, kind).Bind(3, entity_id).Bind(4, text).Run();
}

bool SqliteStore::EchoesEarlierSend(const std::string& plugin, const std::string& kind,
                                    const std::string& entity_id,
                                    const Poco::JSON::Object& candidate, int64_t now_ms) {
  std::string recent;
  {
    Stmt& stmt = W(kSqlGetSentRecent);
    StmtScope scope(stmt);
    if (!stmt.Bind(1, plugin).Bind(2, kind).Bind(3, entity_id).Step()) return false;
    recent = stmt.ColumnText(0);
  }
  return MatchesEarlierSend(recent, kind, candidate, now_ms);
}

InboundResult SqliteStore::ApplyChange(const InboundDelivery& delivery, const InboundChange& change,
                                       const InboundRules& rules, int64_t now_ms) {
  InboundResult result;
  const bool is_lead = change.entity_kind == EntityKind::kLead;
  const std::string kind = EntityKindName(change.entity_kind);
  result.entity_kind = kind;
  // A change a plugin got wrong is one invalid result; throwing would leave the
  // whole delivery pending and block every delivery after it.
  Poco::JSON::Object::Ptr fields;
  try {
    Poco::Dynamic::Var parsed =
        Poco::JSON::Parser().parse(change.fields_json.empty() ? "{}" : change.fields_json);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      fields = parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }

  // The entity: by its link, or new when the CRM knew it first.
  bool created = false;
  {
    Stmt& stmt = W(kSqlLinkByExternal);
    StmtScope scope(stmt);
    if (stmt.Bind(1, delivery.plugin).Bind(2, kind).Bind(3, change.external_id).Step()) {
      result.entity_id = stmt.ColumnText(0);
    }
  }
  if (!fields) {
    result.kind = InboundResult::Kind::kInvalid;
    result.reason = "the plugin's fields for CRM record " + change.external_id +
                    " are not a JSON object";
    Audit(now_ms, kind, result.entity_id.empty() ? IdForCrmRecord(change.external_id)
                                                 : result.entity_id,
          0, "inbound_invalid", "delivery " + delivery.id + ": " + result.reason);
    return result;
  }
  if (result.entity_id.empty()) {
    created = true;
    result.entity_id = IdForCrmRecord(change.external_id);
    Stmt& stmt = W(kSqlUpsertLink);
    StmtScope scope(stmt);
    stmt.Bind(1, delivery.plugin).Bind(2, kind).Bind(3, result.entity_id);
    stmt.Bind(4, change.external_id).Bind(5, std::string()).Bind(6, now_ms).Run();
  }
  Poco::JSON::Object::Ptr current = new Poco::JSON::Object();
  {
    Stmt& stmt = W(is_lead ? kSqlGetLead : kSqlGetProperty);
    StmtScope scope(stmt);
    if (stmt.Bind(1, result.entity_id).Step()) {
      current = Poco::JSON::Parser().parse(stmt.ColumnText(0)).extract<Poco::JSON::Object::Ptr>();
    } else {
      created = true;
    }
  }
  current->set("id", result.entity_id);

  // Stale: the CRM's change is older than what we hold.
  if (!created && change.updated_at && current->has("updatedAt")) {
    std::optional<int64_t> theirs = IsoMs(*change.updated_at);
    std::optional<int64_t> ours = IsoMs(current->optValue<std::string>("updatedAt", ""));
    if (theirs && ours && *theirs < *ours) {
      result.kind = InboundResult::Kind::kStale;
      result.reason = "CRM update of " + *change.updated_at + " is older than ours of " +
                      current->getValue<std::string>("updatedAt");
      Audit(now_ms, kind, result.entity_id, 0, "inbound_stale",
            "delivery " + delivery.id + ": " + result.reason);
      return result;
    }
  }

  // Merge the fields the CRM may change.
  Poco::JSON::Object::Ptr changed = new Poco::JSON::Object();
  MergeInboundFields(*fields, rules, is_lead, created, current.get(), changed.get(), &result);
  // A late echo of an earlier state we sent (the CRM notifies our own update
  // after a newer one went out) would roll the mirror back: ignore it.
  if (!created && !result.changed_fields.empty() &&
      EchoesEarlierSend(delivery.plugin, kind, result.entity_id, *changed, now_ms)) {
    result.changed_fields.clear();
  }
  if (result.changed_fields.empty() && !created) {
    result.kind = InboundResult::Kind::kNoChange;
    Stmt& counter = W(kSqlBumpCounter);
    StmtScope counter_scope(counter);
    counter.Bind(1, std::string("echo_suppressed_inbound")).Bind(2, int64_t{1}).Run();
    return result;
  }
  if (change.updated_at) current->set("updatedAt", *change.updated_at);

  // The merged record must still meet the wire contract.
  std::string entity_json;
  std::string echo_hash;
  std::string fault = EncodeMergedEntity(*current, is_lead, &entity_json, &echo_hash);
  if (!fault.empty()) {
    result.kind = InboundResult::Kind::kInvalid;
    result.reason = fault;
    Audit(now_ms, kind, result.entity_id, 0, "inbound_invalid",
          "delivery " + delivery.id + ": " + result.reason);
    return result;
  }
  {
    Stmt& stmt = W(is_lead ? kSqlInboundLead : kSqlInboundProperty);
    StmtScope scope(stmt);
    stmt.Bind(1, result.entity_id).Bind(2, entity_json).Bind(3, now_ms).Bind(4, echo_hash).Run();
  }
  {
    Stmt& stmt = W(kSqlInsertChange);
    StmtScope scope(stmt);
    stmt.Bind(1, now_ms).Bind(2, kind).Bind(3, result.entity_id).Bind(4, delivery.id);
    stmt.Bind(5, change.crm_event).Bind(6, Stringify(changed)).Bind(7, entity_json);
    stmt.Bind(8, std::string(rules.queue_callbacks ? "pending" : "none")).Run();
    result.change_seq = writer_db_->LastInsertRowId();
  }
  result.kind = created ? InboundResult::Kind::kCreated : InboundResult::Kind::kApplied;
  std::string list;
  for (const std::string& f : result.changed_fields) list += (list.empty() ? "" : ",") + f;
  Audit(now_ms, kind, result.entity_id, 0, created ? "inbound_create" : "inbound_update",
        "delivery " + delivery.id + " (" + change.crm_event + "): " + list);
  return result;
}

std::vector<InboundResult> SqliteStore::ApplyDelivery(const InboundDelivery& delivery,
                                                      const InboundRules& rules, int64_t now_ms) {
  std::vector<InboundResult> results;
  committer_->Submit([&](Db&) {
    results.clear();
    {
      Stmt& stmt = W(kSqlDeliveryState);
      StmtScope scope(stmt);
      if (!stmt.Bind(1, delivery.id).Step() || stmt.ColumnText(0) != "pending") return;
    }
    // The CRM's webhook about a record it created for us can beat the commit of
    // the create's answer: leave it pending for a while rather than take the
    // record as a new one the CRM knew first (a duplicate entity).
    if (now_ms - delivery.received_ms < kCreateEchoWaitMs) {
      for (const InboundChange& change : delivery.changes) {
        const std::string kind = EntityKindName(change.entity_kind);
        {
          Stmt& stmt = W(kSqlLinkByExternal);
          StmtScope scope(stmt);
          if (stmt.Bind(1, delivery.plugin).Bind(2, kind).Bind(3, change.external_id).Step()) {
            continue;
          }
        }
        Stmt& stmt = W(kSqlUnlinkedJobInFlight);
        StmtScope scope(stmt);
        if (stmt.Bind(1, delivery.plugin).Bind(2, kind).Step()) {
          InboundResult deferred;
          deferred.kind = InboundResult::Kind::kDeferred;
          deferred.entity_kind = kind;
          deferred.reason = "CRM record " + change.external_id +
                            " is not linked while an outbound create may be in flight";
          results.assign(1, deferred);
          return;
        }
      }
    }
    std::string summary;
    for (const InboundChange& change : delivery.changes) {
      results.push_back(ApplyChange(delivery, change, rules, now_ms));
      summary += (summary.empty() ? "" : ",") + std::string(InboundResultName(results.back().kind));
    }
    Stmt& stmt = W(kSqlFinishDelivery);
    StmtScope scope(stmt);
    stmt.Bind(1, delivery.id).Bind(2, summary).Bind(3, now_ms).Run();
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
    Stmt& stmt = W(kSqlInsertDeadLetter);
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
