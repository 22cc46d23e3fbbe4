// queue/queue_types.h: the values that cross the store interface for the
// outbound queue: accepted events, leased jobs, outcomes, dead letters.
//
// Plain values; no shared state.
#ifndef CRMSYNC_ENGINE_QUEUE_QUEUE_TYPES_H_
#define CRMSYNC_ENGINE_QUEUE_QUEUE_TYPES_H_

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/adapter.h"
#include "crmsync/entities.h"

namespace crmsync::engine {

/// 0 high, 1 medium, 2 low, 3 bulk: leased in that order. Bulk is the
/// engine's own work (backfill, resync, reconcile repairs), behind every live
/// event; the events API takes high, medium and low.
enum class Priority { kHigh = 0, kMedium = 1, kLow = 2, kBulk = 3 };
constexpr int kPriorityCount = 4;
const char* PriorityName(Priority p) noexcept;
/// high, medium or low (bulk is not the events API's to set).
bool ParsePriority(const std::string& name, Priority* out) noexcept;
/// The default priority of an event type (lead events high, inquiries high,
/// dealer assignments medium, properties low).
Priority DefaultPriority(EventType type) noexcept;

/// One validated event, ready to be merged into its mirror row and queued.
///
/// Every event's data is a patch of its entity (docs/events.md): entity_json
/// holds only the fields the event carried, each as the codec reads it, with
/// null for a field the platform cleared; an absent field is unchanged. The
/// store merges it into the mirror in event order (MergeEventPatch).
struct IncomingEvent {
  std::string event_id;
  EventType type = EventType::kLeadCreated;
  Priority priority = Priority::kMedium;
  std::string occurred_at;
  EntityKind kind = EntityKind::kLead;
  std::string entity_id;
  /// The patch of the entity (lead or property) in wire form, "id" always set.
  /// dealer.assigned patches the lead's assignedToId; inquiry.submitted
  /// patches the lead it carries.
  std::string entity_json;
  /// inquiry.submitted: the inquiry (wire form, lead included) and its id.
  std::string inquiry_id;
  std::string inquiry_json;
  /// dealer.assigned: the assignment.
  std::optional<DealerAssignment> assignment;
  /// A pure upsert (no activity or deal step): may be absorbed into, or absorb,
  /// another pending upsert of the same entity.
  bool coalescable = false;
  /// The JSON path of the event's data in the request ("$.events[2].data"),
  /// to name a field when the merged entity breaks the contract.
  std::string data_path = "$.data";
  /// The job starts in doubt: its create looks the record up by reference
  /// first and links what it finds (creates-or-links), for backfill, resync
  /// and repairs. Only for a plugin that can look records up.
  bool lookup_first = false;
  /// The job resends the mirror's entity as it stands (resync, repair):
  /// entity_json is not merged and no stale or echo check applies. An entity
  /// not in the mirror makes no job (AcceptResult::stale).
  bool resend = false;
  /// With resend: the fields the job names as changed; nullopt sends the
  /// entity whole (SyncJob::changed_fields nullopt).
  std::optional<std::vector<std::string>> resend_fields;
  /// Drops this plugin's link of the entity in the same transaction (a
  /// resync to a switched CRM: the link's id is the old CRM's).
  std::string forget_link_plugin;
};

/// Thrown by Store::Accept() when an event's patch, merged into the stored
/// entity, no longer meets the wire contract (a budgetMin above the stored
/// budgetMax): nothing of the call is written. path names the patch's field.
class PatchConflict : public std::runtime_error {
 public:
  PatchConflict(std::string path, const std::string& message)
      : std::runtime_error(path + ": " + message), path_(std::move(path)), message_(message) {}
  const std::string& path() const noexcept { return path_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string path_;
  std::string message_;
};

/// What intake answers for one event.
struct AcceptResult {
  std::string event_id;
  int64_t job_id = 0;
  bool duplicate = false;  ///< The event id was accepted before; nothing written.
  bool coalesced = false;  ///< Absorbed into a pending job for the same entity.
  /// Only echoed the state the CRM last sent us: recorded, no job (job_id 0).
  bool echo_suppressed = false;
  /// Older (occurredAt) than every field it carried: recorded, nothing
  /// merged, no job (job_id 0).
  bool stale = false;
};

/// Where the record a job refers to stands, read when the job is leased.
enum class RelatedState {
  kNone,     ///< No reference, or the platform never sent that record: send without.
  kLinked,   ///< The CRM holds it: its id goes in SyncJob::related.
  kPending,  ///< Known, not yet created in the CRM, its own job unfinished: wait.
  kUnsent,   ///< Known, no CRM id and no job left (dead-lettered): send without, logged.
};
const char* RelatedStateName(RelatedState state) noexcept;

/// A job handed to a worker. lease_token guards the completion: an outcome for
/// a lease that expired and was reclaimed is ignored.
struct LeasedJob {
  int64_t id = 0;
  std::string event_id;
  EventType type = EventType::kLeadCreated;
  EntityKind kind = EntityKind::kLead;
  std::string entity_id;
  Priority priority = Priority::kMedium;
  /// {"lead":{...}} or {"property":{...}}, plus "inquiry" / "assignment".
  std::string payload;
  int attempts = 0;          ///< Attempts used so far.
  std::string plan;          ///< Stored plan ("create,deal"), "" before the first try.
  int step = 0;              ///< Index in plan of the next step to run.
  std::optional<std::string> external_id;  ///< From the link for the leasing plugin.
  std::string last_sent_hash;              ///< Hash of what was last sent for the link.
  /// True when an earlier lease of this job ended without a recorded outcome
  /// (crash, expiry): a create may have reached the CRM, so look it up first.
  bool in_doubt = false;
  int64_t lease_token = 0;
  int64_t created_at_ms = 0;
  /// The property a lead or inquiry job refers to (its propertyId; the
  /// inquiry's before the lead's), "" for none, and where it stands for the
  /// leasing plugin (docs/design.md §4, "Related records").
  std::string related_property_id;
  RelatedState related_property_state = RelatedState::kNone;
  /// The property's CRM id, when related_property_state is kLinked.
  std::optional<std::string> related_property;
};

/// One try of one step, kept for the dead-letter queue and the audit trail.
struct AttemptRecord {
  int attempt = 0;           ///< 1-based attempt number of the job.
  int step = 0;
  std::string step_kind;     ///< "create", "update", "lookup", ...
  int64_t at_ms = 0;
  std::string outcome;       ///< StatusCodeName of the classification.
  int http_status = 0;       ///< 0 when no answer.
  std::string message;       ///< The CRM's reason or the transport error.
};

/// What to record after a lease.
struct JobOutcome {
  enum class Kind {
    kDone,        ///< Every step succeeded.
    kRetry,       ///< Failed; run again at available_at_ms (an attempt was used).
    kRelease,     ///< Not tried or not counted (429, 401, circuit, shutdown); run at available_at_ms.
    kDeadLetter,  ///< Give up; keep every attempt.
  };
  int64_t job_id = 0;
  int64_t lease_token = 0;
  Kind kind = Kind::kDone;
  int attempts = 0;             ///< Attempts used in total after this lease.
  int64_t available_at_ms = 0;  ///< kRetry / kRelease.
  std::string plan;             ///< Plan to keep (progress survives a retry).
  int step = 0;                 ///< Next step to run.
  bool update_link = false;     ///< Write external_id (or clear it when nullopt) and sent_hash.
  std::optional<std::string> external_id;
  std::string sent_hash;
  std::vector<AttemptRecord> attempts_made;
  std::string error_class;      ///< kDeadLetter / kRetry: StatusCodeName of the last failure.
  std::string reason;           ///< kDeadLetter / kRetry: the last failure's message.
  /// A create may have reached the CRM without an answer: the next lease must
  /// look the record up before creating.
  bool in_doubt = false;
  /// Entries for the entity's audit trail, (action, detail): what the job
  /// went without (an agent with no CRM user, a related record with no CRM id).
  std::vector<std::pair<std::string, std::string>> notes;
};

/// Queue figures for status, metrics and readiness.
struct QueueStats {
  int64_t ready = 0;
  int64_t queued = 0;    ///< Waiting behind an earlier job of the same entity.
  int64_t delayed = 0;   ///< Waiting for a retry time.
  int64_t leased = 0;
  int64_t done = 0;
  int64_t dead = 0;      ///< Dead letters not yet replayed or purged.
  int64_t ready_by_priority[kPriorityCount] = {0, 0, 0, 0};
  int64_t oldest_pending_created_ms = 0;  ///< 0 when nothing is pending.
  int64_t coalesced_total = 0;
  int64_t events_total = 0;
  int64_t echo_suppressed_outbound = 0;  ///< Platform events that only echoed the CRM.
  int64_t echo_suppressed_inbound = 0;   ///< CRM changes that changed nothing.
  int64_t deliveries_pending = 0;        ///< Webhooks received, not yet processed.
};

/// Which dead letters an operation applies to; empty fields match all.
struct DeadLetterFilter {
  std::optional<int64_t> id;
  std::string plugin;
  std::string error_class;
  std::string entity_kind;
  std::string entity_id;
  int64_t since_ms = 0;         ///< Dead-lettered at or after.
  int64_t until_ms = 0;         ///< Dead-lettered before (0: no bound).
  bool include_replayed = false;
  int limit = 100;
};

struct DeadLetter {
  int64_t id = 0;
  int64_t job_id = 0;
  std::string plugin;
  std::string event_id;
  std::string event_type;
  std::string entity_kind;
  std::string entity_id;
  std::string error_class;
  std::string reason;
  int attempts = 0;
  int64_t created_ms = 0;
  int64_t replayed_ms = 0;      ///< 0 when not replayed.
  int64_t replay_job_id = 0;
  std::vector<AttemptRecord> history;  ///< Filled by GetDeadLetter().
};

/// One job of an entity, for the admin API.
struct JobInfo {
  int64_t id = 0;
  std::string event_id;
  std::string event_type;
  std::string state;
  int attempts = 0;
  std::string plan;
  int step = 0;
  int64_t available_at_ms = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string last_error;
  int coalesced = 0;
};

/// One line of an entity's audit trail.
struct AuditRecord {
  int64_t id = 0;
  int64_t at_ms = 0;
  int64_t job_id = 0;
  std::string action;  ///< synced, dead_lettered, replayed, inbound_update, inbound_stale,
                       ///< agent_unmatched, related_missing, ...
  std::string detail;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_QUEUE_QUEUE_TYPES_H_
