// Shadow mode end to end (docs/design.md §11): the real binary with
// generic-rest-crm live (config/crms/sunshine-reference.json) against
// tools/reference-crm, and a shadow generic-rest-crm with a copy of that
// mapping whose lead `name` is renamed `fullName`.
//   - Without crm.shadow.url the shadow sends nothing: the live CRM gets
//     exactly the live requests (the shadow's base URL is the live one, so a
//     shadow request would land there too), and `crmsync shadow report json`
//     counts /fullName added and /name removed once per job; the summary
//     survives a restart; `crmsync shadow reset` starts it clean.
//   - With crm.shadow.url a second reference-crm, with credentials of its
//     own (crm.shadow.generic-rest-crm.api_key), receives the shadow's
//     requests, a later update naming the sandbox's own id of the record;
//     the report counts its answers.
//   - A bad shadow plugin name, a bad shadow mapping, a mapping without a
//     plugin and a bad sandbox URL are errors naming the setting, both at
//     start and in check-config.
#include <doctest/doctest.h>

#include <signal.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "reference_crm.h"
#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

const std::string kMapping = CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json";
const std::string kLiveKey = "live-key-e2e-4411";
const std::string kLiveSecret = "live-secret-e2e-3318";
const std::string kSandboxKey = "sandbox-key-e2e-9902";
const std::string kSandboxSecret = "sandbox-secret-e2e-6620";

Object::Ptr Parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// The reference mapping with the lead's `name` sent as `fullName`: the
// "next version" being tried.
std::string RenamedMapping() {
  std::string text = t::ReadFile(kMapping);
  const std::string from = R"("name": "{{name}}")";
  const std::string to = R"("fullName": "{{name}}")";
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
  }
  REQUIRE(text.find(to) != std::string::npos);
  return text;
}

std::string LeadCreated(int n) {
  return R"({"eventId":"shadow-)" + std::to_string(n) +
         R"(","type":"lead.created","occurredAt":"2026-12-03T10:00:00Z","data":{"id":"s-)" +
         std::to_string(n) + R"(","name":"Asha )" + std::to_string(n) +
         R"(","email":"asha)" + std::to_string(n) +
         R"(@acme.example","phone":"+91 98765 4321)" + std::to_string(n) +
         R"(","source":"website","status":"NEW"}})";
}

// A config file for serve and the commands; `extra` lines appended.
struct Config {
  explicit Config(const std::string& live_url, const std::vector<std::string>& extra = {}) {
    t::WriteFile(dir.File("renamed.json"), RenamedMapping());
    std::string text = "server.port=" + std::to_string(port) + "\n" +
                       "store.path=" + dir.File("crmsync.db") + "\n" +
                       "plugins.dir=" CRMSYNC_PLUGIN_DIR "\n"
                       "crm.plugin=generic-rest-crm\n"
                       "crm.mapping=" + kMapping + "\n" +
                       "crm.api.url=" + live_url + "\n" +
                       "crm.api.key=" + kLiveKey + "\n" +
                       "crm.api.secret=" + kLiveSecret + "\n" +
                       "intake.token=intake-shadow\n"
                       "admin.token=admin-shadow\n"
                       "log.level=warning\n"
                       "crm.shadow.plugin=generic-rest-crm\n"
                       // Relative: read against the config file's folder.
                       "crm.shadow.mapping=renamed.json\n";
    for (const std::string& line : extra) text += line + "\n";
    t::WriteFile(dir.File("crmsync.properties"), text);
  }
  std::string File() const { return dir.File("crmsync.properties"); }

  t::TempDir dir;
  int port = t::FreePort();
};

