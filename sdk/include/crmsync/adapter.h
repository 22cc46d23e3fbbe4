// crmsync/adapter.h: the interface a CRM adapter implements.
//
// An adapter has two halves that never mix:
//  * Mapping (Mapper): a sync job becomes a small plan of CRM requests, a CRM
//    answer becomes what the engine stores, a CRM webhook becomes inbound
//    changes. Pure functions of their arguments: no network, no clock.
//  * Transport: sends one HttpRequest, returns one HttpResponse.
// plus Classify(), which reads an answer into a Status (DefaultClassify() is the
// outcome table; an adapter may refine it).
//
// Threading: the engine calls Configure() once, before anything else, from one
// thread. After it returns OK, every other method may be called concurrently
// from several worker threads and must be safe for that (mappers are usually
// stateless; the default HttpTransport is thread-safe).
//
// Errors: every method reports failure through its Status. An exception that
// escapes a plugin call is caught by the engine, logged with the plugin's name
// and treated as kInternal; it never crashes the engine, but it is a bug.
#ifndef CRMSYNC_ADAPTER_H_
#define CRMSYNC_ADAPTER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crmsync/entities.h"
#include "crmsync/http.h"
#include "crmsync/plugin_config.h"
#include "crmsync/status.h"

namespace crmsync {

/// What a plugin can do beyond the minimum; the engine adapts to these.
struct Capabilities {
  /// Most jobs the plugin accepts in one BuildBatch() call; 1 means no batching.
  uint32_t max_batch_size = 1;
  /// True when BuildLookup()/ReadLookup() find a record by its external reference.
  /// Without it, 409 and unknown-outcome creates go to the dead-letter queue.
  bool lookup_by_reference = false;
  /// Highest request rate the CRM allows, per second; 0 for no hint.
  double max_requests_per_second = 0;
  /// Most requests in flight at once; 0 for no hint.
  uint32_t max_concurrency = 0;
  /// True when BuildWebhookRegistration() is implemented.
  bool webhook_registration = false;
  /// True when ParseWebhook() reads the CRM's webhooks (the plugin has a
  /// webhook shape configured). Added in ABI 4.0.
  bool inbound_webhooks = false;
  /// True when PollChanges() lists the CRM's changes since a cursor. With
  /// inbound.poll "auto" (the default) the engine polls when this is true and
  /// inbound_webhooks is false. Added in ABI 4.0.
  bool change_polling = false;
};

/// Who the plugin is. name must equal the descriptor's name.
struct PluginInfo {
  std::string name;
  std::string version;
  std::string description;
  Capabilities capabilities;
};

/// One kind of CRM call in a plan.
enum class StepKind {
  kCreate,    ///< Create the record; the answer carries its external id.
  kUpdate,    ///< Update the record known by SyncJob::external_id.
  kActivity,  ///< Log an activity on the record (viewing, inquiry).
  kDeal,      ///< Open a deal for the record (CONVERTED).
};
/// "create", "update", "activity", "deal".
const char* StepKindName(StepKind kind) noexcept;
bool ParseStepKind(const std::string& name, StepKind* out) noexcept;

/// One unit of outbound work, as the engine hands it to mapping. The entity is the
/// record as the platform holds it now: every event's data is a patch, merged in
/// event order into the engine's mirror, so a job always carries the whole merged
/// entity (a coalesced job carries the newest state), and changed_fields names
/// what this job changed. A plugin sends either; see changed_fields.
struct SyncJob {
  std::string job_id;
  std::string event_id;
  EventType event_type = EventType::kLeadCreated;
  EntityKind entity_kind = EntityKind::kLead;
  std::string entity_id;
  /// The CRM's id for this record, when the engine has one linked.
  std::optional<std::string> external_id;
  /// Our stable reference sent to the CRM (externalReference), e.g. "lead:42";
  /// lookups by reference use it.
  std::string external_reference;
  /// Set when entity_kind is kLead.
  std::optional<Lead> lead;
  /// Set when entity_kind is kProperty.
  std::optional<Property> property;
  /// Set for inquiry.submitted.
  std::optional<Inquiry> inquiry;
  /// Set for dealer.assigned.
  std::optional<DealerAssignment> assignment;
  /// 1 for the first try.
  int attempt = 1;
  /// The wire names of the entity's fields this job changed ("status",
  /// "preferredLocation"), the union over the events a coalesced job absorbed.
  /// A name absent from the entity was cleared by the platform (null): send
  /// the CRM's way of clearing it. nullopt when the job carries the entity
  /// whole with nothing singled out (a replayed dead letter): send it all.
  /// A field not named here and present in the entity is unchanged: sending it
  /// again is harmless, leaving it out is allowed; never send it as empty.
  /// Added in ABI 2.0.
  std::optional<std::vector<std::string>> changed_fields;
  /// The CRM's ids of the records this job's entity refers to, by role, as
  /// the engine holds them when it hands the job out:
  ///  * "property": the CRM id of the lead's (or the inquiry's) propertyId,
  ///    from the links the engine keeps. A lead whose property the engine
  ///    knows but has not yet created in the CRM waits for it (docs/design.md
  ///    §4), so it is absent only when the platform never sent that property.
  ///  * "agent": the CRM user matched to the lead's assignedToId (or the
  ///    assignment's dealerId) by the agent directory.
  ///  * "propertyAgent": the CRM user matched to a property's dealerId.
  /// A role absent: no CRM id is known; send the platform id or nothing.
  /// Added in ABI 3.0.
  std::map<std::string, std::string> related;
};

/// What the engine keeps from a successful step.
struct StepResult {
  /// The CRM's id for the record; must be set after kCreate.
  std::optional<std::string> external_id;
};

/// A CRM webhook as received. ParseWebhook() gets it verified; VerifyWebhook()
/// gets it as it came.
struct WebhookDelivery {
  HeaderList headers;
  std::string body;
  /// The request's method ("POST"). Added in ABI 4.0.
  std::string method = "POST";
  /// The URL the CRM sent the request to, as the CRM saw it (schemes such as
  /// HubSpot's v3 sign it): crm.webhook.url's scheme, host, port and path
  /// (a proxy may have rewritten the path; without one, the request's) with
  /// the request's query; without crm.webhook.url, "http://" + the Host
  /// header + path and query. Added in ABI 4.0.
  std::string url;
  /// When the engine received it, Unix milliseconds, from the engine's clock
  /// (replay windows are measured against it, never against the wall clock
  /// read by the plugin). Added in ABI 4.0.
  int64_t received_ms = 0;
};

/// One change the CRM reports, in platform terms.
struct InboundChange {
  std::string crm_event;      ///< The CRM's own event name ("lead.updated").
  EntityKind entity_kind = EntityKind::kLead;
  std::string external_id;    ///< The CRM's id of the record.
  /// Platform-named fields that changed, as a JSON object text
  /// ({"status":"CONVERTED","notes":"Property booked"}). Statuses already mapped.
  std::string fields_json = "{}";
  /// The CRM's update time (ISO 8601) when it gives one, for stale-update checks.
  std::optional<std::string> updated_at;
  /// The CRM's ids of the events this change stands for (HubSpot's eventId; a
  /// change folded from several per-property events has one id each). The
  /// engine skips a change every one of whose events it applied before, in
  /// any delivery or poll. Empty: the change has no event id and is
  /// deduplicated with its delivery only. Added in ABI 4.0.
  std::vector<std::string> event_ids;
  /// True when the CRM only named the record (Zoho's notifications carry ids):
  /// fields_json is not read; the engine calls Adapter::FetchChange() to read
  /// the record before applying the change. Added in ABI 4.0.
  bool fetch = false;
};

/// What Adapter::PollChanges() is asked for. Added in ABI 4.0.
struct PollRequest {
  EntityKind entity_kind = EntityKind::kLead;
  /// What the previous page's next_cursor said, as the engine kept it
  /// durably; "" on the first poll ever (start from `now_ms`, less any overlap
  /// the plugin keeps: records changed before the engine first polled are for
  /// a backfill, not for polling).
  std::string cursor;
  /// The engine's clock, Unix milliseconds.
  int64_t now_ms = 0;
};

/// One page of changes. Added in ABI 4.0.
struct PollPage {
  /// The changes on this page, oldest first, fields mapped as ParseWebhook()
  /// maps them (event_ids set, so a change seen twice, across an overlap
  /// window or a page read again after a restart, is applied once).
  std::vector<InboundChange> changes;
  /// The cursor to ask from next time; the engine keeps it durably only after
  /// this page's changes are recorded. Must be set.
  std::string next_cursor;
  /// True when more pages are ready now: the engine asks again at once
  /// (within its rate budget) rather than after the poll interval.
  bool more = false;
};

/// What to register with the CRM so it sends webhooks to the engine.
struct WebhookRegistration {
  std::string url;
  std::vector<std::string> events;
  std::string secret;
};

/// Mapping: no network, no clock, no hidden state. See the file comment.
class Mapper {
 public:
  virtual ~Mapper() = default;

