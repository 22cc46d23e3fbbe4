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
#include "queue/history.h"
#include "queue/replay.h"
#include "queue/store_codec.h"
#include "store/sqlite_port.h"

namespace crmsync::engine {
namespace {

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
      if (p >= 0 && p < kPriorityCount) s.ready_by_priority[p] = stmt.ColumnInt(1);
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
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadJobs(port, kind, entity_id, limit);
}

std::vector<AuditRecord> SqliteStore::AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                     int limit) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadAudit(port, kind, entity_id, limit);
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
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadDeadLetters(port, filter);
}

std::vector<DeadLetter> SqliteStore::ListDeadLetters(const DeadLetterFilter& filter) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  return QueryDeadLetters(filter);
}

std::optional<DeadLetter> SqliteStore::GetDeadLetter(int64_t id) {
  std::lock_guard<std::mutex> lock(reader_mu_);
  SqlitePort port(*reader_db_, reader_stmts_);
  return ReadDeadLetter(port, id);
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
    SqlitePort port(db, writer_stmts_);
    purged = PurgeMatching(port, filter);
  });
  return purged;
}

}  // namespace crmsync::engine
