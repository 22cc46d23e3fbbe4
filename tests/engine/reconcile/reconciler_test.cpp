// Tests for reconcile/reconciler and reconcile/resyncer: runs over a real
// SQLite store against an in-process CRM that lists and reads its records
// (RecordReader) and answers lookups by reference, with failures on demand.
// The e2e tests (tests/e2e/reconcile_test.cpp) drive the real binary; these
// cover what a real CRM does not do when asked: unreadable answers, a plugin
// that cannot list, a stop in the middle of a run.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <set>

#include "../inbound/in_process_crm.h"
#include "crmsync/records.h"
#include "reconcile/reconciler.h"
#include "reconcile/resyncer.h"
#include "store/sqlite_store.h"
#include "test_support.h"

using namespace crmsync;
using namespace crmsync::engine;
using crmsync::testing::TempDir;
using crmsync::testing::WaitUntil;

namespace {

constexpr char kPlugin[] = "fake-crm";
constexpr int64_t kT0 = 1'800'000'000'000;

// A CRM held in memory: records by kind in list order, two to a page; a
// lookup is GET /lookup/<reference>, answered 200 with the id, 404, or 500.
class FakeCrm : public inbound_test::InProcessCrm, public RecordReader {
 public:
  FakeCrm() : InProcessCrm(kPlugin) {}
  PluginInfo Info() const override {
    PluginInfo info = InProcessCrm::Info();
    info.capabilities.lookup_by_reference = lookups;
    return info;
  }
  Status BuildLookup(const SyncJob& job, HttpRequest* out) override {
    out->method = "GET";
    out->path = "/lookup/" + job.external_reference;
    out->route = "lookup";
    return Status::Ok();
  }
  Status ReadLookup(const SyncJob&, const HttpResponse& response,
                    std::optional<std::string>* id) override {
    if (response.status == 200) *id = response.body;
    return Status::Ok();
  }
  HttpResponse Send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    HttpResponse r;
    r.request_sent = true;
    const std::string reference = request.path.substr(std::string("/lookup/").size());
    if (failing.count(reference)) {
      r.status = 500;
      return r;
    }
    for (const auto& [kind, list] : records) {
      for (const CrmRecord& rec : list) {
        if (rec.external_reference == reference) {
          r.status = 200;
          r.body = rec.external_id;
          return r;
        }
      }
    }
    r.status = 404;
    return r;
  }
  Status ListRecords(const RecordListRequest& request, RecordListPage* page) override {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    if (!lists) return Status::NotFound("cannot list");
    const std::vector<CrmRecord>& list = records[request.entity_kind];
    size_t from = request.cursor.empty() ? 0 : std::stoul(request.cursor);
    for (size_t i = from; i < list.size() && i < from + 2; ++i) page->records.push_back(list[i]);
    page->more = from + 2 < list.size();
    page->next_cursor = std::to_string(from + 2);
    return Status::Ok();
  }
  Status ReadRecord(EntityKind kind, const std::string& id, CrmRecord* record) override {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    if (failing.count(id)) return Status::Retryable("answer cannot be read");
    for (const CrmRecord& rec : records[kind]) {
      if (rec.external_id == id) {
        *record = rec;
        return Status::Ok();
      }
    }
    return Status::NotFound("no such record");
  }

  void Add(EntityKind kind, const std::string& id, const std::string& reference,
           const std::string& fields) {
    CrmRecord r;
    r.entity_kind = kind;
    r.external_id = id;
    r.external_reference = reference;
    r.fields_json = fields;
    records[kind].push_back(r);
  }

  std::mutex mu;
  std::map<EntityKind, std::vector<CrmRecord>> records;
  std::set<std::string> failing;  // CRM ids and references whose answers fail
  bool lists = true;
  bool lookups = true;
  int calls = 0;
};

struct Rig {
  Rig() {
    SqliteOptions options;
    options.path = dir.File("crmsync.db");
    store = SqliteStore::Open(options);
  }