  /// The steps for `job`, in order. The default (DefaultPlan) is docs/design.md §4:
  /// create when no external id is linked, else update; then an activity for
  /// VIEWING_SCHEDULED, VIEWED and inquiry.submitted, a deal for CONVERTED
  /// (for a status only when the job changed it: changed_fields names
  /// "status", or is nullopt).
  /// The engine stores the plan and resumes at the step that failed.
  virtual Status Plan(const SyncJob& job, std::vector<StepKind>* steps);

  /// Builds the request for one step. job.external_id is set for every step after
  /// a create. kPermanent when the plugin cannot express this step.
  virtual Status BuildRequest(const SyncJob& job, StepKind step, HttpRequest* out) = 0;

  /// Reads a 2xx answer to a step: the external id after a create (required),
  /// optionally after others. A 2xx the plugin cannot read is kPermanent.
  virtual Status ReadResponse(const SyncJob& job, StepKind step, const HttpResponse& response,
                              StepResult* out) = 0;

  /// Builds a request that finds job's record by external_reference. The default
  /// returns kPermanent ("lookup not supported"); set lookup_by_reference when
  /// you implement it.
  virtual Status BuildLookup(const SyncJob& job, HttpRequest* out);

  /// Reads a lookup answer: sets *external_id when found, leaves it empty when the
  /// CRM has no such record (then the engine creates).
  virtual Status ReadLookup(const SyncJob& job, const HttpResponse& response,
                            std::optional<std::string>* external_id);

