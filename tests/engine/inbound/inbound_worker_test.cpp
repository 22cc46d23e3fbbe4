// inbound_worker_test.cpp: the inbound flow end to end inside the process
// (docs/design.md §2, §5): a webhook posted over HTTP is recorded, the
// InboundWorker applies it (on the caller's thread or its own), CRM agent ids
// are mapped to platform dealers through AgentDirectory, and a delivery
// acknowledged before a crash is applied after the restart.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "inbound/agent_directory.h"
#include "inbound/inbound_worker.h"
#include "webhook_rig.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT
using crmsync::testing::TempDir;
using crmsync::testing::WaitUntil;

constexpr std::chrono::milliseconds kWait(10000);

std::map<std::string, std::string> AgentMap(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> map;
  std::string error;
  REQUIRE_MESSAGE(AgentDirectory::ParsePairs(pairs, &map, &error), error);
  return map;
}

// A rig with a worker over its store, mapping agents through `pairs`.
struct WorkerRig {
  explicit WorkerRig(const std::vector<std::string>& pairs = {"agent_123=dealer-7"},
                     InboundRules rules = {})
      : agents(AgentDirectoryConfig{AgentMap(pairs), {}, 60000}, &rig.plugin().adapter(), &rig.clock()),
        worker(&rig.store(), std::move(rules), &agents, &rig.clock(), &rig.metrics()) {}
  int64_t Changes(const std::string& result) {
    return rig.metrics().CounterValue("crmsync_inbound_changes_total", {{"result", result}});
  }
  WebhookRig rig;
  AgentDirectory agents;
  InboundWorker worker;
};

