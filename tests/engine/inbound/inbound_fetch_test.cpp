// inbound_fetch_test.cpp: the inbound worker filling notification-only changes
// (InboundChange::fetch, SDK ABI 4.0; docs/design.md §5) through
// Adapter::FetchChange before it applies a delivery: filled, gone (dropped and
// audited), retryable (the delivery waits, longer each time, while later ones
// go on, then applies), permanent (dropped, audited, logged masked), and the
// rate budget shared with the dispatcher. A SQLite store on a real file, an
// in-process plugin whose answers the test sets, and a ManualClock: no sleeps.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "dispatch/rate_limiter.h"
#include "inbound/inbound_worker.h"
#include "in_process_crm.h"
#include "inbound_fixtures.h"
#include "metrics/metrics.h"
#include "plugin_host/guarded_adapter.h"

namespace crmsync::engine {
namespace {

using namespace inbound_test;  // NOLINT

// A CRM whose FetchChange answers the test queues per record id (the record's
// fields when the queue says OK); it counts the fetches.
class FetchingCrm : public InProcessCrm {
 public:
  FetchingCrm() : InProcessCrm("fetching-crm") {}

  Status FetchChange(InboundChange* change) override {
    std::lock_guard<std::mutex> lock(mu);
    ++fetches[change->external_id];
    std::deque<Status>& queue = answers[change->external_id];
    Status answer = queue.empty() ? Status::Ok() : queue.front();
    if (queue.size() > 1) queue.pop_front();  // the last answer stands
    if (!answer.ok()) return answer;
    change->fields_json = records[change->external_id];
    change->updated_at = "2026-11-23T12:00:00Z";
    return Status::Ok();
  }

  int Fetches(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu);
    return fetches[id];
  }

  std::mutex mu;
  std::map<std::string, std::string> records;
  std::map<std::string, std::deque<Status>> answers;
  std::map<std::string, int> fetches;
};

InboundChange Notice(const std::string& external_id) {
  InboundChange change = LeadChange(external_id, "{}");
  change.fetch = true;
  return change;
}

struct FetchRig {
  explicit FetchRig(RateLimiter* limiter = nullptr) {
    CreateLinkedLead(*store, "L1", "crm_L1");
    CreateLinkedLead(*store, "L2", "crm_L2");
    crm.records["crm_L1"] = R"({"notes":"fetched L1"})";
    crm.records["crm_L2"] = R"({"notes":"fetched L2"})";
    worker.FetchWith(&guarded, limiter);
  }
  void Record(const std::string& id, std::vector<InboundChange> changes) {
    REQUIRE(store->RecordDelivery(Delivery(id, std::move(changes), clock.NowMs())));
  }
  int64_t Fetched(const std::string& result) const {
    return metrics.CounterValue("crmsync_inbound_fetches_total", {{"result", result}});
  }
  std::string Notes(const std::string& lead) { return Field(Mirror(*store, lead), "notes"); }
  bool Pending(const std::string& id) {
    for (const InboundDelivery& d : store->PendingDeliveries(100)) {
      if (d.id == id) return true;
    }
    return false;
  }

  crmsync::testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenStore(dir.File("crmsync.db"));
  // Past the create-echo wait, so no delivery here is deferred.
  ManualClock clock{kT0 + kCreateEchoWaitMs};
  MetricsRegistry metrics;
  FetchingCrm crm;
  GuardedAdapter guarded{&crm, "fetching-crm"};
  InboundWorker worker{store.get(), InboundRules{}, nullptr, &clock, &metrics};
};

TEST_SUITE("engine.inbound") {
  TEST_CASE("inbound fetch: a notification-only change is filled by FetchChange and applied") {
    FetchRig rig;
    rig.Record("d-1", {Notice("crm_L1"), LeadChange("crm_L2", R"({"notes":"as sent"})")});
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    CHECK(rig.crm.Fetches("crm_L2") == 0);  // a full change is not fetched
    CHECK(rig.Notes("L1") == "fetched L1");
    CHECK(Field(Mirror(*rig.store, "L1"), "updatedAt") == "2026-11-23T12:00:00Z");
    CHECK(rig.Notes("L2") == "as sent");
    CHECK(rig.Fetched("filled") == 1);
    CHECK_FALSE(rig.Pending("d-1"));
  }

  TEST_CASE("inbound fetch: a record the CRM no longer has is dropped and audited, the rest "
            "applied") {
    FetchRig rig;
    rig.crm.answers["crm_L1"] = {Status::NotFound("HTTP 404")};
    rig.Record("d-1", {Notice("crm_L1"), Notice("crm_L2")});
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.Fetched("gone") == 1);
    CHECK(rig.Fetched("filled") == 1);
    CHECK(rig.Notes("L2") == "fetched L2");
    CHECK(Field(Mirror(*rig.store, "L1"), "notes").empty());
    CHECK(HasAudit(*rig.store, "L1", "inbound_fetch_gone"));
    CHECK_FALSE(rig.Pending("d-1"));
    CHECK(rig.metrics.CounterValue("crmsync_inbound_changes_total", {{"result", "applied"}}) == 1);
  }

