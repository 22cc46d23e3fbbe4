// inbound_fixtures.h: what the inbound tests share: a SQLite store on a real
// file, platform events built through the intake validator, a lead linked to a
// CRM id the way the dispatcher links it (Accept + Lease + Complete), deliveries
// and changes as the mock-crm plugin would parse them, and a look into the
// audit table.
//
// Header-only, test code; not thread-safe beyond what the store is.
#ifndef CRMSYNC_TESTS_ENGINE_INBOUND_INBOUND_FIXTURES_H_
#define CRMSYNC_TESTS_ENGINE_INBOUND_INBOUND_FIXTURES_H_

#include <doctest/doctest.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crmsync/plugin_config.h"
#include "intake/event_validator.h"
#include "plugin_host/plugin_loader.h"
#include "store/sqlite_db.h"
#include "store/sqlite_store.h"
#include "sync/inbound_codec.h"
#include "test_support.h"

namespace crmsync::engine::inbound_test {

constexpr char kPlugin[] = "mock-crm";
constexpr int64_t kT0 = 1'700'000'000'000;

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

inline Poco::JSON::Object::Ptr ParseObject(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

// A member of a JSON object text as a string ("" when absent or null).
inline std::string Field(const std::string& json, const std::string& name) {
  Poco::JSON::Object::Ptr object = ParseObject(json);
  if (!object->has(name) || object->isNull(name)) return "";
  return object->get(name).toString();
}

inline std::unique_ptr<SqliteStore> OpenStore(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return SqliteStore::Open(options);
}

inline std::unique_ptr<LoadedPlugin> LoadMockCrm(
    const std::map<std::string, std::string>& settings = {}) {
  std::string error;
  std::unique_ptr<LoadedPlugin> plugin = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, kPlugin, &error);
  REQUIRE_MESSAGE(plugin, error);
  REQUIRE_MESSAGE(plugin->Configure(PluginConfig(settings), &error), error);
  return plugin;
}

// --- platform events ---------------------------------------------------------

inline std::string Envelope(const std::string& event_id, const std::string& type,
                            const std::string& data) {
  return R"({"eventId":")" + event_id + R"(","type":")" + type +
         R"(","occurredAt":"2026-11-23T10:15:00Z","data":)" + data + "}";
}

// One platform event, validated as intake validates it (so its echo hash is real).
inline IncomingEvent Event(const std::string& event_id, const std::string& type,
                           const std::string& data) {
  ValidationResult v = ValidateEventsBody(Envelope(event_id, type, data));
  REQUIRE_MESSAGE(v.errors.empty(),
                  (v.errors.empty() ? "" : v.errors[0].path + ": " + v.errors[0].message));
  REQUIRE(v.events.size() == 1);
  return v.events[0];
}

inline AcceptResult AcceptOne(Store& store, const IncomingEvent& event, int64_t now_ms = kT0) {
  std::vector<AcceptResult> results = store.Accept({event}, now_ms);
  REQUIRE(results.size() == 1);
  return results[0];
}

// A lead as the platform sends it.
inline std::string LeadJson(const std::string& id, const std::string& status,
                            const std::string& updated_at = "2026-11-23T10:00:00Z",
                            const std::string& extra = "") {
  return R"({"id":")" + id + R"(","name":"Lead )" + id + R"(","email":"lead-)" + id +
         R"(@example.com","phone":"+911234567890","status":")" + status + R"(","updatedAt":")" +
         updated_at + "\"" + extra + "}";
}

// Creates lead `lead_id` through intake and links it to `external_id` for
// kPlugin the way the dispatcher does after a successful create.
inline void CreateLinkedLead(Store& store, const std::string& lead_id,
                             const std::string& external_id, const std::string& status = "NEW",
                             const std::string& updated_at = "2026-11-23T10:00:00Z",
                             const std::string& extra = "") {
  AcceptResult accepted = AcceptOne(store, Event("create-" + lead_id, "lead.created",
                                                 LeadJson(lead_id, status, updated_at, extra)));
  REQUIRE(accepted.job_id > 0);
  std::vector<LeasedJob> jobs = store.Lease(kPlugin, 10, kT0, 60000);
  bool found = false;
  for (const LeasedJob& job : jobs) {
    JobOutcome outcome;
    outcome.job_id = job.id;
    outcome.lease_token = job.lease_token;
    outcome.kind = JobOutcome::Kind::kDone;
    outcome.attempts = 1;
    if (job.entity_id == lead_id) {
      found = true;
      outcome.update_link = true;
      outcome.external_id = external_id;
      outcome.sent_hash = "sent";
    }
    store.Complete(kPlugin, {outcome}, kT0);
  }
  REQUIRE(found);
}

// --- deliveries, as the mock-crm plugin parses them -------------------------------

inline InboundChange LeadChange(const std::string& external_id, const std::string& fields_json,
                                std::optional<std::string> updated_at = std::nullopt,
                                const std::string& crm_event = "lead.updated") {
  InboundChange change;
  change.crm_event = crm_event;
  change.entity_kind = EntityKind::kLead;
  change.external_id = external_id;
  change.fields_json = fields_json;
  change.updated_at = std::move(updated_at);
  return change;
}

inline InboundDelivery Delivery(const std::string& id, std::vector<InboundChange> changes,
                                int64_t received_ms = kT0) {
  InboundDelivery delivery;
  delivery.id = id;
  delivery.plugin = kPlugin;
  delivery.event = changes.empty() ? "lead.updated" : changes.front().crm_event;
  delivery.changes = std::move(changes);
  delivery.received_ms = received_ms;
  return delivery;
}

// Records and applies a delivery of one change; returns its one result.
inline InboundResult RecordAndApply(Store& store, const std::string& delivery_id,
                                    const InboundChange& change, const InboundRules& rules = {},
                                    int64_t now_ms = kT0) {
  InboundDelivery delivery = Delivery(delivery_id, {change}, now_ms);
  REQUIRE(store.RecordDelivery(delivery));
  std::vector<InboundResult> results = store.ApplyDelivery(delivery, rules, now_ms);
  REQUIRE(results.size() == 1);
  return results[0];
}

inline std::string Mirror(Store& store, const std::string& lead_id) {
  std::optional<std::string> mirror = store.GetMirror(EntityKind::kLead, lead_id);
  REQUIRE_MESSAGE(mirror.has_value(), ("no mirror row for lead " + lead_id));
  return *mirror;
}

// --- the audit trail, read through the store (so either backend) -------------

// Whether lead `entity_id` has an audit line with `action`.
inline bool HasAudit(Store& store, const std::string& entity_id, const std::string& action) {
  for (const AuditRecord& a : store.AuditForEntity(EntityKind::kLead, entity_id, 1000)) {
    if (a.action == action) return true;
  }
  return false;
}

}  // namespace crmsync::engine::inbound_test

#endif  // CRMSYNC_TESTS_ENGINE_INBOUND_INBOUND_FIXTURES_H_
