// sync/inbound_merge.cpp: the inbound merge rules (see inbound_merge.h).
#include "sync/inbound_merge.h"

#include <algorithm>
#include <optional>
#include <string>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "queue/replay.h"  // AuditJob
#include "queue/store_codec.h"
#include "sync/inbound_codec.h"

namespace crmsync::engine {

namespace {

// Whether `candidate` repeats a state we sent lately for the entity's link.
bool EchoesEarlierSend(SqlPort& db, const std::string& plugin, const std::string& kind,
                       const std::string& entity_id, const Poco::JSON::Object& candidate,
                       int64_t now_ms) {
  SqlRows recent = db.Query(Sql::kGetSentRecent, {plugin, kind, entity_id});
  if (recent.Empty()) return false;
  return MatchesEarlierSend(recent.Text(0, 0), kind, candidate, now_ms);
}

// Whether every one of the change's CRM event ids was applied before (false
// when it has none: such a change is deduplicated with its delivery only).
bool EveryEventKnown(SqlPort& db, const std::string& plugin, const InboundChange& change) {
  if (change.event_ids.empty()) return false;
  for (const std::string& id : change.event_ids) {
    if (db.Query(Sql::kInboundEventKnown, {plugin, id}).Empty()) return false;
  }
  return true;
}

InboundResult MergeChange(SqlPort& db, const InboundDelivery& delivery,
                          const InboundChange& change, const InboundRules& rules, int64_t now_ms) {
  InboundResult result;
  const bool is_lead = change.entity_kind == EntityKind::kLead;
  const std::string kind = EntityKindName(change.entity_kind);
  result.entity_kind = kind;
  // A change a plugin got wrong is one invalid result; throwing would leave the
  // whole delivery pending and block every delivery after it.
  Poco::JSON::Object::Ptr fields;
  try {
    Poco::Dynamic::Var parsed =
        Poco::JSON::Parser().parse(change.fields_json.empty() ? "{}" : change.fields_json);
    if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
      fields = parsed.extract<Poco::JSON::Object::Ptr>();
    }
  } catch (const Poco::Exception&) {
  }

  // The entity: by its link, or new when the CRM knew it first.
  bool created = false;
  {
    SqlRows link = db.Query(Sql::kLinkByExternal, {delivery.plugin, kind, change.external_id});
    if (!link.Empty()) result.entity_id = link.Text(0, 0);
  }
  if (!fields) {
    result.kind = InboundResult::Kind::kInvalid;
    result.reason =
        "the plugin's fields for CRM record " + change.external_id + " are not a JSON object";
    AuditJob(db, now_ms, kind,
          result.entity_id.empty() ? IdForCrmRecord(change.external_id) : result.entity_id, 0,
          "inbound_invalid", "delivery " + delivery.id + ": " + result.reason);
    return result;
  }
  if (result.entity_id.empty()) {
    created = true;
    result.entity_id = IdForCrmRecord(change.external_id);
  }
  // The mirror row is read, merged and written under the entity's lock, as
  // Accept writes it.
  db.LockEntity(kind, result.entity_id);
  if (created) {
    db.Run(Sql::kUpsertLink, {delivery.plugin, kind, result.entity_id, change.external_id, "", now_ms});
  }
  Poco::JSON::Object::Ptr current = new Poco::JSON::Object();
  {
    SqlRows mirror = db.Query(is_lead ? Sql::kGetLead : Sql::kGetProperty, {result.entity_id});
    if (!mirror.Empty()) {
      current = Poco::JSON::Parser().parse(mirror.Text(0, 0)).extract<Poco::JSON::Object::Ptr>();
    } else {
      created = true;
    }
  }
  current->set("id", result.entity_id);

  // Stale: the CRM's change is older than what we hold.
  if (!created && change.updated_at && current->has("updatedAt")) {
    std::optional<int64_t> theirs = IsoMs(*change.updated_at);
    std::optional<int64_t> ours = IsoMs(current->optValue<std::string>("updatedAt", ""));
    if (theirs && ours && *theirs < *ours) {
      result.kind = InboundResult::Kind::kStale;
      result.reason = "CRM update of " + *change.updated_at + " is older than ours of " +
                      current->getValue<std::string>("updatedAt");
      AuditJob(db, now_ms, kind, result.entity_id, 0, "inbound_stale",
            "delivery " + delivery.id + ": " + result.reason);
      return result;
    }
  }

  // Merge the fields the CRM may change.
  Poco::JSON::Object::Ptr changed = new Poco::JSON::Object();
  MergeInboundFields(*fields, rules, is_lead, created, current.get(), changed.get(), &result);
  // A late echo of an earlier state we sent (the CRM notifies our own update
  // after a newer one went out) would roll the mirror back: ignore it.
  if (!created && !result.changed_fields.empty() &&
      EchoesEarlierSend(db, delivery.plugin, kind, result.entity_id, *changed, now_ms)) {
    result.changed_fields.clear();
  }
  if (result.changed_fields.empty() && !created) {
    result.kind = InboundResult::Kind::kNoChange;
    db.Run(Sql::kBumpCounter, {"echo_suppressed_inbound", 1});
    return result;
  }
  if (change.updated_at) current->set("updatedAt", *change.updated_at);