  TEST_CASE("inbound fetch: a retryable failure keeps the delivery pending, waiting longer each "
            "time, while later deliveries apply") {
    FetchRig rig;
    rig.crm.answers["crm_L1"] = {Status::Retryable("HTTP 503"), Status::Retryable("HTTP 503"),
                                 Status::Ok()};
    rig.Record("d-1", {Notice("crm_L1")});
    rig.Record("d-2", {LeadChange("crm_L2", R"({"notes":"later"})")});
    CHECK(rig.worker.ProcessPending() == 1);  // d-2 only
    CHECK(rig.Notes("L2") == "later");
    CHECK(rig.Pending("d-1"));
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    CHECK(rig.Fetched("retry") == 1);

    // Not before the first wait is over.
    CHECK(rig.worker.ProcessPending() == 0);
    rig.clock.Advance(kFetchRetryFirstMs - 1);
    CHECK(rig.worker.ProcessPending() == 0);
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    rig.clock.Advance(1);
    CHECK(rig.worker.ProcessPending() == 0);  // fails again
    CHECK(rig.crm.Fetches("crm_L1") == 2);
    // The second wait is twice the first.
    rig.clock.Advance(2 * kFetchRetryFirstMs - 1);
    CHECK(rig.worker.ProcessPending() == 0);
    CHECK(rig.crm.Fetches("crm_L1") == 2);
    rig.clock.Advance(1);
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.crm.Fetches("crm_L1") == 3);
    CHECK(rig.Notes("L1") == "fetched L1");
    CHECK_FALSE(rig.Pending("d-1"));
  }

  TEST_CASE("inbound fetch: a retry-after longer than the backoff is waited out") {
    FetchRig rig;
    rig.crm.answers["crm_L1"] = {Status::RateLimited("HTTP 429", 30000), Status::Ok()};
    rig.Record("d-1", {Notice("crm_L1")});
    CHECK(rig.worker.ProcessPending() == 0);
    rig.clock.Advance(29999);
    CHECK(rig.worker.ProcessPending() == 0);
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    rig.clock.Advance(1);
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.Notes("L1") == "fetched L1");
  }

  TEST_CASE("inbound fetch: a permanent failure drops the change, audited with the message "
            "masked") {
    FetchRig rig;
    rig.crm.answers["crm_L1"] =
        {Status::Permanent("the CRM refused: owner asha.k@example.com has no access")};
    rig.Record("d-1", {Notice("crm_L1")});
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.Fetched("failed") == 1);
    CHECK_FALSE(rig.Pending("d-1"));
    bool found = false;
    for (const AuditRecord& a : rig.store->AuditForEntity(EntityKind::kLead, "L1", 100)) {
      if (a.action != "inbound_fetch_failed") continue;
      found = true;
      CHECK(Contains(a.detail, "permanent"));
      CHECK(Contains(a.detail, "has no access"));
      CHECK_FALSE(Contains(a.detail, "asha.k@example.com"));
    }
    CHECK(found);
  }

  TEST_CASE("inbound fetch: without a plugin a notification-only change is dropped as failed") {
    FetchRig rig;
    rig.worker.FetchWith(nullptr, nullptr);
    rig.Record("d-1", {Notice("crm_L1"), LeadChange("crm_L2", R"({"notes":"kept"})")});
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.Fetched("failed") == 1);
    CHECK(HasAudit(*rig.store, "L1", "inbound_fetch_failed"));
    CHECK(rig.Notes("L2") == "kept");
  }

  TEST_CASE("inbound fetch: fetches take the dispatcher's rate budget, one at a time, and what "
            "was fetched is not fetched again") {
    RateLimiter limiter(1.0);  // one request a second
    FetchRig rig(&limiter);
    rig.Record("d-1", {Notice("crm_L1"), Notice("crm_L2")});
    CHECK(rig.worker.ProcessPending() == 0);  // L1 fetched, L2 waits for the budget
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    CHECK(rig.crm.Fetches("crm_L2") == 0);
    CHECK(rig.Fetched("budget_wait") == 1);
    CHECK(rig.Pending("d-1"));
    rig.clock.Advance(1000);
    CHECK(rig.worker.ProcessPending() == 1);
    CHECK(rig.crm.Fetches("crm_L1") == 1);
    CHECK(rig.crm.Fetches("crm_L2") == 1);
    CHECK(rig.Notes("L1") == "fetched L1");
    CHECK(rig.Notes("L2") == "fetched L2");
  }
}

}  // namespace
}  // namespace crmsync::engine
