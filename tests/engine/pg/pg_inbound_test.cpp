// pg_inbound_test.cpp: the inbound half of the store on PostgreSQL: the cases
// of tests/engine/inbound/inbound_store_test.cpp (recording and listing
// deliveries, applying CRM changes under the field-ownership rules, the change
// feed and audit, echo suppression), run against PgStore on a real server,
// plus the change-feed callbacks, dead-lettered callback replay and webhook
// registrations.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "inbound_fixtures.h"
#include "pg_server.h"
#include "store/pg_store.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT

// The rig of inbound_store_test.cpp, on PostgreSQL.
struct StoreRig {
  crmsync::testing::PgRig pg;
  std::unique_ptr<PgStore>& store = pg.store;
};

// Whether `entity_id` (a lead) has an audit line with `action`.
bool HasAuditPg(Store& store, const std::string& entity_id, const std::string& action) {
  for (const AuditRecord& a : store.AuditForEntity(EntityKind::kLead, entity_id, 1000)) {
    if (a.action == action) return true;
  }
  return false;
}

TEST_SUITE("engine.pg.inbound") {
  TEST_CASE("inbound store: a change for a linked lead merges into the mirror, feed and audit") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    InboundDelivery delivery =
        Delivery("d-1", {LeadChange("crm_L1", R"({"status":"CONTACTED","notes":"Called back"})",
                                    "2026-11-23T11:00:00Z")});
    REQUIRE(rig.store->RecordDelivery(delivery));
    CHECK(rig.store->Stats().deliveries_pending == 1);

    std::vector<InboundResult> results = rig.store->ApplyDelivery(delivery, {}, kT0 + 5);
    REQUIRE(results.size() == 1);
    const InboundResult& r = results[0];
    CHECK(r.kind == InboundResult::Kind::kApplied);
    CHECK(r.entity_kind == "lead");
    CHECK(r.entity_id == "L1");
    CHECK(r.changed_fields == std::vector<std::string>{"notes", "status"});
    CHECK(r.ignored_fields.empty());
    CHECK(r.change_seq > 0);

    const std::string mirror = Mirror(*rig.store, "L1");
    CHECK(Field(mirror, "status") == "CONTACTED");
    CHECK(Field(mirror, "notes") == "Called back");
    CHECK(Field(mirror, "name") == "Lead L1");  // kept
    CHECK(Field(mirror, "updatedAt") == "2026-11-23T11:00:00Z");

    std::vector<ChangeRecord> changes = rig.store->Changes(0, 10);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].seq == r.change_seq);
    CHECK(changes[0].at_ms == kT0 + 5);
    CHECK(changes[0].entity_kind == "lead");
    CHECK(changes[0].entity_id == "L1");
    CHECK(changes[0].source == "crm");
    CHECK(changes[0].delivery_id == "d-1");
    CHECK(changes[0].crm_event == "lead.updated");
    CHECK(Field(changes[0].fields_json, "status") == "CONTACTED");
    CHECK(Field(changes[0].fields_json, "notes") == "Called back");
    CHECK_FALSE(ParseObject(changes[0].fields_json)->has("name"));
    CHECK(Field(changes[0].entity_json, "status") == "CONTACTED");
    CHECK(rig.store->Changes(changes[0].seq, 10).empty());

    CHECK(HasAuditPg(*rig.store, "L1", "inbound_update"));
    CHECK(rig.store->Stats().deliveries_pending == 0);
    CHECK(rig.store->PendingDeliveries(10).empty());
    // Applying a CRM change never queues an outbound job.
    CHECK(rig.store->JobsForEntity(EntityKind::kLead, "L1", 10).size() == 1);
  }

  TEST_CASE("inbound store: a record the CRM knew first gets mirror row crm-<id> and a link") {
    StoreRig rig;
    InboundResult created = RecordAndApply(
        *rig.store, "d-1", LeadChange("X 9/abc", R"({"name":"Walk-in","status":"NEW"})"));
    CHECK(created.kind == InboundResult::Kind::kCreated);
    CHECK(created.entity_id == "crm-X_9_abc");
    CHECK(created.change_seq > 0);
    const std::string mirror = Mirror(*rig.store, "crm-X_9_abc");
    CHECK(Field(mirror, "id") == "crm-X_9_abc");
    CHECK(Field(mirror, "name") == "Walk-in");
    CHECK(HasAuditPg(*rig.store, "crm-X_9_abc", "inbound_create"));

    // The next change finds it through the link instead of creating another.
    InboundResult updated =
        RecordAndApply(*rig.store, "d-2", LeadChange("X 9/abc", R"({"status":"CONTACTED"})"));
    CHECK(updated.kind == InboundResult::Kind::kApplied);
    CHECK(updated.entity_id == "crm-X_9_abc");
    CHECK(Field(Mirror(*rig.store, "crm-X_9_abc"), "status") == "CONTACTED");
    CHECK(rig.store->Changes(0, 10).size() == 2);

    // The link is the one outbound jobs read: a platform update goes to the same CRM record.
    AcceptResult accepted = AcceptOne(
        *rig.store, Event("p-1", "lead.status_changed", LeadJson("crm-X_9_abc", "QUALIFIED")));
    REQUIRE(accepted.job_id > 0);
    std::vector<LeasedJob> jobs = rig.store->Lease(kPlugin, 5, kT0, 60000);
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].external_id == std::optional<std::string>("X 9/abc"));
  }

  TEST_CASE("inbound store: a young change waits while a create in doubt is ready again") {
    // kill -9 after a create was sent: at restart its lease comes back ready and
    // in doubt. The CRM's webhook about the record it created must not make a
    // second platform lead (crm-<id>) while the job's lookup may still link it.
    StoreRig rig;
    AcceptResult accepted =
        AcceptOne(*rig.store, Event("create-L1", "lead.created", LeadJson("L1", "NEW")));
    REQUIRE(accepted.job_id > 0);
    REQUIRE(rig.store->Lease(kPlugin, 10, kT0, 60000).size() == 1);
    REQUIRE(rig.store->ReleaseAllLeases() == 1);  // as Dispatcher::Start does after a crash

    InboundDelivery delivery =
        Delivery("d-1", {LeadChange("crm_L1", R"({"name":"Lead L1","status":"NEW"})")}, kT0);
    REQUIRE(rig.store->RecordDelivery(delivery));
    std::vector<InboundResult> results = rig.store->ApplyDelivery(delivery, {}, kT0 + 1000);
    REQUIRE(results.size() == 1);
    CHECK(results[0].kind == InboundResult::Kind::kDeferred);
    CHECK_FALSE(rig.store->GetMirror(EntityKind::kLead, "crm-crm_L1").has_value());
    CHECK(rig.store->PendingDeliveries(10).size() == 1);
  }

  TEST_CASE("inbound store: a stale change is audited and ignored, a newer one applied") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00Z");

    InboundResult stale = RecordAndApply(
        *rig.store, "d-old",
        LeadChange("crm_L1", R"({"status":"LOST","lostReason":"gone"})", "2026-11-23T10:00:00Z"));
    CHECK(stale.kind == InboundResult::Kind::kStale);
    CHECK(Contains(stale.reason, "2026-11-23T10:00:00Z"));
    CHECK(stale.change_seq == 0);
    CHECK(Field(Mirror(*rig.store, "L1"), "status") == "NEW");
    CHECK(rig.store->Changes(0, 10).empty());
    CHECK(HasAuditPg(*rig.store, "L1", "inbound_stale"));
    CHECK(rig.store->Stats().deliveries_pending == 0);  // recorded as processed

    InboundResult fresh =
        RecordAndApply(*rig.store, "d-new",
                       LeadChange("crm_L1", R"({"status":"CONTACTED"})", "2026-11-23T10:20:00Z"));
    CHECK(fresh.kind == InboundResult::Kind::kApplied);
    CHECK(Field(Mirror(*rig.store, "L1"), "status") == "CONTACTED");
  }

  TEST_CASE("inbound store: staleness is judged to the millisecond and across time zones") {
    StoreRig rig;
    SUBCASE("fractional seconds") {
      CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00.800Z");
      InboundResult r =
          RecordAndApply(*rig.store, "d-1",
                         LeadChange("crm_L1", R"({"status":"LOST"})", "2026-11-23T10:15:00.200Z"));
      CHECK(r.kind == InboundResult::Kind::kStale);
      CHECK(Field(Mirror(*rig.store, "L1"), "status") == "NEW");
    }
    SUBCASE("an offset with fractional seconds") {
      // 15:40:00.500+05:30 is 10:10:00.500Z, before ours.
      CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00.000Z");
      InboundResult r = RecordAndApply(
          *rig.store, "d-1",
          LeadChange("crm_L1", R"({"status":"LOST"})", "2026-11-23T15:40:00.500+05:30"));
      CHECK(r.kind == InboundResult::Kind::kStale);
      CHECK(Field(Mirror(*rig.store, "L1"), "status") == "NEW");
    }
    SUBCASE("an offset without fractional seconds") {
      CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00Z");
      InboundResult r =
          RecordAndApply(*rig.store, "d-1",
                         LeadChange("crm_L1", R"({"status":"LOST"})", "2026-11-23T15:40:00+05:30"));
      CHECK(r.kind == InboundResult::Kind::kStale);
    }
    SUBCASE("a newer time with a fraction is applied") {
      CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00.200Z");
      InboundResult r = RecordAndApply(
          *rig.store, "d-1",
          LeadChange("crm_L1", R"({"status":"CONTACTED"})", "2026-11-23T10:15:00.800Z"));
      CHECK(r.kind == InboundResult::Kind::kApplied);
    }
  }

  TEST_CASE("inbound store: a change that changes nothing is counted and writes nothing") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1", "CONTACTED");
    const std::string before = Mirror(*rig.store, "L1");
    InboundResult r = RecordAndApply(
        *rig.store, "d-1", LeadChange("crm_L1", R"({"status":"CONTACTED","name":"Lead L1"})"));
    CHECK(r.kind == InboundResult::Kind::kNoChange);
    CHECK(r.changed_fields.empty());
    CHECK(r.change_seq == 0);
    CHECK(Mirror(*rig.store, "L1") == before);
    CHECK(rig.store->Changes(0, 10).empty());
    CHECK(rig.store->Stats().echo_suppressed_inbound == 1);
    CHECK(rig.store->Stats().deliveries_pending == 0);
  }

  TEST_CASE("inbound store: platform-owned fields are not overwritten") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    InboundRules rules;
    rules.platform_fields = {"email", "phone"};
    InboundResult r = RecordAndApply(
        *rig.store, "d-1",
        LeadChange("crm_L1", R"({"email":"crm@example.com","phone":"+1","notes":"from CRM"})"),
        rules);
    CHECK(r.kind == InboundResult::Kind::kApplied);
    CHECK(r.changed_fields == std::vector<std::string>{"notes"});
    CHECK(r.ignored_fields == std::vector<std::string>{"email", "phone"});
    const std::string mirror = Mirror(*rig.store, "L1");
    CHECK(Field(mirror, "email") == "lead-L1@example.com");
    CHECK(Field(mirror, "phone") == "+911234567890");
    CHECK(Field(mirror, "notes") == "from CRM");
    std::vector<ChangeRecord> changes = rig.store->Changes(0, 10);
    REQUIRE(changes.size() == 1);
    CHECK_FALSE(ParseObject(changes[0].fields_json)->has("email"));

    // Owned fields only: nothing to do.
    InboundResult only_owned = RecordAndApply(
        *rig.store, "d-2", LeadChange("crm_L1", R"({"email":"x@example.com"})"), rules);
    CHECK(only_owned.kind == InboundResult::Kind::kNoChange);
    CHECK(only_owned.ignored_fields == std::vector<std::string>{"email"});
    CHECK(Field(Mirror(*rig.store, "L1"), "email") == "lead-L1@example.com");
  }

  TEST_CASE("inbound store: the CRM owns a lead's status only from the configured status on") {
    StoreRig rig;
    InboundRules rules;
    rules.crm_owns_status_from = LeadStatus::kQualified;

    CreateLinkedLead(*rig.store, "L1", "crm_L1", "CONTACTED");
    InboundResult before = RecordAndApply(
        *rig.store, "d-1", LeadChange("crm_L1", R"({"status":"CONVERTED","notes":"n"})"), rules);
    CHECK(before.kind == InboundResult::Kind::kApplied);
    CHECK(before.ignored_fields == std::vector<std::string>{"status"});
    CHECK(before.changed_fields == std::vector<std::string>{"notes"});
    CHECK(Field(Mirror(*rig.store, "L1"), "status") == "CONTACTED");

    CreateLinkedLead(*rig.store, "L2", "crm_L2", "QUALIFIED");
    InboundResult from =
        RecordAndApply(*rig.store, "d-2", LeadChange("crm_L2", R"({"status":"CONVERTED"})"), rules);
    CHECK(from.kind == InboundResult::Kind::kApplied);
    CHECK(from.changed_fields == std::vector<std::string>{"status"});
    CHECK(Field(Mirror(*rig.store, "L2"), "status") == "CONVERTED");

    // Without the rule the CRM always owns it.
    CreateLinkedLead(*rig.store, "L3", "crm_L3", "NEW");
    InboundResult always =
        RecordAndApply(*rig.store, "d-3", LeadChange("crm_L3", R"({"status":"LOST"})"));
    CHECK(always.kind == InboundResult::Kind::kApplied);
    CHECK(Field(Mirror(*rig.store, "L3"), "status") == "LOST");
  }

  TEST_CASE("inbound store: a merged record that breaks the contract is invalid and ignored") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    const std::string before = Mirror(*rig.store, "L1");
    InboundResult r = RecordAndApply(*rig.store, "d-1",
                                     LeadChange("crm_L1", R"({"status":"BOGUS","notes":"x"})"));
    CHECK(r.kind == InboundResult::Kind::kInvalid);
    CHECK(Contains(r.reason, "status"));
    CHECK(r.change_seq == 0);
    CHECK(Mirror(*rig.store, "L1") == before);
    CHECK(rig.store->Changes(0, 10).empty());
    CHECK(HasAuditPg(*rig.store, "L1", "inbound_invalid"));
    CHECK(rig.store->Stats().deliveries_pending == 0);
  }

  TEST_CASE("inbound store: a change whose fields are not an object is invalid, the rest applied") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    InboundDelivery delivery = Delivery(
        "d-1", {LeadChange("crm_L1", "[1,2]"), LeadChange("crm_L1", R"({"notes":"kept"})")});
    REQUIRE(rig.store->RecordDelivery(delivery));
    std::vector<InboundResult> results = rig.store->ApplyDelivery(delivery, {}, kT0);
    REQUIRE(results.size() == 2);
    CHECK(results[0].kind == InboundResult::Kind::kInvalid);
    CHECK(Contains(results[0].reason, "object"));
    CHECK(results[1].kind == InboundResult::Kind::kApplied);
    CHECK(Field(Mirror(*rig.store, "L1"), "notes") == "kept");
    CHECK(rig.store->Stats().deliveries_pending == 0);
  }

  TEST_CASE("inbound store: a delivery applied twice does nothing the second time") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    InboundDelivery delivery = Delivery("d-1", {LeadChange("crm_L1", R"({"notes":"one"})")});
    REQUIRE(rig.store->RecordDelivery(delivery));
    REQUIRE(rig.store->ApplyDelivery(delivery, {}, kT0).size() == 1);
    // Same id, now with other content: already processed, nothing happens.
    delivery.changes = {LeadChange("crm_L1", R"({"notes":"two"})")};
    CHECK(rig.store->ApplyDelivery(delivery, {}, kT0 + 1).empty());
    CHECK(Field(Mirror(*rig.store, "L1"), "notes") == "one");
    CHECK(rig.store->Changes(0, 10).size() == 1);
    // A delivery never recorded is not applied either.
    CHECK(
        rig.store
            ->ApplyDelivery(Delivery("never", {LeadChange("crm_L1", R"({"notes":"x"})")}), {}, kT0)
            .empty());
    CHECK(Field(Mirror(*rig.store, "L1"), "notes") == "one");
  }

  TEST_CASE("inbound store: RecordDelivery keeps the first delivery of an id") {
    StoreRig rig;
    CHECK(rig.store->RecordDelivery(Delivery("d-1", {LeadChange("A", R"({"notes":"first"})")})));
    CHECK_FALSE(
        rig.store->RecordDelivery(Delivery("d-1", {LeadChange("B", R"({"notes":"second"})")})));
    std::vector<InboundDelivery> pending = rig.store->PendingDeliveries(10);
    REQUIRE(pending.size() == 1);
    REQUIRE(pending[0].changes.size() == 1);
    CHECK(pending[0].changes[0].external_id == "A");
    CHECK(Field(pending[0].changes[0].fields_json, "notes") == "first");
    CHECK(rig.store->Stats().deliveries_pending == 1);
    // Still a duplicate once processed.
    REQUIRE(rig.store->ApplyDelivery(pending[0], {}, kT0).size() == 1);
    CHECK_FALSE(
        rig.store->RecordDelivery(Delivery("d-1", {LeadChange("A", R"({"notes":"again"})")})));
    CHECK(rig.store->PendingDeliveries(10).empty());
  }

  TEST_CASE("inbound store: pending deliveries come oldest first and round-trip whole") {
    StoreRig rig;
    InboundChange property;
    property.crm_event = "property.updated";
    property.entity_kind = EntityKind::kProperty;
    property.external_id = "crm_P1";
    property.fields_json = R"({"price":4500000,"status":"SOLD"})";
    property.updated_at = "2026-11-23T09:00:00Z";
    // Ids that sort against arrival; two in the same millisecond.
    REQUIRE(rig.store->RecordDelivery(Delivery("d-c", {LeadChange("c", "{}")}, kT0 + 1000)));
    REQUIRE(rig.store->RecordDelivery(Delivery(
        "d-a", {LeadChange("a", "{}"), LeadChange("a2", R"({"notes":"n"})")}, kT0 + 1000)));
    REQUIRE(rig.store->RecordDelivery(Delivery("d-b", {property}, kT0 + 2000)));

    std::vector<InboundDelivery> pending = rig.store->PendingDeliveries(10);
    REQUIRE(pending.size() == 3);
    CHECK(pending[0].id == "d-c");
    CHECK(pending[1].id == "d-a");
    CHECK(pending[2].id == "d-b");
    CHECK(pending[0].received_ms == kT0 + 1000);
    CHECK(pending[1].received_ms == kT0 + 1001);  // after the other one of its millisecond
    CHECK(pending[1].changes.size() == 2);
    const InboundDelivery& b = pending[2];
    CHECK(b.plugin == kPlugin);
    CHECK(b.event == "property.updated");
    CHECK(b.received_ms == kT0 + 2000);
    REQUIRE(b.changes.size() == 1);
    CHECK(b.changes[0].crm_event == "property.updated");
    CHECK(b.changes[0].entity_kind == EntityKind::kProperty);
    CHECK(b.changes[0].external_id == "crm_P1");
    CHECK(Field(b.changes[0].fields_json, "status") == "SOLD");
    CHECK(b.changes[0].updated_at == std::optional<std::string>("2026-11-23T09:00:00Z"));
    CHECK_FALSE(pending[0].changes[0].updated_at.has_value());

    std::vector<InboundDelivery> two = rig.store->PendingDeliveries(2);
    REQUIRE(two.size() == 2);
    CHECK(two[1].id == "d-a");
    REQUIRE(rig.store->ApplyDelivery(pending[0], {}, kT0).size() == 1);
    std::vector<InboundDelivery> rest = rig.store->PendingDeliveries(10);
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].id == "d-a");
  }

  TEST_CASE("inbound store: a platform event that only echoes the CRM's change sends nothing") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    REQUIRE(RecordAndApply(*rig.store, "d-1",
                           LeadChange("crm_L1", R"({"status":"CONTACTED","notes":"Called back"})",
                                      "2026-11-23T11:00:00Z"))
                .kind == InboundResult::Kind::kApplied);
    const size_t jobs_before = rig.store->JobsForEntity(EntityKind::kLead, "L1", 50).size();

    // The platform applies the CRM's change and emits it, with its own updatedAt.
    const std::string echoed =
        LeadJson("L1", "CONTACTED", "2026-11-23T11:00:07Z", R"(,"notes":"Called back")");
    AcceptResult echo = AcceptOne(*rig.store, Event("p-echo", "lead.status_changed", echoed));
    CHECK(echo.echo_suppressed);
    CHECK(echo.job_id == 0);
    CHECK_FALSE(echo.duplicate);
    CHECK(rig.store->Stats().echo_suppressed_outbound == 1);
    CHECK(rig.store->JobsForEntity(EntityKind::kLead, "L1", 50).size() == jobs_before);
    // The event id is recorded: a resend is a duplicate, not a second echo.
    AcceptResult again = AcceptOne(*rig.store, Event("p-echo", "lead.status_changed", echoed));
    CHECK(again.duplicate);
    CHECK(again.job_id == 0);
    CHECK(rig.store->Stats().echo_suppressed_outbound == 1);

    SUBCASE("a real change afterwards is sent as usual") {
      AcceptResult real = AcceptOne(
          *rig.store,
          Event("p-real", "lead.status_changed",
                LeadJson("L1", "QUALIFIED", "2026-11-23T11:05:00Z", R"(,"notes":"Called back")")));
      CHECK_FALSE(real.echo_suppressed);
      CHECK(real.job_id > 0);
      CHECK(rig.store->JobsForEntity(EntityKind::kLead, "L1", 50).size() == jobs_before + 1);
      // The platform's write replaced the CRM's state: going back to it is a real change too.
      AcceptResult back = AcceptOne(*rig.store, Event("p-back", "lead.status_changed", echoed));
      CHECK_FALSE(back.echo_suppressed);
      CHECK(back.job_id > 0);
    }
    SUBCASE("an inquiry carrying the same lead is never suppressed") {
      AcceptResult inquiry = AcceptOne(
          *rig.store,
          Event("p-inq", "inquiry.submitted",
                R"({"id":"Q1","leadId":"L1","message":"Still interested","lead":)" + echoed + "}"));
      CHECK_FALSE(inquiry.echo_suppressed);
      CHECK(inquiry.job_id > 0);
    }
    SUBCASE("a platform event differing in one field is not an echo") {
      AcceptResult differs = AcceptOne(
          *rig.store,
          Event("p-diff", "lead.status_changed",
                LeadJson("L1", "CONTACTED", "2026-11-23T11:00:07Z", R"(,"notes":"Called twice")")));
      CHECK_FALSE(differs.echo_suppressed);
      CHECK(differs.job_id > 0);
    }
  }

  TEST_CASE("inbound store: a dealer assignment echoing the CRM's assignment sends nothing") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    REQUIRE(
        RecordAndApply(*rig.store, "d-1", LeadChange("crm_L1", R"({"assignedToId":"D7"})")).kind ==
        InboundResult::Kind::kApplied);
    AcceptResult echo = AcceptOne(
        *rig.store, Event("p-dealer", "dealer.assigned", R"({"leadId":"L1","dealerId":"D7"})"));
    CHECK(echo.echo_suppressed);
    CHECK(echo.job_id == 0);
    AcceptResult other = AcceptOne(
        *rig.store, Event("p-dealer-2", "dealer.assigned", R"({"leadId":"L1","dealerId":"D8"})"));
    CHECK_FALSE(other.echo_suppressed);
    CHECK(other.job_id > 0);
  }

  TEST_CASE("inbound store: a property event echoing the CRM's property sends nothing") {
    StoreRig rig;
    InboundChange change;
    change.crm_event = "property.created";
    change.entity_kind = EntityKind::kProperty;
    change.external_id = "P9";
    change.fields_json = R"({"title":"Sea view","status":"ACTIVE","price":4500000})";
    change.updated_at = "2026-11-23T09:00:00Z";
    REQUIRE(RecordAndApply(*rig.store, "d-1", change).kind == InboundResult::Kind::kCreated);
    AcceptResult echo = AcceptOne(
        *rig.store, Event("p-1", "property.created",
                          R"({"id":"crm-P9","title":"Sea view","status":"ACTIVE","price":4500000,)"
                          R"("updatedAt":"2026-11-23T09:00:05Z"})"));
    CHECK(echo.echo_suppressed);
    CHECK(echo.job_id == 0);
    AcceptResult sold = AcceptOne(
        *rig.store, Event("p-2", "property.updated",
                          R"({"id":"crm-P9","title":"Sea view","status":"SOLD","price":4500000})"));
    CHECK_FALSE(sold.echo_suppressed);
    CHECK(sold.job_id > 0);
    CHECK(rig.store->Stats().echo_suppressed_outbound == 1);
  }

  TEST_CASE("inbound store: a property change applies by its own link kind") {
    StoreRig rig;
    InboundChange change;
    change.crm_event = "property.updated";
    change.entity_kind = EntityKind::kProperty;
    change.external_id = "crm_P1";
    change.fields_json = R"({"title":"Sea view","status":"SOLD","price":4500000})";
    InboundResult r = RecordAndApply(*rig.store, "d-1", change);
    CHECK(r.kind == InboundResult::Kind::kCreated);
    CHECK(r.entity_kind == "property");
    CHECK(r.entity_id == "crm-crm_P1");
    std::optional<std::string> mirror = rig.store->GetMirror(EntityKind::kProperty, "crm-crm_P1");
    REQUIRE(mirror);
    CHECK(Field(*mirror, "status") == "SOLD");
    // A lead with the same CRM id is another record.
    CHECK_FALSE(rig.store->GetMirror(EntityKind::kLead, "crm-crm_P1").has_value());
    InboundResult lead =
        RecordAndApply(*rig.store, "d-2", LeadChange("crm_P1", R"({"status":"NEW"})"));
    CHECK(lead.kind == InboundResult::Kind::kCreated);
    CHECK(lead.entity_kind == "lead");
  }

  TEST_CASE("inbound store: a late echo of an earlier state we sent does not roll the mirror back") {
    StoreRig rig;
    auto& store = rig.store;
    CreateLinkedLead(*store, "L9", "crm_9", "NEW");  // sent NEW at kT0
    // The platform moves on to QUALIFIED; that update is sent too.
    AcceptResult next = AcceptOne(*store, Event("q-L9", "lead.status_changed",
                                                LeadJson("L9", "QUALIFIED", "2026-11-23T10:01:00Z")),
                                  kT0 + 100);
    REQUIRE(next.job_id > 0);
    std::vector<LeasedJob> jobs = store->Lease(kPlugin, 10, kT0 + 100, 60000);
    REQUIRE(jobs.size() == 1);
    JobOutcome done;
    done.job_id = jobs[0].id;
    done.lease_token = jobs[0].lease_token;
    done.kind = JobOutcome::Kind::kDone;
    done.update_link = true;
    done.external_id = "crm_9";
    store->Complete(kPlugin, {done}, kT0 + 200);
    REQUIRE(Field(Mirror(*store, "L9"), "status") == "QUALIFIED");

    InboundRules rules;
    rules.crm_owns_status_from = LeadStatus::kQualified;
    // Now the CRM's notification of our first update (status NEW) arrives late.
    InboundResult late = RecordAndApply(*store, "late-echo", LeadChange("crm_9", R"({"status":"NEW"})"),
                                        rules, kT0 + 300);
    CHECK(late.kind == InboundResult::Kind::kNoChange);
    CHECK(Field(Mirror(*store, "L9"), "status") == "QUALIFIED");
    // A real CRM change still applies.
    InboundResult won = RecordAndApply(*store, "won", LeadChange("crm_9", R"({"status":"CONVERTED"})"),
                                       rules, kT0 + 400);
    CHECK(won.kind == InboundResult::Kind::kApplied);
    CHECK(Field(Mirror(*store, "L9"), "status") == "CONVERTED");
    // Long after, the same old value is the CRM's own choice, not an echo.
    InboundResult revert = RecordAndApply(*store, "revert", LeadChange("crm_9", R"({"status":"QUALIFIED"})"),
                                          rules, kT0 + 400 + 121000);
    CHECK(revert.kind == InboundResult::Kind::kApplied);
  }

  TEST_CASE("pg inbound: callbacks are due, retried, dead-lettered and replayed") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1", "NEW", "2026-11-23T10:15:00Z");
    InboundRules rules;
    rules.queue_callbacks = true;
    InboundDelivery delivery =
        Delivery("d-cb", {LeadChange("crm_L1", R"({"notes":"called back"})")}, kT0);
    REQUIRE(rig.store->RecordDelivery(delivery));
    std::vector<InboundResult> results = rig.store->ApplyDelivery(delivery, rules, kT0 + 20000);
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].kind == InboundResult::Kind::kApplied);
    int64_t seq = results[0].change_seq;
    std::vector<ChangeRecord> feed = rig.store->Changes(0, 10);
    REQUIRE(feed.size() == 1);
    CHECK(feed[0].seq == seq);
    CHECK(rig.store->Changes(seq, 10).empty());

    std::vector<PendingCallback> due = rig.store->DueCallbacks(kT0 + 20000, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].change.seq == seq);
    rig.store->FinishCallback(seq, false, 1, kT0 + 30000, false, "HTTP 503", kT0 + 20000);
    CHECK(rig.store->DueCallbacks(kT0 + 29999, 10).empty());
    REQUIRE(rig.store->DueCallbacks(kT0 + 30000, 10).size() == 1);
    CHECK(rig.store->DueCallbacks(kT0 + 30000, 10)[0].attempts == 1);
    rig.store->FinishCallback(seq, false, 2, 0, true, "HTTP 503 again", kT0 + 30000);
    CHECK(rig.store->DueCallbacks(kT0 + 99999999, 10).empty());

    DeadLetterFilter filter;
    filter.plugin = "callback";
    std::vector<DeadLetter> dead = rig.store->ListDeadLetters(filter);
    REQUIRE(dead.size() == 1);
    CHECK(dead[0].job_id == -seq);
    CHECK(dead[0].reason == "HTTP 503 again");
    CHECK(rig.store->Stats().dead == 1);
    std::vector<int64_t> replayed = rig.store->ReplayDeadLetters(filter, kT0 + 40000);
    CHECK(replayed == std::vector<int64_t>{0});
    CHECK(rig.store->ListDeadLetters(filter).empty());
    due = rig.store->DueCallbacks(kT0 + 40000, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].attempts == 0);
    rig.store->FinishCallback(seq, true, 1, 0, false, "", kT0 + 40001);
    CHECK(rig.store->DueCallbacks(kT0 + 99999999, 10).empty());
  }

  TEST_CASE("pg inbound: webhook registration and sync state survive a new store") {
    StoreRig rig;
    CHECK(rig.store->WebhookRegistration("mock-crm").empty());
    rig.store->SetWebhookRegistration("mock-crm", "fp-1", kT0);
    rig.store->SetWebhookRegistration("mock-crm", "fp-2", kT0 + 1);
    CHECK(rig.store->GetSyncState("mock-crm").enabled);
    rig.store->SetSyncState("mock-crm", false, "401 from CRM: bad key");
    auto other = rig.pg.OpenAnother();
    CHECK(other->WebhookRegistration("mock-crm") == "fp-2");
    CHECK(other->WebhookRegistration("other") == "");
    SyncState state = other->GetSyncState("mock-crm");
    CHECK_FALSE(state.enabled);
    CHECK(state.reason == "401 from CRM: bad key");
    CHECK_FALSE(state.changed_at.empty());
    other->SetSyncState("mock-crm", true, "by admin");
    CHECK(rig.store->GetSyncState("mock-crm").enabled);
  }
}

}  // namespace
}  // namespace crmsync::engine