struct Engine {
  explicit Engine(const Config& config) : port(config.port) {
    process = std::make_unique<t::ChildProcess>(CRMSYNC_BINARY,
                                                std::vector<std::string>{"serve", "--config",
                                                                         config.File()});
    REQUIRE_MESSAGE(t::WaitUntil([&] { return Admin("GET", "/api/v1/admin/status").status == 200; }),
                    process->Stderr());
  }
  ~Engine() { Stop(); }
  void Stop() {
    if (!process) return;
    process->Signal(SIGTERM);
    process->WaitExit(std::chrono::seconds(20));
    process.reset();
  }
  t::HttpResult Admin(const std::string& method, const std::string& path) {
    return t::HttpCall(port, method, path, "", {{"Authorization", "Bearer admin-shadow"}});
  }
  void Post(const std::string& event) {
    t::HttpResult r = t::HttpCall(port, "POST", "/api/v1/events", event,
                                  {{"Authorization", "Bearer intake-shadow"}});
    REQUIRE_MESSAGE(r.status == 202, r.body);
  }
  // GET /api/v1/shadow once its jobs.compared (plus errors) reach `jobs`.
  Object::Ptr WaitCompared(int jobs) {
    Object::Ptr report;
    const bool reached = t::WaitUntil([&] {
      t::HttpResult r = Admin("GET", "/api/v1/shadow");
      if (r.status != 200) return false;
      report = Parse(r.body);
      Object::Ptr figures = report->getObject("jobs");
      return figures->getValue<int>("compared") + figures->getValue<int>("errors") >= jobs;
    });
    REQUIRE_MESSAGE(reached, (report ? Admin("GET", "/api/v1/shadow").body : "no report") << "\n"
                                 << process->Stderr());
    return report;
  }
  double Metric(const std::string& series) {
    const std::string text = "\n" + t::HttpCall(port, "GET", "/metrics").body;
    const size_t at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 2));
  }

  int port;
  std::unique_ptr<t::ChildProcess> process;
};

// A `crmsync` command with the config; its exit code, output in `*out`.
int Command(const Config& config, std::vector<std::string> args, std::string* out) {
  args.push_back("--config");
  args.push_back(config.File());
  return t::RunCommand(CRMSYNC_BINARY, args, out);
}

// The count of the create step's body difference at `pointer`; 0 when absent.
int Count(const Object::Ptr& report, const std::string& pointer, const std::string& change) {
  Array::Ptr list = report->getArray("differences");
  for (unsigned i = 0; i < list->size(); ++i) {
    Object::Ptr d = list->getObject(i);
    if (d->getValue<std::string>("step") == "create" &&
        d->getValue<std::string>("where") == "body" &&
        d->getValue<std::string>("pointer") == pointer &&
        d->getValue<std::string>("change") == change) {
      return d->getValue<int>("count");
    }
  }
  return 0;
}

int Requests(const t::ReferenceCrmProcess& crm, const std::string& route) {
  Object::Ptr requests = crm.State()->getObject("requests");
  return requests->has(route) ? requests->getValue<int>(route) : 0;
}

}  // namespace

