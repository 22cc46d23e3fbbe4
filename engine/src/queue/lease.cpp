// queue/lease.cpp: leased rows to LeasedJobs (see lease.h).
#include "queue/lease.h"

#include <algorithm>

namespace crmsync::engine {

std::vector<LeasedJob> TakeLeased(SqlPort& db, const std::string& plugin, const SqlRows& r) {
  std::vector<LeasedJob> jobs;
  for (int i = 0; i < r.Rows(); ++i) {
    LeasedJob job;
    job.id = r.Int(i, 0);
    job.event_id = r.Text(i, 1);
    ParseEventType(r.Text(i, 2), &job.type);
    ParseEntityKind(r.Text(i, 3), &job.kind);
    job.entity_id = r.Text(i, 4);
    job.priority = static_cast<Priority>(r.Int(i, 5));
    job.payload = r.Text(i, 6);
    job.attempts = static_cast<int>(r.Int(i, 7));
    job.plan = r.Text(i, 8);
    job.step = static_cast<int>(r.Int(i, 9));
    job.in_doubt = r.Int(i, 10) != 0;
    job.created_at_ms = r.Int(i, 11);
    job.lease_token = r.Int(i, 12);
    jobs.push_back(std::move(job));
  }
  std::sort(jobs.begin(), jobs.end(), [](const LeasedJob& a, const LeasedJob& b) {
    return a.priority != b.priority ? a.priority < b.priority : a.id < b.id;
  });
  for (LeasedJob& job : jobs) {
    SqlRows link = db.Query(Sql::kGetLink, {plugin, EntityKindName(job.kind), job.entity_id});
    if (!link.Empty()) {
      job.external_id = link.OptText(0, 0);
      job.last_sent_hash = link.Text(0, 1);
    }
  }
  return jobs;
}

}  // namespace crmsync::engine
