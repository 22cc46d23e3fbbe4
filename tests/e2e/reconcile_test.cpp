// `crmsync reconcile` and `crmsync resync` end to end: the real binary with
// generic-rest-crm against tools/reference-crm (config/crms/sunshine-reference.json,
// whose records section lists and reads records back) and the HubSpot stand-in
// (tests/crm-servers/hubspot.py, config/crms/hubspot.json). The CRM is edited
// behind the engine's back through reference-crm's own API (no webhooks are
// registered, as when they were missed); reconcile must report each kind of
// drift exactly, repair what the platform owns, and leave the CRM's own alone.
// A kill -9 in the middle of a repair or of a switch, then a re-run, leaves
// every record at the CRM exactly once. Waits are on the run's progress and
// the engine's figures, never on time.
#include <doctest/doctest.h>

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "mapped_engine.h"
#include "reference_crm.h"
#include "test_support.h"
#include "vendor_server.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;
using t::Text;

namespace {

constexpr char kMappings[] = CRMSYNC_SOURCE_DIR "/config/crms/";
const std::map<std::string, std::string> kRefKeys = {{"CRM_API_KEY", "ref-key"},
                                                     {"CRM_API_SECRET", "ref-secret"}};

struct ReferenceCrm : t::KeyedReferenceCrm {
  // The CRM's records of `collection` ("leads") carrying `reference`.
  std::vector<Object::Ptr> WithReference(const std::string& collection,
                                         const std::string& reference) const {
    std::vector<Object::Ptr> found;
    Array::Ptr records = State()->getArray(collection);
    for (unsigned i = 0; i < records->size(); ++i) {
      if (Text(records->getObject(i), "externalReference") == reference) {
        found.push_back(records->getObject(i));
      }
    }
    return found;
  }
  std::string IdOf(const std::string& collection, const std::string& reference) const {
    std::vector<Object::Ptr> found = WithReference(collection, reference);
    REQUIRE_MESSAGE(found.size() == 1u, reference << " is held " << found.size() << " times");
    return Text(found[0], "id");
  }
};

// The engine on a store the test keeps across restarts. No webhook is
// registered with the CRM (crm.webhook.url empty): what the CRM changes
// reaches the engine only through reconcile.
class Engine : public t::MappedEngine {
 public:
  Engine(const std::string& store, const std::string& mapping, const std::string& url,
         std::vector<std::string> extra = {},
         const std::map<std::string, std::string>& env = kRefKeys)
      : t::MappedEngine(store, mapping, url, "crmsync:hook-e2e-secret-1",
                        WithoutWebhooks(std::move(extra)), env) {}

  // Runs `crmsync <words>` against this engine to its end; its exit code,
  // the output (stdout and stderr) in `*output`.
  int Cli(std::vector<std::string> words, std::string* output) const {
    for (const std::string& w : CliSettings()) words.push_back(w);
    return t::RunCommand(CRMSYNC_BINARY, words, output);
  }

  // The JSON line a `... json` command printed.
  static Object::Ptr JsonOf(const std::string& output) {
    for (const std::string& line : t::LinesStartingWith(output, "{")) return t::Parse(line);
    FAIL("no JSON in: " << output);
    return nullptr;
  }

  // Waits until no job is unfinished and at least `done` are done (the
  // store's own figures, /api/v1/admin/status).
  void Drain(int64_t done) {
    std::string last;
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      t::HttpResult r = AdminCall("GET", "/api/v1/admin/status");
                      last = r.body;
                      if (r.status != 200) return false;
                      Object::Ptr q = t::Parse(r.body)->getObject("queue");
                      return q->getValue<int64_t>("ready") + q->getValue<int64_t>("queued") +
                                     q->getValue<int64_t>("delayed") +
                                     q->getValue<int64_t>("leased") ==
                                 0 &&
                             q->getValue<int64_t>("done") >= done;
                    }),
                    last << "\n" << Stderr());
  }

 private:
  static std::vector<std::string> WithoutWebhooks(std::vector<std::string> extra) {
    extra.insert(extra.begin(), {"--set", "crm.webhook.url="});
    return extra;
  }
};

