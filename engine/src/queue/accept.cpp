// queue/accept.cpp: the accept rule (see accept.h).
#include "queue/accept.h"

#include <string>

#include "queue/store_codec.h"

namespace crmsync::engine {

int64_t QueueJob(SqlPort& db, const NewJob& job, int64_t now_ms) {
  // Behind the entity's unfinished job, if any: one job per entity runs at a time.
  const bool has_active = !db.Query(Sql::kHasActiveJob, {job.kind, job.entity_id}).Empty();
  return db.Insert(Sql::kInsertJob,
                   {job.event_id, job.event_type, job.kind, job.entity_id, job.priority,
                    has_active ? "queued" : "ready", job.payload, job.coalescable ? 1 : 0,
                    now_ms});
}

namespace {

// A resend (resync, repair): the mirror's entity as it stands goes out again,
// as a job of its own behind the entity's unfinished one, its create looking
// the record up first when asked. Nothing is merged: the platform said
// nothing new.
void AcceptResend(SqlPort& db, const IncomingEvent& e, const std::string& stored,
                  int64_t now_ms, AcceptResult* result) {
  const char* type = EventTypeName(e.type);
  const std::string kind = EntityKindName(e.kind);
  if (stored.empty()) {
    db.Run(Sql::kInsertEvent, {e.event_id, int64_t{0}, type, now_ms});
    result->stale = true;
    return;
  }
  if (!e.forget_link_plugin.empty()) {
    db.Run(Sql::kForgetLink, {e.forget_link_plugin, kind, e.entity_id});
    // A job of the entity still pending may have looked the record up
    // already (and been released, its doubt cleared): without the link it
    // would create. It looks again first.
    db.Run(Sql::kMarkEntityInDoubt, {kind, e.entity_id});
  }
  const std::string payload = JobPayload(e, stored, e.resend_fields);
  const int64_t job_id = QueueJob(
      db, {e.event_id, type, kind, e.entity_id, static_cast<int>(e.priority), payload, false},
      now_ms);
  if (e.lookup_first) db.Run(Sql::kMarkInDoubt, {job_id});
  db.Run(Sql::kInsertEvent, {e.event_id, job_id, type, now_ms});
  result->job_id = job_id;
}

}  // namespace

void AcceptEvent(SqlPort& db, const IncomingEvent& e, int64_t now_ms, AcceptResult* result) {
  result->event_id = e.event_id;
  {
    SqlRows seen = db.Query(Sql::kFindEvent, {e.event_id});
    if (!seen.Empty()) {
      result->job_id = seen.Int(0, 0);
      result->duplicate = true;
      return;
    }
  }
  const std::string kind = EntityKindName(e.kind);
  const bool is_lead = e.kind == EntityKind::kLead;
  const char* type = EventTypeName(e.type);
  std::string stored;
  std::string stored_times;
  std::string inbound_hash;
  {
    SqlRows mirror = db.Query(is_lead ? Sql::kMirrorLead : Sql::kMirrorProperty, {e.entity_id});
    if (!mirror.Empty()) {
      stored = mirror.Text(0, 0);
      stored_times = mirror.Text(0, 1);
      inbound_hash = mirror.Text(0, 2);
    }
  }
  if (e.resend) {
    AcceptResend(db, e, stored, now_ms, result);
    return;
  }
  // The event's patch merged into the mirror, in event order (store_codec).
  PatchMerge merge = MergeEventPatch(stored, stored_times, e.entity_json,
                                     IsoMs(e.occurred_at).value_or(now_ms), is_lead, e.data_path);
  // An event older than every field it carries, or one that carries back
  // exactly what the CRM last set (no sync loop), is recorded but not sent.
  // Inquiries are new facts: always sent.
  if (e.type != EventType::kInquirySubmitted &&
      (merge.stale || (!inbound_hash.empty() && merge.echo_hash == inbound_hash))) {
    db.Run(Sql::kInsertEvent, {e.event_id, int64_t{0}, type, now_ms});
    if (merge.stale) {
      result->stale = true;
      return;
    }
    db.Run(Sql::kBumpCounter, {"echo_suppressed_outbound", 1});
    result->echo_suppressed = true;
    return;
  }
  db.Run(is_lead ? Sql::kUpsertLead : Sql::kUpsertProperty,
         {e.entity_id, merge.entity_json, now_ms, merge.field_times});
  if (e.type == EventType::kInquirySubmitted) {
    db.Run(Sql::kUpsertInquiry, {e.inquiry_id, e.entity_id, e.inquiry_json, now_ms});
  }

  // Coalescing: the entity's newest unfinished job absorbs this one when both
  // are plain upserts and it has not been tried yet. The absorbing job sends
  // what either changed.
  int64_t job_id = 0;
  if (e.coalescable) {
    SqlRows last = db.Query(Sql::kLastActiveJob, {kind, e.entity_id});
    if (!last.Empty()) {
      const std::string state = last.Text(0, 1);
      const bool absorbable = (state == "queued" || state == "ready") && last.Int(0, 2) == 1 &&
                              last.Int(0, 3) == 0 && last.Int(0, 4) == 0 && last.Text(0, 5).empty();
      if (absorbable) {
        const std::string payload =
            JobPayload(e, merge.entity_json, UnionChanged(last.Text(0, 6), merge.changed));
        // Another engine may have leased it since the read: then a job of its own.
        if (db.Run(Sql::kAbsorb, {last.Int(0, 0), e.event_id, type, payload,
                                  static_cast<int>(e.priority), now_ms}) > 0) {
          job_id = last.Int(0, 0);
        }
      }
    }
  }
  if (job_id != 0) {
    db.Run(Sql::kBumpCounter, {"coalesced", 1});
    result->coalesced = true;
  } else {
    // The job payload: the merged entity, the event's extras, what it changed.
    job_id = QueueJob(db,
                      {e.event_id, type, kind, e.entity_id, static_cast<int>(e.priority),
                       JobPayload(e, merge.entity_json, merge.changed), e.coalescable},
                      now_ms);
  }
  if (e.lookup_first) db.Run(Sql::kMarkInDoubt, {job_id});
  db.Run(Sql::kInsertEvent, {e.event_id, job_id, type, now_ms});
  result->job_id = job_id;
}

}  // namespace crmsync::engine