  // A mirror entity of `kind`, linked to `crm_id` when given.
  void Mirror(EntityKind kind, const std::string& id, const std::string& json,
              const std::string& crm_id = "") {
    IncomingEvent e;
    e.event_id = "seed-" + id;
    e.type = kind == EntityKind::kLead ? EventType::kLeadCreated : EventType::kPropertyCreated;
    e.kind = kind;
    e.entity_id = id;
    e.entity_json = json;
    e.occurred_at = "2026-11-01T00:00:00Z";
    e.coalescable = true;
    store->Accept({e}, clock.NowMs());
    for (LeasedJob& job : store->Lease(kPlugin, 10, clock.NowMs(), 60000)) {
      JobOutcome done;
      done.job_id = job.id;
      done.lease_token = job.lease_token;
      done.kind = JobOutcome::Kind::kDone;
      if (!crm_id.empty()) {
        done.update_link = true;
        done.external_id = crm_id;
      }
      store->Complete(kPlugin, {done}, clock.NowMs());
    }
  }

  Reconciler& Make() {
    ReconcileOptions options;
    options.plugin = kPlugin;
    options.lookup_by_reference = crm.lookups;
    options.page_size = 2;
    options.first_backoff_ms = 1;
    reconciler = std::make_unique<Reconciler>(options, store.get(), &guarded, nullptr, &clock,
                                              &metrics, [this] { ++queued_wakes; });
    return *reconciler;
  }

  // Starts a run and waits for its end; its state.
  Poco::JSON::Object::Ptr RunToEnd(const std::string& entity, bool repair) {
    std::string run, error;
    bool attached = false, conflict = false;
    REQUIRE_MESSAGE(reconciler->Begin(entity, repair, &run, &attached, &conflict, &error), error);
    Poco::JSON::Object::Ptr state;
    REQUIRE(WaitUntil([&] {
      state = reconciler->Get(run);
      return state && state->getValue<std::string>("state") != "running";
    }));
    return state;
  }

  TempDir dir;
  ManualClock clock{kT0};
  MetricsRegistry metrics;
  FakeCrm crm;
  GuardedAdapter guarded{&crm, kPlugin};
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Reconciler> reconciler;
  int queued_wakes = 0;
};

int64_t Count(const Poco::JSON::Object::Ptr& run, const std::string& kind) {
  return run->getObject("counts")->getValue<int64_t>(kind);
}

std::vector<std::string> Rows(const Poco::JSON::Object::Ptr& run, const std::string& kind) {
  std::vector<std::string> out;
  Poco::JSON::Array::Ptr rows = run->getObject("rows")->getArray(kind);
  for (unsigned i = 0; rows && i < rows->size(); ++i) {
    out.push_back(rows->getObject(i)->getValue<std::string>("entity"));
  }
  return out;
}

const char kLead1[] = R"({"id":"L1","name":"Asha","status":"NEW"})";
const char kLead2[] = R"({"id":"L2","name":"Ravi","status":"NEW"})";
const char kLead3[] = R"({"id":"L3","name":"Meera","status":"NEW"})";

}  // namespace

