// queue/complete.cpp: the outcome transitions (see complete.h).
#include "queue/complete.h"

#include "queue/replay.h"
#include "queue/store_codec.h"

namespace crmsync::engine {

namespace {

const char* StateName(JobOutcome::Kind kind, bool due) {
  switch (kind) {
    case JobOutcome::Kind::kDone:
      return "done";
    case JobOutcome::Kind::kDeadLetter:
      return "dead";
    case JobOutcome::Kind::kRetry:
    case JobOutcome::Kind::kRelease:
      return due ? "ready" : "delayed";
  }
  return "ready";
}

// What a done job sent, kept a while per link: an inbound change that only
// repeats it is our own echo (EchoesEarlierSend).
void RememberSent(SqlPort& db, const std::string& plugin, const std::string& kind,
                  const std::string& entity_id, int64_t job_id, int64_t now_ms) {
  SqlRows payload = db.Query(Sql::kJobPayload, {job_id});
  if (payload.Empty()) return;
  SqlRows recent = db.Query(Sql::kGetSentRecent, {plugin, kind, entity_id});
  if (recent.Empty()) return;
  const std::string text = AppendSent(recent.Text(0, 0), payload.Text(0, 0), now_ms);
  db.Run(Sql::kSetSentRecent, {plugin, kind, entity_id, text});
}

}  // namespace

void MakeNextReady(SqlPort& db, const std::string& kind, const std::string& entity_id,
                   int64_t now_ms) {
  SqlRows next = db.Query(Sql::kNextQueued, {kind, entity_id});
  if (next.Empty()) return;
  db.Run(Sql::kMakeReady, {next.Int(0, 0), now_ms});
}

void RecordOutcome(SqlPort& db, const std::string& plugin, const JobOutcome& o, int64_t now_ms) {
  SqlRows lease = db.Query(Sql::kCurrentLease, {o.job_id, o.lease_token});
  if (lease.Empty()) return;  // a stale lease
  const std::string kind = lease.Text(0, 0);
  const std::string entity_id = lease.Text(0, 1);
  const std::string event_id = lease.Text(0, 2);
  const std::string event_type = lease.Text(0, 3);
  for (const auto& [action, detail] : o.notes) {
    AuditJob(db, now_ms, kind, entity_id, o.job_id, action, detail);
  }
  for (const AttemptRecord& a : o.attempts_made) {
    db.Run(Sql::kInsertAttempt, {o.job_id, a.attempt, a.step, a.step_kind, a.at_ms, a.outcome,
                                 a.http_status, a.message});
  }
  if (o.update_link) {
    db.Run(Sql::kUpsertLink, {plugin, kind, entity_id, o.external_id, o.sent_hash, now_ms});
  }
  const bool due = o.available_at_ms <= now_ms;
  db.Run(Sql::kFinishJob,
         {o.job_id, StateName(o.kind, due), o.attempts, o.plan, o.step, o.available_at_ms,
          o.kind == JobOutcome::Kind::kDone ? std::string() : o.reason, now_ms,
          o.in_doubt ? 1 : 0});
  if (o.kind == JobOutcome::Kind::kDone) {
    RememberSent(db, plugin, kind, entity_id, o.job_id, now_ms);
    AuditJob(db, now_ms, kind, entity_id, o.job_id, "synced",
             "event " + event_id + " (" + event_type + ") via " + plugin +
                 (o.external_id ? " as " + *o.external_id : ""));
    MakeNextReady(db, kind, entity_id, now_ms);
  } else if (o.kind == JobOutcome::Kind::kDeadLetter) {
    db.Run(Sql::kInsertDeadLetter, {o.job_id, plugin, event_id, event_type, kind, entity_id,
                                    o.error_class, o.reason, o.attempts, now_ms});
    AuditJob(db, now_ms, kind, entity_id, o.job_id, "dead_lettered",
             "event " + event_id + ": " + o.error_class + ": " + o.reason);
    MakeNextReady(db, kind, entity_id, now_ms);
  }
}

}  // namespace crmsync::engine
