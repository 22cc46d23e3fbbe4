// inbound_store_test.cpp: the inbound half of the SQLite store on a real file
// (docs/design.md §5): recording and listing deliveries, applying CRM changes under
// the field-ownership rules (find by external id or create, merge, stale and
// no-op changes, invalid results), the change feed and audit they write, and
// the echo suppression that keeps a CRM change from being sent back.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "inbound_fixtures.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT
using crmsync::testing::TempDir;

struct StoreRig {
  TempDir dir;
  std::string path = dir.File("crmsync.db");
  std::unique_ptr<SqliteStore> store = OpenStore(path);
};

TEST_SUITE("engine.inbound") {
#include "inbound_store_cases.inc"

  TEST_CASE("inbound store: a store at schema version 9 migrates to 10, and a delivery recorded "
            "before, without event ids, still applies") {
    StoreRig rig;
    CreateLinkedLead(*rig.store, "L1", "crm_L1");
    rig.store.reset();
    {
      // Back to version 9, with a pending delivery as version 9 wrote it.
      Db db(rig.path, false);
      db.Exec("DROP TABLE inbound_events; PRAGMA user_version=9");
      db.Exec("INSERT INTO deliveries (id, plugin, event, changes, received_ms, state) VALUES "
              "('d-old', 'mock-crm', 'lead.updated', '[{\"crmEvent\":\"lead.updated\","
              "\"entityKind\":\"lead\",\"externalId\":\"crm_L1\","
              "\"fields\":{\"notes\":\"from before\"}}]', " +
              std::to_string(kT0) + ", 'pending')");
    }
    rig.store = OpenStore(rig.path);
    CHECK(rig.store->SchemaVersion() == 10);
    std::vector<InboundDelivery> pending = rig.store->PendingDeliveries(10);
    REQUIRE(pending.size() == 1);
    REQUIRE(pending[0].changes.size() == 1);
    CHECK(pending[0].changes[0].event_ids.empty());
    CHECK_FALSE(pending[0].changes[0].fetch);
    std::vector<InboundResult> results = rig.store->ApplyDelivery(pending[0], {}, kT0 + 1);
    REQUIRE(results.size() == 1);
    CHECK(results[0].kind == InboundResult::Kind::kApplied);
    CHECK(Field(Mirror(*rig.store, "L1"), "notes") == "from before");
  }
}

}  // namespace
}  // namespace crmsync::engine