TEST_SUITE("engine.reconcile") {
  TEST_CASE("listed records: differs, broken links, unknown references, then the missing") {
    Rig rig;
    rig.Mirror(EntityKind::kLead, "L1", kLead1, "c1");
    rig.Mirror(EntityKind::kLead, "L2", kLead2, "c2");
    rig.Mirror(EntityKind::kLead, "L3", kLead3);              // never linked, not at the CRM
    rig.Mirror(EntityKind::kLead, "L4", R"({"id":"L4","name":"Dev"})", "c4");  // c4 unreadable
    rig.Mirror(EntityKind::kLead, "L5", R"({"id":"L5","name":"Om"})", "c5");   // c5 deleted
    rig.crm.Add(EntityKind::kLead, "c1", "lead:L1", R"({"name":"Asha R.","status":"NEW"})");
    rig.crm.Add(EntityKind::kLead, "c9", "lead:L2", R"({"name":"Ravi"})");  // another record
    rig.crm.Add(EntityKind::kLead, "c7", "lead:nobody", R"({"name":"Ghost"})");
    rig.crm.Add(EntityKind::kLead, "c8", "", R"({"name":"Made by hand"})");
    rig.crm.failing = {"c4"};
    rig.Make();
    Poco::JSON::Object::Ptr run = rig.RunToEnd("lead", false);
    CHECK(run->getValue<std::string>("state") == "done");
    CHECK(Rows(run, "differs") == std::vector<std::string>{"lead:L1"});
    CHECK(Rows(run, "broken_link") == std::vector<std::string>{"lead:L2"});
    CHECK(Rows(run, "unknown_to_mirror") == std::vector<std::string>{"lead:nobody"});
    // L3 has no link: missing; L5's link points at nothing: missing too.
    CHECK(Rows(run, "missing") == std::vector<std::string>{"lead:L3", "lead:L5"});
    // An answer that could not be read is unknown, never missing.
    CHECK(Rows(run, "unknown") == std::vector<std::string>{"lead:L4"});
    CHECK(Count(run, "crm_owned") == 0);
    CHECK(run->getValue<int64_t>("checked") == 5);
    CHECK(run->getValue<int64_t>("total") == 5);
    CHECK(run->getValue<bool>("fieldsCompared"));
    // Two list pages, a read of c4 (tried CrmReads::kTries times), one of c5.
    CHECK(run->getValue<int64_t>("crmCalls") == 2 + CrmReads::kTries + 1);
    CHECK(rig.queued_wakes == 0);  // no repair asked
    CHECK(rig.store->Lease(kPlugin, 10, kT0, 60000).empty());
  }

  TEST_CASE("repair: one bulk resend per entity, named fields, links forgotten, nothing twice") {
    Rig rig;
    rig.Mirror(EntityKind::kLead, "L1", kLead1, "c1");
    rig.Mirror(EntityKind::kLead, "L2", kLead2, "c2");
    rig.Mirror(EntityKind::kLead, "L3", kLead3);
    rig.crm.Add(EntityKind::kLead, "c1", "lead:L1", R"({"name":"Asha R.","status":"LOST"})");
    rig.crm.Add(EntityKind::kLead, "c9", "lead:L2", R"({"name":"Ravi"})");
    rig.crm.Add(EntityKind::kLead, "c7", "lead:nobody", R"({"name":"Ghost"})");
    rig.Make();
    Poco::JSON::Object::Ptr run = rig.RunToEnd("", true);
    CHECK(run->getValue<int64_t>("repairsQueued") == 3);
    const std::string id = run->getValue<std::string>("run");
    std::map<std::string, LeasedJob> jobs;
    for (LeasedJob& job : rig.store->Lease(kPlugin, 10, kT0, 60000)) jobs[job.event_id] = job;
    REQUIRE(jobs.size() == 3u);
    const LeasedJob& differs = jobs.at("repair:" + id + ":lead:L1");
    CHECK(differs.priority == Priority::kBulk);
    CHECK(differs.external_id == std::optional<std::string>("c1"));
    CHECK_FALSE(differs.in_doubt);
    // Only the platform's field: status NEW -> LOST is not the CRM's from NEW,
    // so it is drift too; the name and the status, nothing else.
    CHECK(differs.payload.find(R"("changed":["name","status"])") != std::string::npos);
    const LeasedJob& broken = jobs.at("repair:" + id + ":lead:L2");
    CHECK_FALSE(broken.external_id.has_value());  // the link was forgotten
    CHECK(broken.in_doubt);                       // looked up first: links c9
    const LeasedJob& missing = jobs.at("repair:" + id + ":lead:L3");
    CHECK(missing.in_doubt);
    CHECK(missing.payload.find("\"changed\"") == std::string::npos);  // the entity whole
    CHECK(rig.queued_wakes > 0);
  }

  TEST_CASE("repair: a resend over a found or linked record leaves the CRM-owned fields alone") {
    Rig rig;
    // Both QUALIFIED: their status is the CRM's, which moved it on.
    rig.Mirror(EntityKind::kLead, "L1", R"({"id":"L1","name":"Asha","status":"QUALIFIED"})",
               "c1");
    rig.Mirror(EntityKind::kLead, "L2", R"({"id":"L2","name":"Ravi","status":"QUALIFIED"})",
               "c2");
    // L1's reference is on another record than the linked one (broken_link);
    // L2's linked record lost its reference (wrong_reference).
    rig.crm.Add(EntityKind::kLead, "c9", "lead:L1",
                R"({"name":"Asha R.","status":"NEGOTIATING"})");
    rig.crm.Add(EntityKind::kLead, "c2", "", R"({"name":"Ravi","status":"LOST"})");
    // L3's linked record is another entity's (it carries lead:L4's reference).
    rig.Mirror(EntityKind::kLead, "L3", kLead3, "c4");
    rig.crm.Add(EntityKind::kLead, "c4", "lead:L4", R"({"name":"Dev","status":"NEW"})");
    rig.Make();
    Poco::JSON::Object::Ptr run = rig.RunToEnd("lead", true);
    CHECK(Rows(run, "broken_link") == std::vector<std::string>{"lead:L1"});
    CHECK(Rows(run, "crm_owned") == std::vector<std::string>{"lead:L1"});
    CHECK(Rows(run, "wrong_reference") == std::vector<std::string>{"lead:L2", "lead:L3"});
    const std::string id = run->getValue<std::string>("run");
    std::map<std::string, LeasedJob> jobs;
    for (LeasedJob& job : rig.store->Lease(kPlugin, 10, kT0, 60000)) jobs[job.event_id] = job;
    REQUIRE(jobs.size() == 3u);
    // Not written over L4's record: unlinked, looked up first, else created.
    const LeasedJob& other = jobs.at("repair:" + id + ":lead:L3");
    CHECK_FALSE(other.external_id.has_value());
    CHECK(other.in_doubt);
    CHECK(other.payload.find("\"changed\"") == std::string::npos);
    // The platform's fields only: the CRM's status is not sent back over it.
    const LeasedJob& broken = jobs.at("repair:" + id + ":lead:L1");
    CHECK(broken.in_doubt);
    CHECK_MESSAGE(broken.payload.find(R"("changed":["name"])") != std::string::npos,
                  broken.payload);
    const LeasedJob& wrong = jobs.at("repair:" + id + ":lead:L2");
    CHECK(wrong.external_id == std::optional<std::string>("c2"));
    CHECK_MESSAGE(wrong.payload.find(R"("changed":["name"])") != std::string::npos,
                  wrong.payload);
  }

  TEST_CASE("without a list: each entity looked up by reference, fields not compared") {
    Rig rig;
    rig.crm.lists = false;
    rig.Mirror(EntityKind::kProperty, "p1", R"({"id":"p1","title":"A"})", "c1");
    rig.Mirror(EntityKind::kProperty, "p2", R"({"id":"p2","title":"B"})", "c2");
    rig.Mirror(EntityKind::kProperty, "p3", R"({"id":"p3","title":"C"})");
    rig.Mirror(EntityKind::kProperty, "p4", R"({"id":"p4","title":"D"})", "c4");
    rig.crm.Add(EntityKind::kProperty, "c1", "property:p1", R"({"title":"changed"})");
    rig.crm.Add(EntityKind::kProperty, "c22", "property:p2", "{}");
    rig.crm.failing = {"property:p4"};
    rig.Make();
    Poco::JSON::Object::Ptr run = rig.RunToEnd("property", false);
    CHECK(run->getValue<std::string>("state") == "done");
    CHECK_FALSE(run->getValue<bool>("fieldsCompared"));
    CHECK(run->getArray("notes")->getElement<std::string>(0).find(
              "fields were not compared") != std::string::npos);
    CHECK(Count(run, "differs") == 0);  // p1's title is not compared
    CHECK(Rows(run, "broken_link") == std::vector<std::string>{"property:p2"});
    CHECK(Rows(run, "missing") == std::vector<std::string>{"property:p3"});
    CHECK(Rows(run, "unknown") == std::vector<std::string>{"property:p4"});
  }

  TEST_CASE("a plugin that can neither list nor look up is refused, bad words are named") {
    Rig rig;
    rig.crm.lists = false;
    rig.crm.lookups = false;
    Reconciler& r = rig.Make();
    std::string run, error;
    bool attached = false, conflict = false;
    // Lists exist in principle (RecordReader), so Begin accepts; the run then
    // fails naming why.
    REQUIRE(r.Begin("", false, &run, &attached, &conflict, &error));
    Poco::JSON::Object::Ptr state;
    REQUIRE(WaitUntil([&] {
      state = r.Get(run);
      return state->getValue<std::string>("state") != "running";
    }));
    CHECK(state->getValue<std::string>("state") == "failed");
    CHECK(state->getValue<std::string>("error").find("cannot list properties, nor look them up") !=
          std::string::npos);
    CHECK_FALSE(r.Begin("contact", false, &run, &attached, &conflict, &error));
    CHECK_FALSE(conflict);
    CHECK(error == "entity must be lead or property (or absent for both), not \"contact\"");
  }

  TEST_CASE("resync: every entity, properties first, as looked-up resends, refused without lookup") {
    Rig rig;
    rig.Mirror(EntityKind::kLead, "L1", kLead1, "old-1");
    rig.Mirror(EntityKind::kLead, "L2", kLead2);
    rig.Mirror(EntityKind::kProperty, "p1", R"({"id":"p1","title":"A"})", "old-p");
    ResyncOptions options;
    options.plugin = kPlugin;
    options.lookup_by_reference = true;
    options.page_size = 1;
    Resyncer resync(options, rig.store.get(), &rig.clock, &rig.metrics, nullptr);
    std::string run, error;
    bool attached = false, conflict = false;
    REQUIRE(resync.Begin("", &run, &attached, &conflict, &error));
    Poco::JSON::Object::Ptr state;
    REQUIRE(WaitUntil([&] {
      state = resync.Get(run);
      return state->getValue<std::string>("state") == "done";
    }));
    CHECK(state->getValue<int64_t>("queued") == 3);
    CHECK(state->getObject("jobs")->getValue<int64_t>("unfinished") == 3);
    std::vector<LeasedJob> jobs = rig.store->Lease(kPlugin, 10, kT0, 60000);
    REQUIRE(jobs.size() == 3u);
    CHECK(jobs[0].event_id == "resync:" + run + ":property:p1");  // queued first
    for (const LeasedJob& job : jobs) {
      CHECK(job.priority == Priority::kBulk);
      CHECK(job.in_doubt);
      CHECK_FALSE(job.external_id.has_value());  // the old CRM's ids are forgotten
    }
    // Again: a new run, new ids; the same run's ids are never queued twice
    // (the store's event ids), which the e2e test's kill -9 shows.
    ResyncOptions blind = options;
    blind.lookup_by_reference = false;
    Resyncer refused(blind, rig.store.get(), &rig.clock, &rig.metrics, nullptr);
    CHECK_FALSE(refused.Begin("", &run, &attached, &conflict, &error));
    CHECK(conflict);
    CHECK(error.find("cannot look records up by reference") != std::string::npos);
  }

  TEST_CASE("a run stopped mid-way resumes from its last page after a restart") {
    Rig rig;
    for (int i = 0; i < 6; ++i) {
      rig.Mirror(EntityKind::kLead, "L" + std::to_string(i),
                 R"({"id":"L)" + std::to_string(i) + R"(","name":"N"})");
    }
    ResyncOptions options;
    options.plugin = kPlugin;
    options.lookup_by_reference = true;
    options.page_size = 2;
    std::string run, error;
    bool attached = false, conflict = false;
    {
      // A run begun by a service that was stopping: saved, not started.
      Resyncer resync(options, rig.store.get(), &rig.clock, &rig.metrics, nullptr);
      resync.Stop();  // no thread may start: the run stays unfinished
      REQUIRE(resync.Begin("lead", &run, &attached, &conflict, &error));
      CHECK_FALSE(attached);
    }
    {
      Resyncer again(options, rig.store.get(), &rig.clock, &rig.metrics, nullptr);
      std::string second;
      REQUIRE(again.Begin("", &second, &attached, &conflict, &error));
      CHECK(attached);  // the unfinished run, whatever was asked
      CHECK(second == run);
      Poco::JSON::Object::Ptr state;
      REQUIRE(WaitUntil([&] {
        state = again.Get(run);
        return state->getValue<std::string>("state") == "done";
      }));
      CHECK(state->getValue<int64_t>("queued") == 6);
      CHECK(state->getValue<std::string>("entity") == "lead");
    }
    CHECK(rig.store->Lease(kPlugin, 20, kT0, 60000).size() == 6u);
  }
}
