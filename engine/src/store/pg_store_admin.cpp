// store/pg_store_admin.cpp: PgStore's reads for ops (queue stats, an entity's
// jobs, audit and mirror) and its dead letters (list, get, replay, purge); see
// pg_store.h.
#include "store/pg_store.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "crmsync/entities_json.h"
#include "queue/replay.h"
#include "store/pg_port.h"
#include "queue/store_codec.h"

namespace crmsync::engine {
namespace {

// Dead letters matching a filter; empty text and 0 mean "any".
#define CRMSYNC_PG_DLQ_WHERE                                                                     \
  " WHERE ($1::bigint = 0 OR id = $1::bigint) AND ($2::text = '' OR plugin = $2::text)"          \
  " AND ($3::text = '' OR error_class = $3::text) AND ($4::text = '' OR entity_kind = $4::text)" \
  " AND ($5::text = '' OR entity_id = $5::text) AND created_ms >= $6::bigint"                    \
  " AND ($7::bigint = 0 OR created_ms < $7::bigint) AND ($8::integer = 1 OR replayed_ms = 0)"
const char kSqlAuditForEntity[] =
    "SELECT id, at_ms, job_id, action, detail FROM audit WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
const char kSqlCountPendingDeliveries[] = "SELECT count(*) FROM deliveries WHERE state = 'pending'";
// Kept by the triggers of migration 4, as deltas.
const char kSqlCounters[] = "SELECT name, sum(value) FROM counter_deltas GROUP BY name";
// Ids grow with time: the smallest unfinished id is the oldest job (index jobs_unfinished).
const char kSqlOldestPending[] =
    "SELECT created_ms FROM jobs WHERE id = (SELECT min(id) FROM jobs "
    "WHERE state IN ('queued','ready','delayed','leased'))";
const char kSqlCountOpenDead[] = "SELECT count(*) FROM dead_letters WHERE replayed_ms = 0";
const char kSqlCountEvents[] = "SELECT count(*) FROM events";
const char kSqlJobsForEntity[] =
    "SELECT id, event_id, event_type, state, attempts, plan, step, available_ms, created_ms, "
    "updated_ms, last_error, coalesced FROM jobs WHERE entity_kind = $1 AND entity_id = $2 "
    "ORDER BY id DESC LIMIT $3::bigint";
const char kSqlListDeadLetters[] =
    "SELECT id, job_id, plugin, event_id, event_type, entity_kind, entity_id, error_class, reason, "
    "attempts, created_ms, replayed_ms, replay_job_id FROM dead_letters" CRMSYNC_PG_DLQ_WHERE
    " ORDER BY id LIMIT $9::bigint";
const char kSqlPurgeDeadLetters[] = "DELETE FROM dead_letters" CRMSYNC_PG_DLQ_WHERE;
const char kSqlAttemptsOfJob[] =
    "SELECT attempt, step, step_kind, at_ms, outcome, http_status, message FROM attempts "
    "WHERE job_id = $1 ORDER BY id";
PgParams FilterParams(const DeadLetterFilter& f) {
  PgParams p;
  p.Add(f.id.value_or(0))
      .Add(f.plugin)
      .Add(f.error_class)
      .Add(f.entity_kind)
      .Add(f.entity_id)
      .Add(f.since_ms)
      .Add(f.until_ms)
      .Add(int64_t{f.include_replayed ? 1 : 0});
  return p;
}

}  // namespace

QueueStats PgStore::Stats() {
  QueueStats s;
  Tx(
      [&](PgConn& c) {
        s = QueueStats();
        PgResult counters = c.Exec(kSqlCounters);
        for (int i = 0; i < counters.Rows(); ++i) {
          const std::string name = counters.Text(i, 0);
          const int64_t value = counters.Int(i, 1);
          if (name == "jobs_ready")
            s.ready = value;
          else if (name == "jobs_queued")
            s.queued = value;
          else if (name == "jobs_delayed")
            s.delayed = value;
          else if (name == "jobs_leased")
            s.leased = value;
          else if (name == "jobs_done")
            s.done = value;
          else if (name == "coalesced")
            s.coalesced_total = value;
          else if (name == "echo_suppressed_outbound")
            s.echo_suppressed_outbound = value;
          else if (name == "echo_suppressed_inbound")
            s.echo_suppressed_inbound = value;
          else if (name.rfind("ready_p", 0) == 0) {
            int64_t p = std::strtoll(name.c_str() + 7, nullptr, 10);
            if (p >= 0 && p < 3) s.ready_by_priority[p] = value;
          }
        }
        PgResult oldest = c.Exec(kSqlOldestPending);
        if (!oldest.Empty() && !oldest.IsNull(0, 0)) s.oldest_pending_created_ms = oldest.Int(0, 0);
        s.dead = c.Exec(kSqlCountOpenDead).Int(0, 0);
        s.deliveries_pending = c.Exec(kSqlCountPendingDeliveries).Int(0, 0);
        s.events_total = c.Exec(kSqlCountEvents).Int(0, 0);
      },
      /*snapshot=*/true);
  return s;
}

std::vector<JobInfo> PgStore::JobsForEntity(EntityKind kind, const std::string& entity_id,
                                            int limit) {
  std::vector<JobInfo> jobs;
  Tx([&](PgConn& c) {
    jobs.clear();
    PgResult r = c.Exec(kSqlJobsForEntity,
                        PgParams().Add(EntityKindName(kind)).Add(entity_id).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      JobInfo j;
      j.id = r.Int(i, 0);
      j.event_id = r.Text(i, 1);
      j.event_type = r.Text(i, 2);
      j.state = r.Text(i, 3);
      j.attempts = static_cast<int>(r.Int(i, 4));
      j.plan = r.Text(i, 5);
      j.step = static_cast<int>(r.Int(i, 6));
      j.available_at_ms = r.Int(i, 7);
      j.created_ms = r.Int(i, 8);
      j.updated_ms = r.Int(i, 9);
      j.last_error = r.Text(i, 10);
      j.coalesced = static_cast<int>(r.Int(i, 11));
      jobs.push_back(std::move(j));
    }
  });
  return jobs;
}

std::vector<AuditRecord> PgStore::AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                 int limit) {
  std::vector<AuditRecord> list;
  Tx([&](PgConn& c) {
    list.clear();
    PgResult r = c.Exec(kSqlAuditForEntity,
                        PgParams().Add(EntityKindName(kind)).Add(entity_id).Add(int64_t{limit}));
    for (int i = 0; i < r.Rows(); ++i) {
      AuditRecord a;
      a.id = r.Int(i, 0);
      a.at_ms = r.Int(i, 1);
      a.job_id = r.Int(i, 2);
      a.action = r.Text(i, 3);
      a.detail = r.Text(i, 4);
      list.push_back(std::move(a));
    }
  });
  return list;
}