TEST_SUITE("e2e.shadow") {
  TEST_CASE("the shadow builds every job's requests, sends nothing, and reports the renamed field") {
    t::ReferenceCrmProcess live({"--api-key", kLiveKey, "--api-secret", kLiveSecret});
    Config config(live.Url());
    {
      Engine engine(config);
      for (int n = 1; n <= 3; ++n) engine.Post(LeadCreated(n));
      Object::Ptr report = engine.WaitCompared(3);
      CHECK(report->getValue<bool>("enabled"));
      CHECK(report->getObject("jobs")->getValue<int>("differing") == 3);
      CHECK(report->getObject("jobs")->getValue<int>("errors") == 0);

      // The live CRM got the live requests and nothing else: three creates of
      // records named as the live mapping names them.
      Object::Ptr state = live.State();
      Array::Ptr leads = state->getArray("leads");
      CHECK(leads->size() == 3);
      for (unsigned i = 0; i < leads->size(); ++i) {
        CHECK(leads->getObject(i)->has("name"));
        CHECK_FALSE(leads->getObject(i)->has("fullName"));
      }
      CHECK(Requests(live, "POST /api/v1/leads") == 3);
      // Every other request it got was the engine's own (the agent directory)
      // or the test's.
      Object::Ptr routes = live.State()->getObject("requests");
      for (const auto& [route, n] : *routes) {
        CAPTURE(route);
        CHECK((route == "POST /api/v1/leads" || route == "GET /api/v1/users" ||
               route == "GET /_state"));
      }
      CHECK(report->getObject("sandbox")->getValue<int>("sent") == 0);
      CHECK(report->isNull("sandboxUrl"));

      // The command's JSON names the pointers with one count per job.
      std::string out;
      REQUIRE_MESSAGE(Command(config, {"shadow", "report", "json"}, &out) == 0, out);
      Object::Ptr cli = Parse(out);
      CHECK(Count(cli, "/fullName", "added") == 3);
      CHECK(Count(cli, "/name", "removed") == 3);
      CHECK(cli->getObject("steps")->getObject("create")->getValue<int>("differing") == 3);
      // Examples are masked: the emails, phones and the API key never show.
      CHECK(out.find("acme.example") == std::string::npos);
      CHECK(out.find("98765") == std::string::npos);
      CHECK(out.find(kLiveKey) == std::string::npos);
      CHECK(out.find(kLiveSecret) == std::string::npos);
      CHECK(cli->getArray("examples")->size() == 3);
      // The table.
      REQUIRE(Command(config, {"shadow", "report"}, &out) == 0);
      CHECK(out.find("3 compared, 0 identical, 3 differing") != std::string::npos);
      CHECK(out.find("/fullName") != std::string::npos);

      // Status, metrics.
      Object::Ptr status = Parse(engine.Admin("GET", "/api/v1/admin/status").body);
      Object::Ptr figures = status->getObject("runtime")->getObject("shadow");
      CHECK(figures->getValue<bool>("enabled"));
      CHECK(figures->getValue<int>("compared") == 3);
      CHECK(figures->getValue<int>("differing") == 3);
      CHECK(engine.Metric("crmsync_shadow_jobs_total{result=\"differing\"}") == 3);
      CHECK(engine.Metric("crmsync_shadow_dropped_total") == 0);
    }
    // A restart keeps the summary; reset starts it clean.
    Engine again(config);
    Object::Ptr kept = Parse(again.Admin("GET", "/api/v1/shadow").body);
    CHECK(kept->getObject("jobs")->getValue<int>("compared") == 3);
    CHECK(Count(kept, "/fullName", "added") == 3);
    std::string out;
    REQUIRE_MESSAGE(Command(config, {"shadow", "reset"}, &out) == 0, out);
    CHECK(out.find("0 compared") != std::string::npos);
    Object::Ptr clean = Parse(again.Admin("GET", "/api/v1/shadow").body);
    CHECK(clean->getObject("jobs")->getValue<int>("compared") == 0);
    CHECK(clean->getArray("differences")->size() == 0);
  }

  TEST_CASE("with crm.shadow.url the sandbox receives the shadow's requests") {
    t::ReferenceCrmProcess live({"--api-key", kLiveKey, "--api-secret", kLiveSecret});
    t::ReferenceCrmProcess sandbox({"--api-key", kSandboxKey, "--api-secret", kSandboxSecret});
    Config config(live.Url(), {"crm.shadow.url=" + sandbox.Url(),
                               "crm.shadow.generic-rest-crm.api_key=" + kSandboxKey,
                               "crm.shadow.generic-rest-crm.api_secret=" + kSandboxSecret});
    // A record the sandbox already holds: its ids run ahead of the live CRM's,
    // so a request naming a live id there would reach the wrong record.
    t::HttpResult earlier = t::HttpCall(
        sandbox.port, "POST", "/api/v1/leads", R"({"name":"earlier","externalReference":"x:0"})",
        {{"X-API-Key", kSandboxKey}, {"X-API-Secret", kSandboxSecret},
         {"Content-Type", "application/json"}});
    REQUIRE_MESSAGE(earlier.status == 201, earlier.body);
    Engine engine(config);
    for (int n = 1; n <= 2; ++n) engine.Post(LeadCreated(n));
    engine.WaitCompared(2);
    // A later job of lead 1: an update, named at the sandbox by its sandbox id.
    std::string contacted = LeadCreated(1);
    contacted.replace(contacted.find("shadow-1"), 8, "shadow-1b");
    contacted.replace(contacted.find("lead.created"), 12, "lead.status_changed");
    contacted.replace(contacted.find("\"NEW\""), 5, "\"CONTACTED\"");
    engine.Post(contacted);
    Object::Ptr report = engine.WaitCompared(3);
    CHECK(report->getObject("sandbox")->getValue<int>("sent") == 3);
    Object::Ptr statuses = report->getObject("sandbox")->getObject("statuses");
    CHECK(statuses->getValue<int>("201") == 2);
    CHECK(statuses->getValue<int>("200") == 1);
    CHECK_FALSE(statuses->has("404"));
    CHECK(Count(report, "/fullName", "added") == 2);
    // The sandbox holds the shadow's version of each lead, the live CRM the live one.
    Array::Ptr at_sandbox = sandbox.State()->getArray("leads");
    REQUIRE(at_sandbox->size() == 3);
    CHECK(at_sandbox->getObject(0)->getValue<std::string>("name") == "earlier");
    CHECK_FALSE(at_sandbox->getObject(0)->has("status"));
    for (unsigned i = 1; i < at_sandbox->size(); ++i) {
      Object::Ptr lead = at_sandbox->getObject(i);
      CHECK(lead->has("fullName"));
      CHECK_FALSE(lead->has("name"));
      const bool first = lead->getValue<std::string>("externalReference") == "lead:s-1";
      CHECK(lead->getValue<std::string>("status") == (first ? "contacted" : "new"));
    }
    Array::Ptr at_live = live.State()->getArray("leads");
    REQUIRE(at_live->size() == 2);
    CHECK(at_live->getObject(0)->has("name"));
    CHECK(Requests(live, "POST /api/v1/leads") == 2);
    CHECK(engine.Metric("crmsync_shadow_sandbox_requests_total{status=\"201\"}") == 2);
  }

  TEST_CASE("bad shadow settings are errors naming the setting, at start and in check-config") {
    t::ReferenceCrmProcess live;
    struct Bad {
      std::vector<std::string> lines;
      std::string setting;
      std::string reason;
    };
    const std::vector<Bad> cases = {
        {{"crm.shadow.plugin=no-such-plugin"}, "crm.shadow.plugin:", "no-such-plugin"},
        {{"crm.shadow.mapping=broken.json"}, "crm.shadow.mapping:", "broken.json"},
        {{"crm.shadow.plugin=", "crm.shadow.mapping=renamed.json"}, "crm.shadow.mapping",
         "crm.shadow.plugin is not"},
        {{"crm.shadow.url=ftp://sandbox"}, "crm.shadow.url:", "ftp://sandbox"},
    };
    for (const Bad& bad : cases) {
      CAPTURE(bad.setting);
      Config config(live.Url(), bad.lines);
      t::WriteFile(config.dir.File("broken.json"), R"({"name": "broken", "entities": 7})");
      std::string out;
      CHECK(Command(config, {"check-config"}, &out) == 1);
      std::vector<std::string> errors = t::LinesStartingWith(out, "error: ");
      REQUIRE_MESSAGE(!errors.empty(), out);
      bool named = false;
      for (const std::string& line : errors) {
        named = named || (line.find(bad.setting) != std::string::npos &&
                          line.find(bad.reason) != std::string::npos);
      }
      CHECK_MESSAGE(named, out);

      t::ChildProcess serve(CRMSYNC_BINARY, {"serve", "--config", config.File()});
      REQUIRE(serve.WaitExit(std::chrono::seconds(20)));
      CHECK(serve.exit_code() != 0);
      CHECK_MESSAGE(serve.Stderr().find(bad.setting) != std::string::npos, serve.Stderr());
      CHECK(serve.Stderr().find(bad.reason) != std::string::npos);
    }
  }
}
