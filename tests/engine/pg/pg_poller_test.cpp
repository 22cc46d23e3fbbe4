// pg_poller_test.cpp: change polling (inbound/poller.h) by two engines on one
// PostgreSQL database: only the lease holder polls; when it dies between
// recording a page and saving its cursor, the other takes over from the saved
// cursor, reads the same page again, and records nothing twice.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "inbound/poller.h"
#include "inbound_fixtures.h"
#include "pg_server.h"
#include "plugin_host/guarded_adapter.h"
#include "poll_fixtures.h"
#include "store/pg_store.h"

namespace crmsync::engine {
namespace {

using inbound_test::kT0;
using namespace poll_test;  // NOLINT

TEST_SUITE("engine.pg.inbound") {
  TEST_CASE("pg poll: the lease holder polls, and after its crash the other engine applies nothing twice") {
    crmsync::testing::PgRig pg;
    std::unique_ptr<PgStore> other = pg.OpenAnother();
    ManualClock clock(kT0);
    ScriptCrm crm_a, crm_b;
    GuardedAdapter adapter_a(&crm_a, kCrm), adapter_b(&crm_b, kCrm);
    Answer page = Page({Change("crm_1", "CONTACTED", "t1"), Change("crm_2", "VIEWED", "t2")}, "c1");
    crm_a.scripts[EntityKind::kLead] = {page};
    crm_b.scripts[EntityKind::kLead] = {page, Page({}, "c2")};
    WatchedStates states_a(pg.store.get(), pg.store.get());
    states_a.fail_cursor_saves = true;

    auto a = std::make_unique<Poller>(LeaseOptions("engine-a"), &adapter_a, pg.store.get(),
                                      &states_a, nullptr, &clock, nullptr);
    Poller b(LeaseOptions("engine-b"), &adapter_b, other.get(), other.get(), nullptr, &clock,
             nullptr);

    CHECK(a->PollOnce() == 1);
    CHECK(b.PollOnce() == 0);  // a holds the lease
    CHECK(crm_b.requests.empty());
    CHECK(other->PendingDeliveries(10).size() == 1);
    CHECK(other->LoadPluginState(kPollStatePlugin, b.CursorKey(EntityKind::kLead)) == std::nullopt);

    a.reset();  // engine a dies before its cursor was saved
    clock.Advance(3 * kInterval);
    CHECK(b.PollOnce() == 1);
    REQUIRE(crm_b.requests.size() == 1);
    CHECK(crm_b.requests[0].cursor == "");
    CHECK(other->PendingDeliveries(10).size() == 1);  // the same page: the same delivery id
    CHECK(other->LoadPluginState(kPollStatePlugin, b.CursorKey(EntityKind::kLead)) ==
          std::optional<std::string>("c1"));
    clock.Advance(kInterval);
    CHECK(b.PollOnce() == 1);
    CHECK(crm_b.requests[1].cursor == "c1");
  }
}

}  // namespace
}  // namespace crmsync::engine