TEST_SUITE("engine.inbound") {
  TEST_CASE("inbound worker: a converted webhook becomes CONVERTED in the mirror and the feed") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1", "NEGOTIATING");
    int change_calls = 0;
    w.worker.OnChange([&] { ++change_calls; });
    REQUIRE(
        w.rig
            .PostShared(WebhookBody("crm_L1", R"({"status":"converted","notes":"Property booked",)"
                                              R"("assignedAgent":"agent_123"})"))
            .status == 202);
    CHECK(Field(Mirror(w.rig.store(), "L1"), "status") == "NEGOTIATING");  // not yet applied

    CHECK(w.worker.ProcessPending() == 1);
    const std::string mirror = Mirror(w.rig.store(), "L1");
    CHECK(Field(mirror, "status") == "CONVERTED");
    CHECK(Field(mirror, "notes") == "Property booked");
    CHECK(Field(mirror, "assignedToId") == "dealer-7");
    CHECK(Field(mirror, "email") == "lead-L1@example.com");
    std::vector<ChangeRecord> changes = w.rig.store().Changes(0, 10);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].entity_id == "L1");
    CHECK(Field(changes[0].fields_json, "status") == "CONVERTED");
    CHECK(Field(changes[0].fields_json, "assignedToId") == "dealer-7");
    CHECK(change_calls == 1);
    CHECK(w.Changes("applied") == 1);
    CHECK(w.rig.store().Stats().deliveries_pending == 0);
    CHECK(w.worker.ProcessPending() == 0);
    CHECK(change_calls == 1);
  }

  TEST_CASE("inbound worker: its own thread applies a delivery once woken") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1");
    w.rig.OnRecorded([&] { w.worker.Wake(); });
    w.worker.Start();
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"status":"closed_won"})")).status == 202);
    CHECK(WaitUntil([&] { return Field(Mirror(w.rig.store(), "L1"), "status") == "CONVERTED"; },
                    kWait));
    // A CRM-first record through the running worker.
    REQUIRE(w.rig
                .PostShared(
                    WebhookBody("crm_new", R"({"status":"new","name":"Walk-in"})", "lead.created"),
                    "lead.created")
                .status == 202);
    CHECK(WaitUntil(
        [&] { return w.rig.store().GetMirror(EntityKind::kLead, "crm-crm_new").has_value(); },
        kWait));
    CHECK(WaitUntil([&] { return w.Changes("created") == 1; }, kWait));
    w.worker.Stop();
    CHECK(w.rig.store().Stats().deliveries_pending == 0);
    CHECK(w.rig.store().Changes(0, 10).size() == 2);
  }

  TEST_CASE("inbound worker: Stop applies nothing more and is idempotent") {
    WorkerRig w;
    w.worker.Start();
    w.worker.Stop();
    w.worker.Stop();
    REQUIRE(
        w.rig
            .PostShared(WebhookBody("crm_x", R"({"status":"new"})", "lead.created"), "lead.created")
            .status == 202);
    CHECK(w.rig.store().Stats().deliveries_pending == 1);
    // ProcessPending still works on the caller's thread.
    CHECK(w.worker.ProcessPending() == 1);
  }

  TEST_CASE("inbound worker: an unknown CRM agent is dropped and counted, the rest applied") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1", "NEW", "2026-11-23T10:00:00Z");
    REQUIRE(w.rig
                .PostShared(
                    WebhookBody("crm_L1", R"({"notes":"reassigned","assignedAgent":"agent_999"})"))
                .status == 202);
    CHECK(w.worker.ProcessPending() == 1);
    const std::string mirror = Mirror(w.rig.store(), "L1");
    CHECK(Field(mirror, "notes") == "reassigned");
    CHECK(Field(mirror, "assignedToId") == "");  // never a CRM id in the dealer field
    CHECK(w.rig.metrics().CounterValue("crmsync_inbound_unknown_agents_total") == 1);
    std::vector<ChangeRecord> changes = w.rig.store().Changes(0, 10);
    REQUIRE(changes.size() == 1);
    CHECK_FALSE(ParseObject(changes[0].fields_json)->has("assignedToId"));

    // Only an unknown agent: nothing changes.
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"assignedAgent":"agent_998"})")).status ==
            202);
    CHECK(w.worker.ProcessPending() == 1);
    CHECK(w.rig.metrics().CounterValue("crmsync_inbound_unknown_agents_total") == 2);
    CHECK(w.Changes("no_change") == 1);
    CHECK(w.rig.store().Changes(0, 10).size() == 1);
  }

  TEST_CASE("inbound worker: agent_map pairs map several agents, config only") {
    WorkerRig w({"agent_1=D1", "agent_2=D2"});
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1");
    CreateLinkedLead(w.rig.store(), "L2", "crm_L2");
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"assignedAgent":"agent_2"})")).status ==
            202);
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L2", R"({"assignedAgent":"agent_1"})")).status ==
            202);
    CHECK(w.worker.ProcessPending() == 2);
    CHECK(Field(Mirror(w.rig.store(), "L1"), "assignedToId") == "D2");
    CHECK(Field(Mirror(w.rig.store(), "L2"), "assignedToId") == "D1");
    CHECK(w.agents.DealerFor("agent_1") == std::optional<std::string>("D1"));
    CHECK_FALSE(w.agents.DealerFor("D1").has_value());  // not the other way round
  }

  TEST_CASE("inbound worker: AgentDirectory::ParsePairs refuses a malformed pair by name") {
    std::map<std::string, std::string> map;
    std::string error;
    CHECK(AgentDirectory::ParsePairs({"a=b", "c=d=e"}, &map, &error));
    CHECK(map["a"] == "b");
    CHECK(map["c"] == "d=e");
    for (std::string bad : {"agent", "=dealer", "agent=", ""}) {
      CAPTURE(bad);
      std::map<std::string, std::string> out;
      error.clear();
      CHECK_FALSE(AgentDirectory::ParsePairs({"ok=1", bad}, &out, &error));
      CHECK(Contains(error, "inbound.agent_map"));
      CHECK(Contains(error, "'" + bad + "'"));
    }
  }

  TEST_CASE("inbound worker: deliveries apply in arrival order") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1");
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"notes":"first"})")).status == 202);
    w.rig.clock().Advance(1);
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"notes":"second"})")).status == 202);
    w.rig.clock().Advance(1);
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"notes":"third"})")).status == 202);
    CHECK(w.worker.ProcessPending() == 3);
    CHECK(Field(Mirror(w.rig.store(), "L1"), "notes") == "third");
    std::vector<ChangeRecord> changes = w.rig.store().Changes(0, 10);
    REQUIRE(changes.size() == 3);
    CHECK(Field(changes[0].fields_json, "notes") == "first");
    CHECK(Field(changes[2].fields_json, "notes") == "third");
  }

  TEST_CASE("inbound worker: a delivery the store cannot merge does not block the ones after it") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1");
    // What a faulty third-party plugin could hand over: fields that are not an object.
    REQUIRE(w.rig.store().RecordDelivery(
        Delivery("bad", {LeadChange("crm_L1", R"(["assignedToId"])")}, kT0)));
    w.rig.clock().Advance(1);
    REQUIRE(w.rig.PostShared(WebhookBody("crm_L1", R"({"notes":"after the bad one"})")).status ==
            202);
    CHECK(w.worker.ProcessPending() == 2);
    CHECK(Field(Mirror(w.rig.store(), "L1"), "notes") == "after the bad one");
    CHECK(w.rig.store().Stats().deliveries_pending == 0);
    CHECK(w.Changes("invalid") == 1);
    CHECK(w.Changes("applied") == 1);
  }

  TEST_CASE("inbound worker: deliveries received in the same millisecond apply in arrival order") {
    WorkerRig w;
    CreateLinkedLead(w.rig.store(), "L1", "crm_L1");
    // Ids that sort against arrival: the later one must still win.
    REQUIRE(w.rig
                .PostShared(WebhookBody("crm_L1", R"({"notes":"first","status":"contacted"})"),
                            "lead.updated", {{"X-CRM-Delivery", "zz-1"}})
                .status == 202);
    REQUIRE(w.rig
                .PostShared(WebhookBody("crm_L1", R"({"notes":"second","status":"qualified"})"),
                            "lead.updated", {{"X-CRM-Delivery", "aa-2"}})
                .status == 202);
    std::vector<InboundDelivery> pending = w.rig.store().PendingDeliveries(10);
    REQUIRE(pending.size() == 2);
    CHECK(pending[0].id == "zz-1");
    CHECK(pending[1].id == "aa-2");
    CHECK(w.worker.ProcessPending() == 2);
    const std::string mirror = Mirror(w.rig.store(), "L1");
    CHECK(Field(mirror, "notes") == "second");
    CHECK(Field(mirror, "status") == "QUALIFIED");
  }

  TEST_CASE("inbound worker: a delivery acknowledged before a crash is applied after restart") {
    TempDir dir;
    const std::string path = dir.File("crmsync.db");
    {
      WebhookRigOptions options;
      options.db_path = path;
      WebhookRig rig(options);
      CreateLinkedLead(rig.store(), "L1", "crm_L1", "VIEWED");
      REQUIRE(rig.PostShared(WebhookBody("crm_L1", R"({"status":"won"})")).status == 202);
      REQUIRE(rig.PostSigned(WebhookBody("crm_L9", R"({"status":"new"})", "lead.created"), "msg-9")
                  .status == 202);
      // Everything goes away without a worker having run.
    }
    std::unique_ptr<SqliteStore> store = OpenStore(path);
    CHECK(store->Stats().deliveries_pending == 2);
    ManualClock clock(kT0 + 60'000);
    MetricsRegistry metrics;
    AgentDirectory agents(AgentDirectoryConfig{{}, {}, 60000}, nullptr, &clock);
    InboundWorker worker(store.get(), {}, &agents, &clock, &metrics);
    worker.Start();
    worker.Wake();
    CHECK(WaitUntil([&] { return store->Stats().deliveries_pending == 0; }, kWait));
    worker.Stop();
    CHECK(Field(Mirror(*store, "L1"), "status") == "CONVERTED");
    CHECK(store->GetMirror(EntityKind::kLead, "crm-crm_L9").has_value());
    CHECK(store->Changes(0, 10).size() == 2);
  }
}

}  // namespace
}  // namespace crmsync::engine