std::string LeadEvent(const std::string& id, const std::string& name, const std::string& status) {
  return R"({"eventId":"e-)" + id + R"(","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z",)"
         R"("data":{"id":")" + id + R"(","name":")" + name + R"(","email":")" + id +
         R"(@example.com","phone":"+919876543210","source":"website","status":")" + status +
         R"("}})";
}

std::string PropertyEvent(const std::string& id) {
  return R"({"eventId":"e-)" + id +
         R"(","type":"property.created","occurredAt":"2026-11-23T10:00:00Z",)"
         R"("data":{"id":")" + id + R"(","title":"2BHK in Baner","price":6800000,"city":"Pune",)"
         R"("locality":"Baner","status":"ACTIVE","ownerId":"owner-1"}})";
}

// Posts `events` (one job each) in one batch and waits until the engine has
// done them, `done_before` jobs having been done before.
void SyncAll(Engine& engine, const std::vector<std::string>& events, int64_t done_before = 0) {
  std::string body = R"({"events":[)";
  for (size_t i = 0; i < events.size(); ++i) body += (i ? "," : "") + events[i];
  body += "]}";
  t::HttpResult posted = engine.PostEvent(body);
  REQUIRE_MESSAGE(posted.status == 202, posted.body);
  engine.Drain(done_before + static_cast<int64_t>(events.size()));
}

int64_t Count(const Object::Ptr& run, const std::string& kind) {
  return run->getObject("counts")->getValue<int64_t>(kind);
}

// The rows of `kind` in a run, as "entity" strings.
std::vector<std::string> Entities(const Object::Ptr& run, const std::string& kind) {
  std::vector<std::string> out;
  Array::Ptr rows = run->getObject("rows")->getArray(kind);
  for (unsigned i = 0; rows && i < rows->size(); ++i) {
    out.push_back(Text(rows->getObject(i), "entity"));
  }
  return out;
}

}  // namespace