  /// Builds one request for up to Capabilities::max_batch_size jobs doing the same
  /// step. The default returns kPermanent (no batching).
  virtual Status BuildBatch(const std::vector<SyncJob>& jobs, StepKind step, HttpRequest* out);

  /// Reads a batch answer into one Status and StepResult per job, in the jobs'
  /// order, so one bad item does not fail the others.
  virtual Status ReadBatch(const std::vector<SyncJob>& jobs, StepKind step,
                           const HttpResponse& response, std::vector<Status>* statuses,
                           std::vector<StepResult>* results);

  /// Turns a verified webhook into zero or more changes. kInvalidRecord when the
  /// body is malformed (the engine answers 400 with the message). An event the
  /// plugin does not handle yields no change and OK.
  virtual Status ParseWebhook(const WebhookDelivery& delivery,
                              std::vector<InboundChange>* changes) = 0;

  /// Builds the request that registers the engine's webhook URL with the CRM.
  /// The default returns kPermanent; set webhook_registration when implemented.
  virtual Status BuildWebhookRegistration(const WebhookRegistration& registration,
                                          HttpRequest* out);
};

/// One user of the CRM (an agent records can be assigned to), as listed by
/// Adapter::ListUsers. Added in ABI 3.0.
struct CrmUser {
  std::string id;     ///< The CRM's id for the user.
  std::string email;  ///< "" when the CRM does not give one.
  /// The platform's dealer id when the CRM holds it on the user (a custom
  /// field the mapping names); "" otherwise.
  std::string platform_id;
  bool active = true;  ///< False for a deactivated user: never assigned.
};

/// What the engine offers a plugin. Thread-safe. Added in ABI 3.0.
class PluginHost {
 public:
  virtual ~PluginHost();
  /// The value this plugin last saved under `key` (any engine sharing the
  /// store), or nullopt. kRetryable when the store cannot be read.
  virtual Status LoadState(const std::string& key, std::optional<std::string>* value) = 0;
  /// Saves `value` under `key` for this plugin, durably: committed to the
  /// engine's store when it returns OK, so a restart, or another engine on the
  /// same store, reads it (a rotated OAuth refresh token, say). Keys are
  /// 1-128 of [A-Za-z0-9_.:-]; values up to 64 KiB. Values are secrets: the
  /// engine never logs or shows them.
  virtual Status SaveState(const std::string& key, const std::string& value) = 0;
};

/// Sends one request. Implementations are thread-safe and never throw.
class Transport {
 public:
  virtual ~Transport() = default;
  /// Sends `request` and waits for the answer or a transport error.
  virtual HttpResponse Send(const HttpRequest& request) = 0;
};

/// The class a plugin exports (one per plugin, named in CRMSYNC_PLUGIN). It must
/// be default-constructible; construction must not fail or do I/O.
class Adapter {
 public:
  virtual ~Adapter() = default;

