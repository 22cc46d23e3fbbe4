// queue/history.cpp: the ops reads of the queue (see history.h).
#include "queue/history.h"

namespace crmsync::engine {

namespace {

// A filter's eight parameters, in the order both dialects' WHERE uses them.
#define CRMSYNC_FILTER_ARGS(f)                                                            \
  (f).id.value_or(0), (f).plugin, (f).error_class, (f).entity_kind, (f).entity_id,        \
      (f).since_ms, (f).until_ms, (f).include_replayed ? 1 : 0

}  // namespace

std::vector<JobInfo> ReadJobs(SqlPort& db, EntityKind kind, const std::string& entity_id,
                              int limit) {
  SqlRows r = db.Query(Sql::kJobsForEntity, {EntityKindName(kind), entity_id, limit});
  std::vector<JobInfo> jobs;
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
  return jobs;
}

std::vector<AuditRecord> ReadAudit(SqlPort& db, EntityKind kind, const std::string& entity_id,
                                   int limit) {
  SqlRows r = db.Query(Sql::kAuditForEntity, {EntityKindName(kind), entity_id, limit});
  std::vector<AuditRecord> list;
  for (int i = 0; i < r.Rows(); ++i) {
    AuditRecord a;
    a.id = r.Int(i, 0);
    a.at_ms = r.Int(i, 1);
    a.job_id = r.Int(i, 2);
    a.action = r.Text(i, 3);
    a.detail = r.Text(i, 4);
    list.push_back(std::move(a));
  }
  return list;
}

std::vector<DeadLetter> ReadDeadLetters(SqlPort& db, const DeadLetterFilter& f) {
  SqlRows r = db.Query(Sql::kListDeadLetters,
                       {CRMSYNC_FILTER_ARGS(f), f.limit > 0 ? f.limit : 100});
  std::vector<DeadLetter> list;
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

std::optional<DeadLetter> ReadDeadLetter(SqlPort& db, int64_t id) {
  DeadLetterFilter filter;
  filter.id = id;
  filter.include_replayed = true;
  std::vector<DeadLetter> found = ReadDeadLetters(db, filter);
  if (found.empty()) return std::nullopt;
  DeadLetter d = std::move(found[0]);
  SqlRows r = db.Query(Sql::kAttemptsOfJob, {d.job_id});
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
  return d;
}

int64_t PurgeMatching(SqlPort& db, const DeadLetterFilter& f) {
  return db.Run(Sql::kPurgeDeadLetters, {CRMSYNC_FILTER_ARGS(f)});
}

#undef CRMSYNC_FILTER_ARGS

}  // namespace crmsync::engine