std::optional<std::string> PgStore::GetMirror(EntityKind kind, const std::string& entity_id) {
  std::optional<std::string> data;
  Tx([&](PgConn& c) {
    PgResult r = c.Exec(kind == EntityKind::kLead ? PgSql(Sql::kGetLead) : PgSql(Sql::kGetProperty),
                        PgParams().Add(entity_id));
    data = r.Empty() ? std::nullopt : std::optional<std::string>(r.Text(0, 0));
  });
  return data;
}

// --- dead letters ------------------------------------------------------------

std::vector<DeadLetter> PgStore::QueryDeadLetters(PgConn& c, const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  PgParams params = FilterParams(filter);
  params.Add(int64_t{filter.limit > 0 ? filter.limit : 100});
  PgResult r = c.Exec(kSqlListDeadLetters, params);
  for (int i = 0; i < r.Rows(); ++i) {
    DeadLetter d;
    d.id = r.Int(i, 0);
    d.job_id = r.Int(i, 1);
    d.plugin = r.Text(i, 2);
    d.event_id = r.Text(i, 3);
    d.event_type = r.Text(i, 4);
    d.entity_kind = r.Text(i, 5);
    d.entity_id = r.Text(i, 6);
    d.error_class = r.Text(i, 7);
    d.reason = r.Text(i, 8);
    d.attempts = static_cast<int>(r.Int(i, 9));
    d.created_ms = r.Int(i, 10);
    d.replayed_ms = r.Int(i, 11);
    d.replay_job_id = r.Int(i, 12);
    list.push_back(std::move(d));
  }
  return list;
}

std::vector<DeadLetter> PgStore::ListDeadLetters(const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  Tx([&](PgConn& c) { list = QueryDeadLetters(c, filter); });
  return list;
}

std::optional<DeadLetter> PgStore::GetDeadLetter(int64_t id) {
  std::optional<DeadLetter> found;
  Tx([&](PgConn& c) {
    found.reset();
    DeadLetterFilter filter;
    filter.id = id;
    filter.include_replayed = true;
    std::vector<DeadLetter> list = QueryDeadLetters(c, filter);
    if (list.empty()) return;
    DeadLetter d = std::move(list[0]);
    PgResult r = c.Exec(kSqlAttemptsOfJob, PgParams().Add(d.job_id));
    for (int i = 0; i < r.Rows(); ++i) {
      AttemptRecord a;
      a.attempt = static_cast<int>(r.Int(i, 0));
      a.step = static_cast<int>(r.Int(i, 1));
      a.step_kind = r.Text(i, 2);
      a.at_ms = r.Int(i, 3);
      a.outcome = r.Text(i, 4);
      a.http_status = static_cast<int>(r.Int(i, 5));
      a.message = r.Text(i, 6);
      d.history.push_back(std::move(a));
    }
    found = std::move(d);
  });
  return found;
}

std::vector<int64_t> PgStore::ReplayDeadLetters(const DeadLetterFilter& filter, int64_t now_ms) {
  std::vector<int64_t> new_jobs;
  Tx([&](PgConn& c) {
    new_jobs.clear();
    DeadLetterFilter open = filter;
    open.include_replayed = false;
    if (open.limit <= 0 || open.limit > 10000) open.limit = 10000;
    std::vector<DeadLetter> targets = QueryDeadLetters(c, open);
    std::vector<std::string> locks;
    for (const DeadLetter& d : targets) {
      if (d.plugin != "callback") locks.push_back(PgEntityLock(d.entity_kind, d.entity_id));
    }
    PgLockAll(c, locks);
    PgPort port(c);
    for (const DeadLetter& d : targets) {
      // Listed before the locks: a concurrent replay or purge may have taken it
      // since; the row lock makes the check and the mark one step.
      if (std::optional<int64_t> job_id = ReplayDeadLetter(port, d, now_ms)) new_jobs.push_back(*job_id);
    }
  });
  return new_jobs;
}

int64_t PgStore::PurgeDeadLetters(const DeadLetterFilter& filter) {
  int64_t purged = 0;
  Tx([&](PgConn& c) { purged = c.Exec(kSqlPurgeDeadLetters, FilterParams(filter)).Affected(); });
  return purged;
}

}  // namespace crmsync::engine
