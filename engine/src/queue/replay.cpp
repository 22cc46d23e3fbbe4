// queue/replay.cpp: the dead-letter replay rule (see replay.h).
#include "queue/replay.h"

#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "queue/accept.h"
#include "queue/store_codec.h"

namespace crmsync::engine {

void AuditJob(SqlPort& db, int64_t now_ms, const std::string& kind, const std::string& entity_id,
              int64_t job_id, const std::string& action, const std::string& detail) {
  db.Run(Sql::kInsertAudit, {now_ms, kind, entity_id, job_id, action, detail});
}

std::optional<int64_t> ReplayDeadLetter(SqlPort& db, const DeadLetter& d, int64_t now_ms) {
  // Listed before this write: a concurrent replay or purge may have taken it since.
  if (db.Query(Sql::kDeadLetterOpen, {d.id}).Empty()) return std::nullopt;
  if (d.plugin == "callback") {
    // A change-feed callback that gave up (job_id holds -seq): send it again.
    db.Run(Sql::kRequeueCallback, {-d.job_id, now_ms});
    db.Run(Sql::kMarkReplayed, {d.id, now_ms, int64_t{0}});
    return int64_t{0};
  }
  SqlRows old = db.Query(Sql::kJobForReplay, {d.job_id});
  if (old.Empty()) return std::nullopt;
  NewJob job{old.Text(0, 0), old.Text(0, 1), old.Text(0, 2), old.Text(0, 3),
             static_cast<int>(old.Int(0, 4)), old.Text(0, 5), old.Int(0, 6) != 0};
  // The entity as the platform holds it now; the event's extras as they were.
  SqlRows mirror =
      db.Query(job.kind == "property" ? Sql::kGetProperty : Sql::kGetLead, {job.entity_id});
  if (!mirror.Empty() && !mirror.Text(0, 0).empty()) {
    Poco::JSON::Object::Ptr object =
        Poco::JSON::Parser().parse(job.payload).extract<Poco::JSON::Object::Ptr>();
    object->set(job.kind, Poco::JSON::Parser().parse(mirror.Text(0, 0)));
    job.payload = Stringify(object);
  }
  const int64_t job_id = QueueJob(db, job, now_ms);
  db.Run(Sql::kMarkReplayed, {d.id, now_ms, job_id});
  AuditJob(db, now_ms, job.kind, job.entity_id, job_id, "replayed",
           "dead letter " + std::to_string(d.id) + " of job " + std::to_string(d.job_id));
  return job_id;
}

}  // namespace crmsync::engine