  /// Who the plugin is and what it can do. Valid before Configure().
  virtual PluginInfo Info() const = 0;

  /// Hands the plugin the engine's services; called once, before Configure()
  /// (which may already load state). `host` outlives the adapter. The default
  /// ignores it. Added in ABI 3.0.
  virtual void Attach(PluginHost* host);

  /// Reads settings; called once before any other call but Attach(). kInvalidConfig with a
  /// message naming the key and the reason when a setting is wrong or missing;
  /// the engine then refuses to start.
  virtual Status Configure(const PluginConfig& config) = 0;

  /// The mapping half. Valid after Configure() returned OK.
  virtual Mapper& mapping() = 0;

  /// The transport half. Valid after Configure() returned OK.
  virtual Transport& transport() = 0;

  /// Reads a CRM answer to `request` into a Status. The default is
  /// DefaultClassify(); override to refine (e.g. "400 with code DUPLICATE is 409").
  virtual Status Classify(const HttpRequest& request, const HttpResponse& response);

  /// Checks a webhook with the CRM's own signature scheme (crmsync/webhook_verify.h
  /// has HubSpot's, HMAC over the body, basic auth and tokens). The engine asks
  /// the plugin first: OK accepts, kUnauthenticated refuses (its message starts
  /// with the reason, "missing", "bad_signature", "stale" or "malformed", and
  /// ": "; the engine answers 401 without it), kNotFound (the default) says the
  /// plugin has no scheme of its own, and the engine then checks its own
  /// (X-CRM-Secret, Standard Webhooks). Changed in ABI 4.0: asked first.
  virtual Status VerifyWebhook(const WebhookDelivery& delivery);

  /// Reads the record a notification-only change names (change->fetch is
  /// true; entity_kind and external_id are set) and fills fields_json and
  /// updated_at as ParseWebhook() would from a full delivery. Called from the
  /// engine's inbound worker, within the rate budget; may use the transport.
  /// kNotFound when the CRM has no such record any more (the change is
  /// dropped); kRetryable / kUnavailable to have the delivery tried again
  /// later; kPermanent when the plugin cannot fetch (the default). Added in
  /// ABI 4.0.
  virtual Status FetchChange(InboundChange* change);

  /// Reads one page of the CRM's changes to records of request.entity_kind
  /// since request.cursor ("modified since" with an overlap window, or the
  /// CRM's own cursor). Called from the engine's poller thread, within the
  /// rate budget; may use the transport. The engine records the page's
  /// changes through the same path as a webhook, then keeps next_cursor
  /// durably, so a restart resumes where it stopped and nothing between two
  /// polls is skipped. kNotFound (the default) when the plugin cannot poll
  /// this entity. Added in ABI 4.0.
  virtual Status PollChanges(const PollRequest& request, PollPage* page);

  /// A JSON text describing what the plugin holds, for diagnostics (mock-crm
  /// dumps its in-memory CRM here). The default is "{}". A top-level
  /// "warnings" array of strings is shown by `crmsync check-config` and
  /// `crmsync plugin-check` (e.g. a configuration that works but was never
  /// checked against the CRM). A top-level "rateLimitHeaders" object names the
  /// headers in which the CRM states its request budget, when they are not
  /// among the engine's defaults (crmsync/rate_limit.h, ABI 2.1); the engine
  /// reads it once after Configure() and refuses to start when it is invalid.
  virtual std::string Dump();

  /// Lists the CRM's users (every page), so the engine's agent directory can
  /// match platform dealers to CRM users (by the platform id the CRM holds,
  /// or by email) in both directions: outbound SyncJob::related["agent"],
  /// inbound assignedAgent. Called from a worker thread when the directory's
  /// table expires (inbound.agent_ttl_ms); may use the transport. The
  /// default returns kNotFound: the plugin cannot list users, and the engine
  /// uses only inbound.agent_map (asking again once per TTL, so return it
  /// at once, without a request). Replaces ABI 2's ListAgents.
  virtual Status ListUsers(std::vector<CrmUser>* users);
};

/// The default plan (see Mapper::Plan), for adapters that refine it.
std::vector<StepKind> DefaultPlan(const SyncJob& job);

}  // namespace crmsync

#endif  // CRMSYNC_ADAPTER_H_
