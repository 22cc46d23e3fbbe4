// The real `crmsync` binary: serve with health endpoints, the subcommands, and
// the start-up errors ops will meet (bad config, missing or broken plugin).
#include <doctest/doctest.h>

#include <signal.h>
#include <time.h>

#include <map>
#include <sstream>
#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const std::string kBinary = CRMSYNC_BINARY;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A started `crmsync serve` on a free port with its store in a temp folder.
struct RunningService {
  explicit RunningService(std::vector<std::string> extra = {}) {
    port = t::FreePort();
    std::vector<std::string> args = {"serve",
                                     "--config", config_file(),
                                     "--set", "server.port=" + std::to_string(port),
                                     "--set", "store.path=" + dir.File("var/crmsync.db"),
                                     "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<t::ChildProcess>(kBinary, args);
  }
  std::string config_file() {
    std::string path = dir.File("crmsync.properties");
    t::WriteFile(path, "admin.token = admin-secret-1\nintake.token = intake-secret-1\n"
                       "log.level = information\n");
    return path;
  }
  bool WaitReady() {
    return t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; });
  }
  t::TempDir dir;
  int port = 0;
  std::unique_ptr<t::ChildProcess> process;
};

}  // namespace

TEST_SUITE("e2e.binary") {
  TEST_CASE("serve answers /healthz and /readyz and stops with exit 0 on SIGTERM") {
    RunningService service;
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    t::HttpResult health = t::HttpCall(service.port, "GET", "/healthz");
    CHECK(health.body == "{\"status\":\"ok\"}");

    t::HttpResult ready = t::HttpCall(service.port, "GET", "/readyz");
    CHECK(ready.status == 200);
    auto json = Poco::JSON::Parser().parse(ready.body).extract<Poco::JSON::Object::Ptr>();
    CHECK(json->getValue<bool>("ready"));
    auto checks = json->getArray("checks");
    REQUIRE(checks->size() == 3);
    CHECK(checks->getObject(0)->getValue<std::string>("name") == "store");
    // Without the admin token no path is shown (safe_defaults_test.cpp has the rest).
    CHECK(checks->getObject(0)->getValue<std::string>("detail") == "reads and writes");
    CHECK(checks->getObject(1)->getValue<std::string>("detail") == "mock-crm 1.0.0");

    CHECK(t::HttpCall(service.port, "GET", "/nope").status == 404);
    CHECK(t::HttpCall(service.port, "POST", "/healthz").status == 405);
    CHECK(Contains(service.process->Stdout(), "listening on http://127.0.0.1:" +
                                                  std::to_string(service.port)));
    CHECK(t::ReadFile(service.dir.File("var/crmsync.db")).size() > 0);

    service.process->Signal(SIGTERM);
    REQUIRE(service.process->WaitExit(std::chrono::seconds(20)));
    CHECK(service.process->exit_code() == 0);
  }

  TEST_CASE("/readyz is 503 naming the reason when sync is disabled by config") {
    RunningService service({"--set", "crm.enabled=false"});
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    t::HttpResult ready = t::HttpCall(service.port, "GET", "/readyz");
    CHECK(ready.status == 503);
    CHECK(Contains(ready.body, "crm.enabled=false"));
  }

  TEST_CASE("/metrics exports process_* and crmsync_build_info, readable by the Prometheus client's parser") {
    RunningService service;
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    t::HttpResult metrics = t::HttpCall(service.port, "GET", "/metrics");
    REQUIRE(metrics.status == 200);
    std::string file = service.dir.File("metrics.txt");
    t::WriteFile(file, metrics.body);
    // prometheus_client (Debian's python3-prometheus-client) reads the whole
    // exposition and prints "name value" for the samples asked about.
    const char* kScript =
        "import sys\n"
        "from prometheus_client.parser import text_string_to_metric_families\n"
        "want = {'process_cpu_seconds_total', 'process_resident_memory_bytes',\n"
        "        'process_virtual_memory_bytes', 'process_open_fds', 'process_max_fds',\n"
        "        'process_start_time_seconds', 'crmsync_build_info'}\n"
        "for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
        "    for s in family.samples:\n"
        "        if s.name in want:\n"
        "            labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))\n"
        "            print(s.name, s.value, labels)\n";
    std::string output;
    REQUIRE_MESSAGE(t::RunCommand("/usr/bin/python3", {"-c", kScript, file}, &output) == 0, output);
    std::map<std::string, std::pair<double, std::string>> seen;
    std::istringstream lines(output);
    std::string name, labels;
    double value = 0;
    while (lines >> name >> value) {
      std::getline(lines, labels);
      seen[name] = {value, labels};
    }
    REQUIRE_MESSAGE(seen.size() == 7u, output);
    CHECK(seen["process_cpu_seconds_total"].first > 0);
    CHECK(seen["process_resident_memory_bytes"].first > 1e6);
    CHECK(seen["process_virtual_memory_bytes"].first >= seen["process_resident_memory_bytes"].first);
    // The store, the listening socket and the epoll instance at least.
    CHECK(seen["process_open_fds"].first >= 3);
    CHECK(seen["process_max_fds"].first >= seen["process_open_fds"].first);
    // Started after this test began, and not in the future.
    const double now = static_cast<double>(time(nullptr));
    CHECK(seen["process_start_time_seconds"].first <= now + 1);
    CHECK(seen["process_start_time_seconds"].first >= now - 600);
    CHECK(seen["crmsync_build_info"].first == 1);
    std::string version;
    REQUIRE(t::RunCommand(kBinary, {"--version"}, &version) == 0);
    std::istringstream words(version);
    std::string program, number;
    words >> program >> number;  // "crmsync 0.x.y (SDK ABI ...)"
    CHECK(Contains(seen["crmsync_build_info"].second, "version=" + number));
    CHECK(Contains(seen["crmsync_build_info"].second, "poco=1."));
    CHECK(Contains(seen["crmsync_build_info"].second, "sqlite=3."));
  }

  TEST_CASE("the CRM dump needs the admin token and shows mock-crm's state") {
    RunningService service;
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    CHECK(t::HttpCall(service.port, "GET", "/api/v1/admin/crm/dump").status == 401);
    CHECK(t::HttpCall(service.port, "GET", "/api/v1/admin/crm/dump", "",
                      {{"Authorization", "Bearer wrong"}})
              .status == 401);
    t::HttpResult dump = t::HttpCall(service.port, "GET", "/api/v1/admin/crm/dump", "",
                                     {{"Authorization", "Bearer admin-secret-1"}});
    CHECK(dump.status == 200);
    CHECK(Contains(dump.body, "\"leads\""));

    std::string output;
    int rc = t::RunCommand(kBinary, {"crm-dump", "--config", service.config_file(), "--set",
                                     "server.port=" + std::to_string(service.port)},
                           &output);
    CHECK(rc == 0);
    CHECK(Contains(output, "\"leads\""));
  }

  TEST_CASE("`crmsync plugins` lists good plugins and says why broken ones fail") {
    std::string output;
    int rc = t::RunCommand(kBinary, {"plugins", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR}, &output);
    CHECK(rc == 0);
    CHECK(Contains(output, "mock-crm 1.0.0  ABI 4.1"));
    CHECK(Contains(output, "lookup"));

    rc = t::RunCommand(kBinary, {"plugins", "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR}, &output);
    CHECK(rc == 1);  // some files cannot be used
    CHECK(Contains(output, "good_plugin 0.0.1"));
    CHECK(Contains(output, "BROKEN " CRMSYNC_TEST_PLUGIN_DIR "/wrong_abi: "));
    CHECK(Contains(output, "SDK ABI mismatch"));
    CHECK(Contains(output, "BROKEN " CRMSYNC_TEST_PLUGIN_DIR "/not_a_plugin"));

    rc = t::RunCommand(kBinary, {"plugins", "--set", "plugins.dir=/nonexistent/dir"}, &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "/nonexistent/dir is not a folder"));
  }

  TEST_CASE("serve refuses to start on a missing or broken plugin and names the cause") {
    t::TempDir dir;
    std::string output;
    int rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR,
                                     "--set", "crm.plugin=no-such-crm", "--set",
                                     "store.path=" + dir.File("db"), "--set", "server.port=" + std::to_string(t::FreePort())},
                           &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "plugin 'no-such-crm' not found"));

    rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set",
                                 "crm.plugin=wrong_abi", "--set", "store.path=" + dir.File("db"),
                                 "--set", "server.port=" + std::to_string(t::FreePort())},
                       &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "SDK ABI mismatch"));

    rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set",
                                 "crm.plugin=configure_rejects", "--set",
                                 "store.path=" + dir.File("db"), "--set", "server.port=" + std::to_string(t::FreePort())},
                       &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "refused its configuration: api_url: required"));

    rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set",
                                 "crm.plugin=bad_budget_headers", "--set",
                                 "store.path=" + dir.File("db"), "--set", "server.port=" + std::to_string(t::FreePort())},
                       &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "plugin 'bad_budget_headers' names its CRM's budget headers in Dump() "
                           "wrongly: rateLimitHeaders/remainingHeader: must be a header name"));
    CHECK(Contains(output, "rateLimitHeaders/resetFormat: must be one of auto seconds"));
  }

  TEST_CASE("serve refuses a store written by a newer crmsync") {
    t::TempDir dir;
    std::string output;
    std::string db = dir.File("newer.db");
    REQUIRE(t::RunCommand("/usr/bin/sqlite3", {db, "PRAGMA user_version=999;"}, &output) == 0);
    int rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                                     "store.path=" + db, "--set", "server.port=" + std::to_string(t::FreePort())},
                           &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "written by a newer crmsync (schema version 999"));
  }

  TEST_CASE("a port already in use is a start-up error naming it") {
    RunningService first;
    REQUIRE_MESSAGE(first.WaitReady(), first.process->Stderr());
    t::TempDir dir;
    std::string output;
    int rc = t::RunCommand(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                                     "store.path=" + dir.File("db"), "--set",
                                     "server.port=" + std::to_string(first.port)},
                           &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "cannot listen on 127.0.0.1:" + std::to_string(first.port)));
  }

  TEST_CASE("check-config shows sources and redacts secrets and lists every problem") {
    t::TempDir dir;
    std::string config = dir.File("c.properties");
    t::WriteFile(config, "server.port = notaport\nadmin.token = super-secret-admin\nbogus.key = 1\n");
    std::string output;
    int rc = t::RunCommand(kBinary, {"check-config", "--config", config}, &output,
                           {{"CRM_API_KEY", "key-from-env-123"}});
    CHECK(rc == 1);
    CHECK(Contains(output, "server.port"));
    CHECK(Contains(output, "notaport"));
    CHECK(Contains(output, "unknown key 'bogus.key'"));
    CHECK_FALSE(Contains(output, "super-secret-admin"));
    CHECK_FALSE(Contains(output, "key-from-env-123"));
    CHECK(Contains(output, "crm.api.key = <redacted>"));

    t::WriteFile(config, "admin.token = super-secret-admin\n");
    rc = t::RunCommand(kBinary, {"check-config", "--config", config, "--set",
                                 "plugins.dir=" CRMSYNC_PLUGIN_DIR},
                       &output);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(Contains(output, "ok: plugin mock-crm"));
    CHECK(Contains(output, "0 error(s)"));

    rc = t::RunCommand(kBinary, {"check-config", "--config", config, "--set",
                                 "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set",
                                 "crm.plugin=configure_rejects"},
                       &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "error: crm.plugin: plugin 'configure_rejects'"));

    rc = t::RunCommand(kBinary, {"check-config", "--config", config, "--set",
                                 "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set",
                                 "crm.plugin=bad_budget_headers"},
                       &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "error: crm.plugin: plugin 'bad_budget_headers' names its CRM's budget "
                           "headers in Dump() wrongly: rateLimitHeaders/remainingHeader"));
  }

  TEST_CASE("check-config and serve refuse inbound.poll=on with a plugin that cannot poll") {
    t::TempDir dir;
    std::string output;
    const std::vector<std::string> settings = {
        "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR, "--set", "crm.plugin=good_plugin",
        "--set", "store.path=" + dir.File("db"), "--set", "inbound.poll=on"};
    std::vector<std::string> args = {"check-config"};
    args.insert(args.end(), settings.begin(), settings.end());
    int rc = t::RunCommand(kBinary, args, &output);
    CHECK(rc == 1);
    CHECK(Contains(output, "error: inbound.poll is \"on\" but plugin good_plugin cannot poll"));

    args = {"serve", "--set", "server.port=" + std::to_string(t::FreePort())};
    args.insert(args.end(), settings.begin(), settings.end());
    rc = t::RunCommand(kBinary, args, &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "inbound.poll is \"on\" but plugin good_plugin cannot poll"));

    // auto (the default) and off start the same plugin without polling.
    args = {"check-config"};
    args.insert(args.end(), settings.begin(), settings.end());
    args.back() = "inbound.poll=auto";
    rc = t::RunCommand(kBinary, args, &output);
    CHECK_MESSAGE(rc == 0, output);
  }

  TEST_CASE("check-config warns about a mapping lookup never checked against a real answer") {
    t::TempDir dir;
    std::string config = dir.File("c.properties");
    t::WriteFile(config, "admin.token = a\n");
    std::string output;
    const std::vector<std::string> base = {
        "check-config", "--config", config, "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
        "crm.plugin=generic-rest-crm", "--set", "crm.api.url=http://127.0.0.1:1", "--set",
        "crm.api.key=k", "--set", "crm.api.secret=s"};
    std::vector<std::string> args = base;
    args.insert(args.end(), {"--set", "crm.mapping=" CRMSYNC_SOURCE_DIR
                                      "/tests/plugins/generic_rest/fixtures/full.json"});
    int rc = t::RunCommand(kBinary, args, &output);
    CHECK_MESSAGE(rc == 0, output);  // a warning, not an error
    CHECK(Contains(output, "warning: generic-rest-crm: lead.lookup (/entities/lead/operations/"
                           "lookup) has never been checked against a real answer"));
    args = base;
    args.insert(args.end(), {"--set", "crm.mapping=" CRMSYNC_SOURCE_DIR
                                      "/config/crms/sunshine-reference.json"});
    rc = t::RunCommand(kBinary, args, &output);
    CHECK_MESSAGE(rc == 0, output);
    CHECK_FALSE(Contains(output, "never been checked"));
  }

  TEST_CASE("serve refuses bad configuration before doing anything") {
    t::TempDir dir;
    std::string output;
    int rc = t::RunCommand(kBinary, {"serve", "--set", "server.port=70000", "--set",
                                     "store.path=" + dir.File("db")},
                           &output);
    CHECK(rc == 78);
    CHECK(Contains(output, "server.port"));
    CHECK(Contains(output, "70000"));
    CHECK(t::ReadFile(dir.File("db")).empty());  // the store was never created
  }

  TEST_CASE("--help and --version and command-line mistakes") {
    std::string output;
    CHECK(t::RunCommand(kBinary, {"--help"}, &output) == 0);
    CHECK(Contains(output, "check-config"));
    CHECK(Contains(output, "--set"));
    CHECK(t::RunCommand(kBinary, {"--version"}, &output) == 0);
    CHECK(Contains(output, "crmsync 0.1.0 (SDK ABI 4.1"));
    CHECK(t::RunCommand(kBinary, {"--no-such-option"}, &output) == 64);
    CHECK(Contains(output, "no-such-option"));
    CHECK(t::RunCommand(kBinary, {"frobnicate"}, &output) == 64);
    CHECK(Contains(output, "unknown command 'frobnicate'"));
    CHECK(t::RunCommand(kBinary, {"check-config", "--set"}, &output) == 64);
    CHECK(t::RunCommand(kBinary, {"plugins", "--set", "nonsense"}, &output) == 78);
    CHECK(Contains(output, "nonsense"));
  }
  TEST_CASE("serve refuses bad inbound settings naming the key and never a secret") {
    struct Bad {
      std::vector<std::string> set;
      std::string expected;
    };
    const std::vector<Bad> cases = {
        {{"inbound.agent_map=agent_1=dealer_1,agent_2"}, "inbound.agent_map: 'agent_2' is not agent=dealer"},
        {{"inbound.agent_emails=dealer-7=asha@acme.example,dealer-8=ASHA@acme.example"},
         "inbound.agent_emails: dealers 'dealer-7' and 'dealer-8' have the same e-mail"},
        {{"inbound.callback_url=::nonsense::"}, "inbound.callback_url"},
        {{"inbound.callback_url=http://198.51.100.7/changes"}, "inbound.callback_url"},
        {{"webhook.secrets=whsec_%%%%"}, "webhook secret #2 starts with whsec_ but the rest is not valid base64"},
    };
    for (const Bad& bad : cases) {
      CAPTURE(bad.expected);
      t::TempDir dir;
      std::vector<std::string> args = {"serve", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                                       "--set", "store.path=" + dir.File("db"), "--set",
                                       "server.port=" + std::to_string(t::FreePort())};
      for (const std::string& s : bad.set) {
        args.push_back("--set");
        args.push_back(s);
      }
      std::string output;
      CHECK(t::RunCommand(kBinary, args, &output) == 78);
      CHECK(Contains(output, bad.expected));
      CHECK_FALSE(Contains(output, "whsec_%%%%"));
      CHECK_FALSE(Contains(output, "acme.example"));  // e-mails are personal data
    }
  }
}
