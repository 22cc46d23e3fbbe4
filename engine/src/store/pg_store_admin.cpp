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
#include "queue/history.h"
#include "queue/replay.h"
#include "queue/store_codec.h"
#include "store/pg_port.h"

namespace crmsync::engine {
namespace {

const char kSqlCountPendingDeliveries[] = "SELECT count(*) FROM deliveries WHERE state = 'pending'";
// Kept by the triggers of migration 4, as deltas.
const char kSqlCounters[] = "SELECT name, sum(value) FROM counter_deltas GROUP BY name";
// Ids grow with time: the smallest unfinished id is the oldest job (index jobs_unfinished).
const char kSqlOldestPending[] =
    "SELECT created_ms FROM jobs WHERE id = (SELECT min(id) FROM jobs "
    "WHERE state IN ('queued','ready','delayed','leased'))";
const char kSqlCountOpenDead[] = "SELECT count(*) FROM dead_letters WHERE replayed_ms = 0";
const char kSqlCountEvents[] = "SELECT count(*) FROM events";

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
            if (p >= 0 && p < kPriorityCount) s.ready_by_priority[p] = value;
          }
        }
        PgResult oldest = c.Exec(kSqlOldestPending);
        if (!oldest.Empty() && !oldest.IsNull(0, 0)) s.oldest_pending_created_ms = oldest.Int(0, 0);
        s.dead = c.Exec(kSqlCountOpenDead).Int(0, 0);
        s.deliveries_pending = c.Exec(kSqlCountPendingDeliveries).Int(0, 0);
        s.events_total = c.Exec(kSqlCountEvents).Int(0, 0);
      },
      TxKind::kSnapshot);
  return s;
}

std::vector<JobInfo> PgStore::JobsForEntity(EntityKind kind, const std::string& entity_id,
                                            int limit) {
  std::vector<JobInfo> jobs;
  Tx([&](PgConn& c) {
    PgPort port(c);
    jobs = ReadJobs(port, kind, entity_id, limit);
  });
  return jobs;
}

std::vector<AuditRecord> PgStore::AuditForEntity(EntityKind kind, const std::string& entity_id,
                                                 int limit) {
  std::vector<AuditRecord> list;
  Tx([&](PgConn& c) {
    PgPort port(c);
    list = ReadAudit(port, kind, entity_id, limit);
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
  PgPort port(c);
  return ReadDeadLetters(port, filter);
}

std::vector<DeadLetter> PgStore::ListDeadLetters(const DeadLetterFilter& filter) {
  std::vector<DeadLetter> list;
  Tx([&](PgConn& c) { list = QueryDeadLetters(c, filter); });
  return list;
}

std::optional<DeadLetter> PgStore::GetDeadLetter(int64_t id) {
  std::optional<DeadLetter> found;
  Tx([&](PgConn& c) {
    PgPort port(c);
    found = ReadDeadLetter(port, id);
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
  if (!new_jobs.empty()) Announced();
  return new_jobs;
}

int64_t PgStore::PurgeDeadLetters(const DeadLetterFilter& filter) {
  int64_t purged = 0;
  Tx([&](PgConn& c) {
    PgPort port(c);
    purged = PurgeMatching(port, filter);
  });
  return purged;
}

}  // namespace crmsync::engine