TEST_SUITE("e2e.reconcile") {
  TEST_CASE("reconcile reports each kind of drift exactly, --repair fixes the platform's only") {
    ReferenceCrm crm;
    t::TempDir dir;
    Engine engine(dir.File("crmsync.db"), kMappings + std::string("sunshine-reference.json"),
                  crm.Url());
    SyncAll(engine, {PropertyEvent("p-1"), LeadEvent("L1", "Asha Rao", "NEW"),
                     LeadEvent("L2", "Ravi Kumar", "CONTACTED"),
                     LeadEvent("L3", "Meera Iyer", "QUALIFIED"),
                     LeadEvent("L4", "Dev Shah", "NEW")});
    REQUIRE(crm.State()->getArray("leads")->size() == 4u);

    std::string out;
    // Nothing drifted yet.
    REQUIRE_MESSAGE(engine.Cli({"reconcile", "json"}, &out) == 0, out);
    Object::Ptr clean = Engine::JsonOf(out);
    for (const char* kind : {"missing", "differs", "crm_owned", "unknown_to_mirror",
                             "broken_link", "wrong_reference", "unknown"}) {
      CHECK_MESSAGE(Count(clean, kind) == 0, kind << ": " << out);
    }
    CHECK(clean->getValue<bool>("fieldsCompared"));

    // Behind the engine's back: an agent renames L1 (the platform's field),
    // deletes L2, moves L3 on (its status is the CRM's from QUALIFIED), and a
    // record appears carrying a reference the platform never sent.
    REQUIRE(crm.Call("POST", "/_crm/leads/" + crm.IdOf("leads", "lead:L1"),
                     R"({"name":"Asha R."})").status == 200);
    REQUIRE(crm.Call("DELETE", "/_crm/leads/" + crm.IdOf("leads", "lead:L2")).status == 204);
    REQUIRE(crm.Call("POST", "/_crm/leads/" + crm.IdOf("leads", "lead:L3"),
                     R"({"status":"negotiating"})").status == 200);
    REQUIRE(crm.Call("POST", "/api/v1/leads",
                     R"({"name":"Ghost","status":"new","externalReference":"lead:ghost"})")
                .status == 201);

    // Drift exits 2 (as diff does), naming it; crm_owned is not drift.
    REQUIRE_MESSAGE(engine.Cli({"reconcile", "json"}, &out) == 2, out);
    CHECK_MESSAGE(out.find("drift found: 1 missing, 1 differs, 1 unknown_to_mirror\n") !=
                      std::string::npos,
                  out);
    Object::Ptr drift = Engine::JsonOf(out);
    CHECK_MESSAGE(Count(drift, "missing") == 1, out);
    CHECK(Count(drift, "differs") == 1);
    CHECK(Count(drift, "crm_owned") == 1);
    CHECK(Count(drift, "unknown_to_mirror") == 1);
    CHECK(Count(drift, "broken_link") == 0);
    CHECK(Count(drift, "wrong_reference") == 0);
    CHECK(Count(drift, "unknown") == 0);
    CHECK(Entities(drift, "missing") == std::vector<std::string>{"lead:L2"});
    CHECK(Entities(drift, "differs") == std::vector<std::string>{"lead:L1"});
    CHECK(Entities(drift, "crm_owned") == std::vector<std::string>{"lead:L3"});
    CHECK(Entities(drift, "unknown_to_mirror") == std::vector<std::string>{"lead:ghost"});
    Object::Ptr differs = drift->getObject("rows")->getArray("differs")->getObject(0);
    Array::Ptr fields = differs->getArray("fields");
    REQUIRE(fields->size() == 1u);
    CHECK(Text(fields->getObject(0), "field") == "name");
    CHECK(Text(fields->getObject(0), "crm") == "\"Asha R.\"");
    CHECK(drift->getValue<int64_t>("crmCalls") >= 3);  // two lists and a read

    // The table: counts per kind, then the rows; no e-mail shown.
    REQUIRE_MESSAGE(engine.Cli({"reconcile", "lead"}, &out) == 2, out);
    CHECK(out.find("differs            1") != std::string::npos);
    CHECK(out.find("lead:L1") != std::string::npos);
    CHECK(out.find("name: \"Asha Rao\" -> CRM \"Asha R.\"") != std::string::npos);
    CHECK(out.find("@example.com") == std::string::npos);

    // The repair: L1's name and L2 again; L3's status and the ghost untouched.
    REQUIRE_MESSAGE(engine.Cli({"reconcile", "--repair", "json"}, &out) == 2, out);
    CHECK(Engine::JsonOf(out)->getValue<int64_t>("repairsQueued") == 2);
    engine.Drain(5 + 2);
    CHECK(Text(crm.WithReference("leads", "lead:L1")[0], "name") == "Asha Rao");
    CHECK(crm.WithReference("leads", "lead:L2").size() == 1u);
    CHECK(Text(crm.WithReference("leads", "lead:L3")[0], "status") == "negotiating");
    CHECK(crm.WithReference("leads", "lead:ghost").size() == 1u);
    CHECK(crm.State()->getArray("leads")->size() == 5u);

    REQUIRE_MESSAGE(engine.Cli({"reconcile", "json"}, &out) == 2, out);
    Object::Ptr after = Engine::JsonOf(out);
    CHECK_MESSAGE(Count(after, "missing") == 0, out);
    CHECK(Count(after, "differs") == 0);
    CHECK(Count(after, "crm_owned") == 1);
    CHECK(Count(after, "unknown_to_mirror") == 1);

    // The last run in the status, the metrics and the list of runs.
    Object::Ptr status = t::Parse(engine.AdminCall("GET", "/api/v1/admin/status").body);
    Object::Ptr last = status->getObject("runtime")->getObject("reconcile");
    REQUIRE(last);
    CHECK(Text(last, "state") == "done");
    CHECK(last->getObject("counts")->getValue<int64_t>("crm_owned") == 1);
    CHECK(engine.Metric("crmsync_reconcile_findings{kind=\"unknown_to_mirror\"}") == 1);
    CHECK(engine.Metric("crmsync_reconcile_repairs_total") == 2);
    Object::Ptr runs = t::Parse(engine.AdminCall("GET", "/api/v1/reconcile").body);
    CHECK(runs->getArray("runs")->size() == 5u);
  }

  TEST_CASE("a repair killed -9 mid-run resumes on restart, the CRM gets each record once") {
    ReferenceCrm crm;
    t::TempDir dir;
    const std::string store = dir.File("crmsync.db");
    const std::string mapping = kMappings + std::string("sunshine-reference.json");
    // Small pages and a slow budget, so the run is caught in the middle. The
    // budget allows a second's worth at once: at 40/s the run's 26 CRM calls
    // all went at once, and the kill raced the run's end. At 10/s the reads
    // after the 8th (two pages) take 1.6 s more.
    const std::vector<std::string> slow = {"--set", "reconcile.page_size=4", "--set",
                                           "crm.rate_limit=10"};
    constexpr int kLeads = 24;
    {
      Engine engine(store, mapping, crm.Url(), slow);
      std::vector<std::string> events;
      for (int i = 0; i < kLeads; ++i) {
        events.push_back(LeadEvent("K" + std::to_string(100 + i), "Lead " + std::to_string(i),
                                   "NEW"));
      }
      SyncAll(engine, events);
      // Every one deleted at the CRM: each is missing, each linked id gone.
      Array::Ptr leads = crm.State()->getArray("leads");
      REQUIRE(leads->size() == static_cast<size_t>(kLeads));
      for (unsigned i = 0; i < leads->size(); ++i) {
        REQUIRE(crm.Call("DELETE", "/_crm/leads/" + Text(leads->getObject(i), "id")).status ==
                204);
      }
      std::vector<std::string> words = {"reconcile", "--repair"};
      for (const std::string& w : engine.CliSettings()) words.push_back(w);
      t::ChildProcess cli(CRMSYNC_BINARY, words);
      Object::Ptr run;
      REQUIRE_MESSAGE(t::WaitUntil([&] {
                        Array::Ptr runs =
                            t::Parse(engine.AdminCall("GET", "/api/v1/reconcile").body)
                                ->getArray("runs");
                        if (!runs || runs->size() == 0) return false;
                        run = runs->getObject(0);
                        return run->getValue<int64_t>("checked") >= 8;
                      }),
                      engine.Stderr());
      REQUIRE_MESSAGE(Text(run, "state") == "running", "the run ended before the kill");
      engine.Kill();
      REQUIRE(cli.WaitExit(std::chrono::seconds(20)));
      CHECK(cli.exit_code() == 1);
      CHECK(cli.Stderr().find("run `crmsync reconcile` again to re-attach") != std::string::npos);
    }
    // The service resumes the run by itself at start; the command re-attaches
    // to it while it is unfinished (or, once it is done, runs another).
    Engine engine(store, mapping, crm.Url(), slow);
    std::string out;
    // The re-attached run found the drift it repairs (2); a run started after
    // it finished may find its repairs already done (0).
    const int resumed = engine.Cli({"reconcile", "--repair", "json"}, &out);
    REQUIRE_MESSAGE((resumed == 2 || resumed == 0), out);
    REQUIRE(t::WaitUntil([&] {
      Object::Ptr runs = t::Parse(engine.AdminCall("GET", "/api/v1/reconcile").body);
      Object::Ptr killed = runs->getArray("runs")->getObject(runs->getArray("runs")->size() - 1);
      return Text(killed, "state") == "done";
    }));
    engine.Drain(kLeads + kLeads);  // every lead created, then created again
    for (int i = 0; i < kLeads; ++i) {
      const std::string reference = "lead:K" + std::to_string(100 + i);
      CHECK_MESSAGE(crm.WithReference("leads", reference).size() == 1u, reference);
    }
    CHECK(crm.State()->getArray("leads")->size() == static_cast<size_t>(kLeads));
    // Repaired: no drift, exit 0.
    REQUIRE_MESSAGE(engine.Cli({"reconcile", "json"}, &out) == 0, out);
    Object::Ptr after = Engine::JsonOf(out);
    CHECK_MESSAGE(Count(after, "missing") == 0, out);
    CHECK(Count(after, "broken_link") == 0);
    CHECK(Count(after, "unknown") == 0);
  }

  TEST_CASE("switching CRM: resync --all puts every record at HubSpot once, across re-runs and a kill -9") {
    ReferenceCrm crm;
    t::VendorServer hs("hubspot.py", {"--token", "pat-na1-3Fq"});
    hs.Control(
        R"({"customProperties":{"contacts":["crmsync_reference","crmsync_status","crmsync_source",)"
        R"("crmsync_utm_source","crmsync_related_property","crmsync_created_date",)"
        R"("crmsync_budget_min","crmsync_budget_max","crmsync_preferred_areas","crmsync_notes",)"
        R"("crmsync_lost_reason"],)"
        R"("0-420":["crmsync_reference","crmsync_status","crmsync_owner","crmsync_internal_id"]},)"
        R"("rateLimitPerWindow":100000})");
    t::TempDir dir;
    const std::string store = dir.File("crmsync.db");
    constexpr int kLeads = 12;
    // Day 99: everything synced to the reference CRM.
    {
      Engine engine(store, kMappings + std::string("sunshine-reference.json"), crm.Url());
      std::vector<std::string> events = {PropertyEvent("p-1"), PropertyEvent("p-2")};
      for (int i = 0; i < kLeads; ++i) {
        events.push_back(LeadEvent("S" + std::to_string(10 + i), "Lead " + std::to_string(i),
                                   "NEW"));
      }
      SyncAll(engine, events);
      REQUIRE(crm.State()->getArray("leads")->size() == static_cast<size_t>(kLeads));
    }
    // The switch: the same store, the HubSpot mapping, URL and token.
    const std::string hubspot = kMappings + std::string("hubspot.json");
    const std::map<std::string, std::string> hs_token = {{"CRM_API_KEY", "pat-na1-3Fq"}};
    // Paced, so the kill below lands while the jobs are half done.
    const std::vector<std::string> paced = {"--set", "crm.rate_limit=10"};
    auto each_once = [&](const char* when) {
      for (int i = 0; i < kLeads; ++i) {
        const std::string reference = "lead:S" + std::to_string(10 + i);
        size_t n = 0;
        Array::Ptr contacts = hs.Records("contacts");
        for (unsigned c = 0; c < contacts->size(); ++c) {
          if (Text(contacts->getObject(c)->getObject("properties"), "crmsync_reference") ==
              reference) {
            ++n;
          }
        }
        CHECK_MESSAGE(n == 1u, std::string(when) << ": " << reference << " at HubSpot " << n
                                                 << " times");
      }
      CHECK_MESSAGE(hs.Records("contacts")->size() == static_cast<size_t>(kLeads), std::string(when));
      CHECK_MESSAGE(hs.Records("0-420")->size() == 2u, std::string(when));
    };
    {
      Engine engine(store, hubspot, hs.Url(), paced, hs_token);
      std::string out;
      REQUIRE_MESSAGE(engine.Cli({"resync", "--all"}, &out) == 0, out);
      CHECK(out.find(std::to_string(kLeads + 2) + " entities queued") != std::string::npos);
      each_once("after the first resync");
      // A half-done switch run again: still once each.
      REQUIRE_MESSAGE(engine.Cli({"resync", "--all"}, &out) == 0, out);
      each_once("after the second resync");

      // Killed in the middle of a third: its jobs half done.
      REQUIRE_MESSAGE(engine.Cli({"resync", "--all", "--no-wait", "json"}, &out) == 0, out);
      const std::string run = Text(Engine::JsonOf(out), "run");
      Object::Ptr jobs;
      REQUIRE(t::WaitUntil([&] {
        jobs = t::Parse(engine.AdminCall("GET", "/api/v1/resync/" + run).body)->getObject("jobs");
        return jobs->getValue<int64_t>("done") >= 3;
      }));
      engine.Kill();
      CHECK_MESSAGE(jobs->getValue<int64_t>("unfinished") > 0, "the kill came after the jobs");
    }
    Engine engine(store, hubspot, hs.Url(), paced, hs_token);
    std::string out;
    REQUIRE_MESSAGE(engine.Cli({"resync", "--all"}, &out) == 0, out);
    each_once("after a kill -9 and a re-run");
    // The reference of a lead's property goes with it: the HubSpot id.
    CHECK(hs.Records("0-420")->size() == 2u);
  }

  TEST_CASE("reconcile and resync: bad words, the service down, a plugin without lookups") {
    std::string out;
    // Bad words, refused before the service is asked.
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"reconcile", "contact"}, &out) == 64);
    CHECK(out.find("unknown word 'contact'; the entity is lead or property") != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"reconcile", "lead", "property"}, &out) == 64);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"resync"}, &out) == 64);
    CHECK(out.find("say what to send: --all") != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"resync", "--all", "lead"}, &out) == 64);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"resync", "--all", "--repair"}, &out) == 64);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"status", "--repair"}, &out) == 64);
    CHECK(out.find("--repair and --all apply to reconcile and resync only") != std::string::npos);
    CHECK(t::RunCommand(CRMSYNC_BINARY, {"status", "--no-wait"}, &out) == 64);
    CHECK(out.find("--no-wait applies to backfill, reconcile and resync only") != std::string::npos);

    // The service down: named, with where it was looked for.
    const int port = t::FreePort();
    CHECK(t::RunCommand(CRMSYNC_BINARY,
                        {"reconcile", "--set", "server.port=" + std::to_string(port)}, &out) == 1);
    CHECK(out.find("cannot reach the service at 127.0.0.1:" + std::to_string(port)) !=
          std::string::npos);

    // A plugin that can neither list its records nor look them up.
    t::TempDir dir;
    const std::vector<std::string> settings = {
        "--set", "server.port=" + std::to_string(port), "--set", "admin.token=admin-x",
        "--set", "store.path=" + dir.File("crmsync.db"), "--set",
        "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set", "crm.plugin=good_plugin"};
    std::vector<std::string> serve = {"serve"};
    serve.insert(serve.end(), settings.begin(), settings.end());
    t::ChildProcess service(CRMSYNC_BINARY, serve);
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      return t::HttpCall(port, "GET", "/api/v1/admin/status", "",
                                         {{"Authorization", "Bearer admin-x"}})
                                 .status == 200;
                    }),
                    service.Stderr());
    auto run = [&](std::vector<std::string> words) {
      words.insert(words.end(), settings.begin(), settings.end());
      return t::RunCommand(CRMSYNC_BINARY, words, &out);
    };
    CHECK(run({"reconcile"}) == 1);
    CHECK(out.find("answered 409") != std::string::npos);
    CHECK(out.find("plugin good_plugin can neither list its CRM records") != std::string::npos);
    CHECK(run({"resync", "--all"}) == 1);
    CHECK(out.find("plugin good_plugin cannot look records up by reference") != std::string::npos);
    // The API names a bad body and an unknown run.
    auto admin = [&](const std::string& method, const std::string& path, const std::string& body) {
      return t::HttpCall(port, method, path, body, {{"Authorization", "Bearer admin-x"}});
    };
    t::HttpResult bad = admin("POST", "/api/v1/reconcile", R"({"entity":"contact"})");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("entity must be lead or property") != std::string::npos);
    CHECK(admin("POST", "/api/v1/reconcile", R"({"repair":"yes"})").status == 400);
    CHECK(admin("POST", "/api/v1/resync", R"({"repair":true})").status == 400);
    CHECK(admin("GET", "/api/v1/reconcile/nope", "").status == 404);
    CHECK(admin("GET", "/api/v1/resync/nope", "").status == 404);
    CHECK(t::HttpCall(port, "POST", "/api/v1/reconcile", "{}").status == 401);
  }
}
