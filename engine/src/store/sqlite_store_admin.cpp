// store/sqlite_store_admin.cpp: SqliteStore's reads for ops (queue stats, an
// entity's jobs, audit and mirror) and its dead letters (list, get, replay,
// purge); see sqlite_store.h.
#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <Poco/Exception.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cstdlib>

#include "crmsync/entities_json.h"
#include "queue/replay.h"
#include "store/sqlite_port.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

// Dead letters matching a filter; empty text and 0 mean "any".
#define CRMSYNC_DLQ_WHERE                                                               \
  " WHERE (?1 = 0 OR id = ?1) AND (?2 = '' OR plugin = ?2) AND (?3 = '' OR error_class = ?3)" \
  " AND (?4 = '' OR entity_kind = ?4) AND (?5 = '' OR entity_id = ?5) AND created_ms >= ?6" \
  " AND (?7 = 0 OR created_ms < ?7) AND (?8 = 1 OR replayed_ms = 0)"
const char kSqlAuditForEntity[] =
    "SELECT id, at_ms, job_id, action, detail FROM audit WHERE entity_kind = ?1 AND entity_id = ?2 "
    "ORDER BY id DESC LIMIT ?3";
const char kSqlCountPendingDeliveries[] =
    "SELECT count(*) FROM deliveries WHERE state = 'pending'";
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
const char kSqlListDeadLetters[] =
    "SELECT id, job_id, plugin, event_id, event_type, entity_kind, entity_id, error_class, reason, "
    "attempts, created_ms, replayed_ms, replay_job_id FROM dead_letters" CRMSYNC_DLQ_WHERE
    " ORDER BY id LIMIT ?9";
const char kSqlPurgeDeadLetters[] = "DELETE FROM dead_letters" CRMSYNC_DLQ_WHERE;
const char kSqlAttemptsOfJob[] =
    "SELECT attempt, step, step_kind, at_ms, outcome, http_status, message FROM attempts "
    "WHERE job_id = ?1 ORDER BY rowid";
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

}  // namespace crmsync::engine