  // The merged record must still meet the wire contract.
  std::string entity_json;
  std::string echo_hash;
  std::string fault = EncodeMergedEntity(*current, is_lead, &entity_json, &echo_hash);
  if (!fault.empty()) {
    result.kind = InboundResult::Kind::kInvalid;
    result.reason = fault;
    AuditJob(db, now_ms, kind, result.entity_id, 0, "inbound_invalid",
          "delivery " + delivery.id + ": " + result.reason);
    return result;
  }
  db.Run(is_lead ? Sql::kInboundLead : Sql::kInboundProperty,
         {result.entity_id, entity_json, now_ms, echo_hash});
  result.change_seq = db.Insert(Sql::kInsertChange,
                                {now_ms, kind, result.entity_id, delivery.id, change.crm_event,
                                 Stringify(changed), entity_json,
                                 rules.queue_callbacks ? "pending" : "none"});
  result.kind = created ? InboundResult::Kind::kCreated : InboundResult::Kind::kApplied;
  std::string list;
  for (const std::string& f : result.changed_fields) list += (list.empty() ? "" : ",") + f;
  AuditJob(db, now_ms, kind, result.entity_id, 0, created ? "inbound_create" : "inbound_update",
        "delivery " + delivery.id + " (" + change.crm_event + "): " + list);
  return result;
}

// Per-event dedup around the merge: a change whose every event was applied
// before is a duplicate and writes only its audit line; any other change is
// merged, whatever the outcome, and its event ids remembered, so the same
// events brought again (a resent webhook under a new delivery id, a poll page
// read twice, an overlap window) are not applied twice. A change folded from
// several events with one new among them is merged: the new one may carry a
// field the old ones did not.
InboundResult ApplyChange(SqlPort& db, const InboundDelivery& delivery,
                          const InboundChange& change, const InboundRules& rules, int64_t now_ms) {
  if (EveryEventKnown(db, delivery.plugin, change)) {
    InboundResult result;
    result.kind = InboundResult::Kind::kDuplicate;
    result.entity_kind = EntityKindName(change.entity_kind);
    {
      SqlRows link = db.Query(Sql::kLinkByExternal,
                              {delivery.plugin, result.entity_kind, change.external_id});
      result.entity_id = link.Empty() ? IdForCrmRecord(change.external_id) : link.Text(0, 0);
    }
    result.reason = "CRM event(s) applied before";
    AuditJob(db, now_ms, result.entity_kind, result.entity_id, 0, "inbound_duplicate",
             "delivery " + delivery.id + ": " + result.reason);
    return result;
  }
  InboundResult result = MergeChange(db, delivery, change, rules, now_ms);
  for (const std::string& id : change.event_ids) {
    db.Run(Sql::kInsertInboundEvent, {delivery.plugin, id, now_ms});
  }
  return result;
}

}  // namespace

bool RecordPendingDelivery(SqlPort& db, const InboundDelivery& delivery) {
  int64_t received_ms = delivery.received_ms;
  SqlRows last = db.Query(Sql::kLastPendingReceived, {});
  if (!last.Empty() && !last.IsNull(0, 0)) received_ms = std::max(received_ms, last.Int(0, 0) + 1);
  return db.Run(Sql::kInsertDelivery, {delivery.id, delivery.plugin, delivery.event,
                                      ChangesToJson(delivery.changes), received_ms}) > 0;
}

std::vector<InboundResult> ApplyInboundDelivery(SqlPort& db, const InboundDelivery& delivery,
                                                const InboundRules& rules, int64_t now_ms) {
  std::vector<InboundResult> results;
  {
    SqlRows state = db.Query(Sql::kDeliveryState, {delivery.id});
    if (state.Empty() || state.Text(0, 0) != "pending") return {};
  }
  // The CRM's webhook about a record it created for us can beat the commit of
  // the create's answer: leave it pending for a while rather than take the
  // record as a new one the CRM knew first (a duplicate entity).
  if (now_ms - delivery.received_ms < kCreateEchoWaitMs) {
    for (const InboundChange& change : delivery.changes) {
      const std::string kind = EntityKindName(change.entity_kind);
      if (!db.Query(Sql::kLinkByExternal, {delivery.plugin, kind, change.external_id}).Empty()) {
        continue;
      }
      if (!db.Query(Sql::kUnlinkedJobInFlight, {delivery.plugin, kind}).Empty()) {
        InboundResult deferred;
        deferred.kind = InboundResult::Kind::kDeferred;
        deferred.entity_kind = kind;
        deferred.reason = "CRM record " + change.external_id +
                          " is not linked while an outbound create may be in flight";
        return {deferred};
      }
    }
  }
  std::string summary;
  for (const InboundChange& change : delivery.changes) {
    results.push_back(ApplyChange(db, delivery, change, rules, now_ms));
    summary += (summary.empty() ? "" : ",") + std::string(InboundResultName(results.back().kind));
  }
  for (const InboundDrop& drop : delivery.dropped) {
    const std::string kind = EntityKindName(drop.entity_kind);
    SqlRows link = db.Query(Sql::kLinkByExternal, {delivery.plugin, kind, drop.external_id});
    AuditJob(db, now_ms, kind, link.Empty() ? IdForCrmRecord(drop.external_id) : link.Text(0, 0),
             0, drop.action, "delivery " + delivery.id + ": " + drop.reason);
    summary += (summary.empty() ? "" : ",") + drop.action;
  }
  db.Run(Sql::kFinishDelivery, {delivery.id, summary, now_ms});
  return results;
}

}  // namespace crmsync::engine
