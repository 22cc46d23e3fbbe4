// pg_inbound_test.cpp: the inbound half of the store on PostgreSQL: the cases
// of tests/engine/inbound/inbound_store_test.cpp (recording and listing
// deliveries, applying CRM changes under the field-ownership rules, the change
// feed and audit, echo suppression), run against PgStore on a real server,
// plus the change-feed callbacks (one engine of several sends each),
// dead-lettered callback replay and webhook registrations.
#include <doctest/doctest.h>

#include <set>
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


TEST_SUITE("engine.pg.inbound") {
#include "../inbound/inbound_store_cases.inc"

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
    due = rig.store->DueCallbacks(kT0 + 30000, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].attempts == 1);
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

  TEST_CASE("pg inbound: of two engines sharing the database one sends each callback") {
    StoreRig rig;
    auto other = rig.pg.OpenAnother();
    InboundRules rules;
    rules.queue_callbacks = true;
    for (int i = 0; i < 6; ++i) {
      std::string lead = "L" + std::to_string(i);
      CreateLinkedLead(*rig.store, lead, "crm_" + lead, "NEW", "2026-11-23T10:15:00Z");
      InboundDelivery delivery = Delivery("d-" + lead, {LeadChange("crm_" + lead, R"({"notes":"n"})")}, kT0);
      REQUIRE(rig.store->RecordDelivery(delivery));
      REQUIRE(rig.store->ApplyDelivery(delivery, rules, kT0 + 1).size() == 1);
    }
    std::vector<PendingCallback> mine = rig.store->DueCallbacks(kT0 + 2, 4);
    std::vector<PendingCallback> theirs = other->DueCallbacks(kT0 + 2, 10);
    CHECK(mine.size() == 4);
    CHECK(theirs.size() == 2);  // the 4 handed to the first engine are claimed
    std::set<int64_t> seqs;
    for (const auto& p : mine) seqs.insert(p.change.seq);
    for (const auto& p : theirs) seqs.insert(p.change.seq);
    CHECK(seqs.size() == 6u);
    CHECK(mine[0].change.seq < mine[1].change.seq);  // in feed order
    // An engine that died with claimed callbacks: another sends them once the
    // claim runs out.
    CHECK(other->DueCallbacks(kT0 + 2 + 299999, 10).empty());
    CHECK(other->DueCallbacks(kT0 + 2 + 300000, 10).size() == 6u);
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
