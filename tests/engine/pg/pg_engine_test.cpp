// pg_engine_test.cpp: the real crmsync binary with store.backend=postgres
// against a real server: events posted over HTTP reach the mock CRM, the
// store is described as PostgreSQL in /readyz, and two engines on one
// database share the work, each event reaching the CRM once.
#include <doctest/doctest.h>

#include <signal.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pg_server.h"
#include "test_support.h"

namespace t = crmsync::testing;

namespace {

// `crmsync serve` on a free port, its store on PostgreSQL (the URL read from a
// file, as secrets may be), with the mock CRM's state in `crm_state`.
struct PgEngine {
  PgEngine(const std::string& url, const std::string& crm_state) {
    t::WriteFile(dir.File("store.url"), url + "\n");
    std::vector<std::string> args = {"serve",
                                     "--set",
                                     "server.port=" + std::to_string(port),
                                     "--set",
                                     "store.backend=postgres",
                                     "--set",
                                     "store.url.file=" + dir.File("store.url"),
                                     "--set",
                                     "store.pool_size=4",
                                     "--set",
                                     "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                                     "--set",
                                     "intake.token=intake-pg",
                                     "--set",
                                     "admin.token=admin-pg",
                                     "--set",
                                     "crm.mock-crm.state_file=" + crm_state,
                                     "--set",
                                     "log.level=warning",
                                     "--set",
                                     "workers.count=4"};
    process = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY, args);
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        process->Stderr());
  }

  Poco::JSON::Object::Ptr Dump() {
    t::HttpResult r =
        t::HttpCall(port, "GET", "/api/v1/admin/crm/dump", "", {{"Authorization", "Bearer admin-pg"}});
    if (r.status != 200) return nullptr;
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
  }

  int Post(const std::string& body) {
    return t::HttpCall(
               port, "POST", "/api/v1/events", body,
               {{"Authorization", "Bearer intake-pg"}, {"Content-Type", "application/json"}})
        .status;
  }

  t::TempDir dir;
  int port = t::FreePort();
  std::unique_ptr<t::ChildProcess> process;
};

std::string LeadEnvelope(const std::string& event_id, const std::string& type, int lead,
                         const std::string& status) {
  return "{\"eventId\":\"" + event_id + "\",\"type\":\"" + type +
         "\",\"occurredAt\":\"2026-11-23T10:15:00Z\",\"data\":{\"id\":\"L" + std::to_string(lead) +
         "\",\"name\":\"Lead " + std::to_string(lead) + "\",\"email\":\"lead" +
         std::to_string(lead) + "@example.com\",\"status\":\"" + status + "\"}}";
}

// The mock CRM's leads by externalReference, with their status; empty when the
// dump cannot be read.
std::map<std::string, std::string> CrmLeads(PgEngine& engine, int* records) {
  std::map<std::string, std::string> leads;
  *records = 0;
  Poco::JSON::Object::Ptr dump = engine.Dump();
  if (!dump || !dump->getArray("leads")) return leads;
  Poco::JSON::Array::Ptr list = dump->getArray("leads");
  for (size_t i = 0; i < list->size(); ++i) {
    Poco::JSON::Object::Ptr lead = list->getObject(static_cast<unsigned>(i));
    ++*records;
    leads[lead->optValue<std::string>("externalReference", "")] =
        lead->optValue<std::string>("status", "");
  }
  return leads;
}

}  // namespace

TEST_SUITE("engine.pg.binary") {
  TEST_CASE("crmsync with store.backend=postgres syncs posted events to mock-crm") {
    std::string url = t::NewPgDatabase();
    t::TempDir crm;
    PgEngine engine(url, crm.File("mock-crm.journal"));

    // The store's description is for the admin token only.
    t::HttpResult ready = t::HttpCall(engine.port, "GET", "/readyz", "",
                                      {{"Authorization", "Bearer admin-pg"}});
    CHECK(ready.status == 200);
    CHECK(ready.body.find("postgres host=127.0.0.1") != std::string::npos);
    CHECK(t::HttpCall(engine.port, "GET", "/readyz").body.find("postgres") == std::string::npos);

    const int kLeads = 5;
    for (int i = 0; i < kLeads; ++i) {
      CHECK(engine.Post(LeadEnvelope("create-" + std::to_string(i), "lead.created", i, "NEW")) ==
            202);
    }
    CHECK(engine.Post(LeadEnvelope("create-0", "lead.created", 0, "NEW")) == 200);  // duplicate
    CHECK(engine.Post(LeadEnvelope("contact-1", "lead.status_changed", 1, "CONTACTED")) == 202);

    int records = 0;
    bool synced = t::WaitUntil(
        [&] {
          std::map<std::string, std::string> leads = CrmLeads(engine, &records);
          return leads.size() == kLeads && leads["lead:L1"] == "contacted";
        },
        std::chrono::seconds(30));
    std::map<std::string, std::string> leads = CrmLeads(engine, &records);
    Poco::JSON::Object::Ptr dump = engine.Dump();
    REQUIRE_MESSAGE(synced, engine.process->Stderr()
                                << "\ndump: "
                                << (dump ? t::HttpCall(engine.port, "GET", "/api/v1/admin/crm/dump",
                                                       "", {{"Authorization", "Bearer admin-pg"}})
                                               .body
                                         : std::string("none")));
    CHECK(records == kLeads);
    for (int i = 0; i < kLeads; ++i) CHECK(leads.count("lead:L" + std::to_string(i)) == 1);

    engine.process->Signal(SIGTERM);
    REQUIRE(engine.process->WaitExit(std::chrono::seconds(20)));
    CHECK(engine.process->exit_code() == 0);
  }

  TEST_CASE("two crmsync processes on one database deliver each event once") {
    std::string url = t::NewPgDatabase();
    t::TempDir crm;
    // Each engine has its own in-process mock CRM: a create handled by one
    // engine shows in that engine's CRM only, so the two dumps together must
    // hold every lead exactly once.
    PgEngine a(url, crm.File("mock-crm-a.journal"));
    PgEngine b(url, crm.File("mock-crm-b.journal"));
    const int kLeads = 40;
    for (int i = 0; i < kLeads; ++i) {
      PgEngine& via = i % 2 ? a : b;
      REQUIRE(via.Post(LeadEnvelope("c-" + std::to_string(i), "lead.created", i, "NEW")) == 202);
    }
    // Jobs finished by each engine, from its /metrics.
    auto finished = [](PgEngine& engine) -> int64_t {
      t::HttpResult m = t::HttpCall(engine.port, "GET", "/metrics");
      const std::string key = "crmsync_jobs_finished_total{plugin=\"mock-crm\",result=\"done\"} ";
      size_t at = m.body.find(key);
      return at == std::string::npos ? 0 : std::stoll(m.body.substr(at + key.size()));
    };
    bool all_done =
        t::WaitUntil([&] { return finished(a) + finished(b) >= kLeads; }, std::chrono::seconds(30));
    CHECK(finished(a) + finished(b) == kLeads);
    REQUIRE_MESSAGE(all_done, t::HttpCall(a.port, "GET", "/metrics").body);
    int records_a = 0;
    int records_b = 0;
    std::map<std::string, std::string> leads = CrmLeads(a, &records_a);
    std::map<std::string, std::string> leads_b = CrmLeads(b, &records_b);
    leads.insert(leads_b.begin(), leads_b.end());
    CHECK(records_a + records_b == kLeads);
    CHECK(leads.size() == static_cast<size_t>(kLeads));
    INFO("engine a created ", records_a, ", engine b ", records_b);
  }
}
