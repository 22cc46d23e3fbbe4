// The /ui dashboard against the real `crmsync` binary: its files are served
// with their types and nothing outside the folder is; a copy of the binary alone
// in a folder serves them from inside itself; with ui.dir the files on disk win;
// and in headless Chromium
// (Debian's chromium, driven by playwright-core from npm through
// tests/e2e/ui/ui_test.js) an operator signs in, sees the queue figures and a
// dead letter, and replays it, which the CRM then receives.
//
// Chromium and node are required: when either is missing the test fails saying
// so (scripts/test.sh installs them). playwright-core is installed with npm into
// <build>/ui-test when its node_modules is missing. Screenshots are kept in
// <build>/ui-test/ (dashboard.png, dashboard-replayed.png).
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;
namespace fs = std::filesystem;

namespace {

const std::string kBinary = CRMSYNC_BINARY;
const std::string kChromium = "/usr/bin/chromium";
const std::string kPlaywrightVersion = "1.65.1";
const std::string kUiTestDir = CRMSYNC_BINARY_DIR "/ui-test";
const std::string kAdminToken = "admin-secret-ui";
const std::string kIntakeToken = "intake-secret-ui";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// 20 for "v20.20.2\n"; 0 when unreadable.
int NodeMajor(const std::string& version) {
  if (version.size() < 2 || version[0] != 'v') return 0;
  return std::atoi(version.c_str() + 1);
}

Poco::JSON::Object::Ptr ParseObject(const std::string& text) {
  return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::map<std::string, std::string> Admin() { return {{"Authorization", "Bearer " + kAdminToken}}; }

// `crmsync serve` (`binary`) on a free port, its store in a temp folder, with
// `extra` settings after the common ones.
struct RunningService {
  explicit RunningService(const std::vector<std::string>& extra,
                          const std::string& binary = kBinary) {
    port = t::FreePort();
    std::string config = dir.File("crmsync.properties");
    t::WriteFile(config, "admin.token = " + kAdminToken + "\nintake.token = " + kIntakeToken +
                             "\nlog.level = information\n");
    std::vector<std::string> args = {"serve",
                                     "--config",
                                     config,
                                     "--set",
                                     "server.port=" + std::to_string(port),
                                     "--set",
                                     "store.path=" + dir.File("var/crmsync.db"),
                                     "--set",
                                     "plugins.dir=" CRMSYNC_PLUGIN_DIR};
    args.insert(args.end(), extra.begin(), extra.end());
    process = std::make_unique<t::ChildProcess>(binary, args);
  }
  bool WaitReady() {
    return t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; });
  }
  t::TempDir dir;
  int port = 0;
  std::unique_ptr<t::ChildProcess> process;
};

// playwright-core's folder, installed with npm when missing; "" with `*why`.
std::string EnsurePlaywright(const std::string& npm, std::string* why) {
  const std::string module = kUiTestDir + "/node_modules/playwright-core";
  if (fs::exists(module + "/package.json")) return module;
  fs::create_directories(kUiTestDir);
  std::string output;
  int rc =
      t::RunCommand(npm,
                    {"install", "--prefix", kUiTestDir, "playwright-core@" + kPlaywrightVersion,
                     "--no-audit", "--no-fund", "--loglevel=error"},
                    &output, {{"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"}});
  if (rc != 0 || !fs::exists(module + "/package.json")) {
    *why = "npm install playwright-core@" + kPlaywrightVersion + " into " + kUiTestDir +
           " failed (exit " + std::to_string(rc) + "):\n" + output;
    return "";
  }
  return module;
}

}  // namespace

TEST_SUITE("e2e.ui") {
  TEST_CASE("the dashboard's files are served with their types and nothing outside the folder") {
    // Without ui.dir: the files built into the binary.
    RunningService service({});
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());

    for (const char* path : {"/ui", "/ui/", "/ui/index.html"}) {
      CAPTURE(path);
      t::HttpResult page = t::HttpCall(service.port, "GET", path);
      CHECK(page.status == 200);
      CHECK(page.headers["Content-Type"] == "text/html; charset=utf-8");
      CHECK(Contains(page.body, "<script src=\"/ui/app.js\""));
      CHECK(Contains(page.headers["Content-Security-Policy"], "script-src 'self'"));
      CHECK(page.headers["X-Content-Type-Options"] == "nosniff");
    }
    t::HttpResult js = t::HttpCall(service.port, "GET", "/ui/app.js");
    CHECK(js.status == 200);
    CHECK(js.headers["Content-Type"] == "text/javascript; charset=utf-8");
    CHECK(js.body == t::ReadFile(CRMSYNC_SOURCE_DIR "/ui/app.js"));
    t::HttpResult css = t::HttpCall(service.port, "GET", "/ui/style.css");
    CHECK(css.status == 200);
    CHECK(css.headers["Content-Type"] == "text/css; charset=utf-8");

    // No page pulls anything from elsewhere (no CDN, no web fonts).
    for (const char* file : {"index.html", "app.js", "style.css"}) {
      std::string text = t::ReadFile(std::string(CRMSYNC_SOURCE_DIR "/ui/") + file);
      CAPTURE(file);
      CHECK_FALSE(Contains(text, "http://"));
      CHECK_FALSE(Contains(text, "https://"));
      CHECK_FALSE(Contains(text, "//cdn"));
      CHECK_FALSE(Contains(text, "@import"));
    }

    for (const char* path :
         {"/ui/nope.js", "/ui/../CMakeLists.txt", "/ui/..%2fCMakeLists.txt", "/ui/%2e%2e/README.md",
          "/ui//etc/passwd", "/ui/./index.html", "/ui/.hidden.js", "/ui/sub/../app.js",
          "/ui/index.html/", "/ui/app.js.map", "/ui/README"}) {
      CAPTURE(path);
      t::HttpResult refused = t::HttpCall(service.port, "GET", path);
      CHECK(refused.status == 404);
      CHECK_FALSE(Contains(refused.body, "cmake_minimum_required"));
    }
    CHECK(t::HttpCall(service.port, "POST", "/ui").status == 405);
    // The page is public; its data is not.
    CHECK(t::HttpCall(service.port, "GET", "/api/v1/admin/status").status == 401);
  }

  TEST_CASE("a copy of the binary alone in a folder serves the dashboard from itself") {
    // No source tree and no share/crmsync/ui beside it: nothing on disk to find.
    t::TempDir alone;
    const std::string binary = alone.File("bin/crmsync");
    fs::create_directories(alone.File("bin"));
    fs::copy_file(kBinary, binary);
    fs::permissions(binary, fs::perms::owner_all);
    RunningService service({}, binary);
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    for (const char* file : {"index.html", "app.js", "style.css"}) {
      CAPTURE(file);
      t::HttpResult r = t::HttpCall(service.port, "GET", std::string("/ui/") + file);
      CHECK(r.status == 200);
      CHECK(r.body == t::ReadFile(std::string(CRMSYNC_SOURCE_DIR "/ui/") + file));
    }
    t::HttpResult page = t::HttpCall(service.port, "GET", "/ui/");
    CHECK(page.status == 200);
    CHECK(page.headers["Content-Type"] == "text/html; charset=utf-8");
    CHECK(page.body == t::ReadFile(CRMSYNC_SOURCE_DIR "/ui/index.html"));
    CHECK(t::HttpCall(service.port, "GET", "/ui/app.js").headers["Content-Type"] ==
          "text/javascript; charset=utf-8");
    CHECK(t::HttpCall(service.port, "GET", "/ui/nope.js").status == 404);
    CHECK(Contains(service.process->Stdout() + service.process->Stderr(),
                   "dashboard at /ui served from the binary"));
  }

  TEST_CASE("with ui.dir the files on disk win over the built-in ones, read on each request") {
    t::TempDir dev;
    t::WriteFile(dev.File("index.html"), "<!doctype html><p>work in progress</p>");
    RunningService service({"--set", "ui.dir=" + dev.path()});
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    CHECK(t::HttpCall(service.port, "GET", "/ui/").body == "<!doctype html><p>work in progress</p>");
    // Only the folder: a built-in file it lacks is not served.
    CHECK(t::HttpCall(service.port, "GET", "/ui/app.js").status == 404);
    t::WriteFile(dev.File("index.html"), "<!doctype html><p>edited</p>");
    CHECK(t::HttpCall(service.port, "GET", "/ui").body == "<!doctype html><p>edited</p>");
  }

  TEST_CASE("a ui.dir without the files makes /ui a 404 and a warning, not a start-up error") {
    t::TempDir empty;
    RunningService service({"--set", "ui.dir=" + empty.path()});
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());
    CHECK(t::HttpCall(service.port, "GET", "/ui").status == 404);
    CHECK(t::HttpCall(service.port, "GET", "/ui/app.js").status == 404);
    CHECK(Contains(service.process->Stdout() + service.process->Stderr(),
                   "dashboard files not found"));
  }

  TEST_CASE("in headless Chromium the dashboard shows the queue and replays a dead letter") {
    const std::string node = t::FindOnPath("node");
    const std::string npm = t::FindOnPath("npm");
    REQUIRE_MESSAGE(access(kChromium.c_str(), X_OK) == 0,
                    (kChromium + " is missing: install Debian's chromium package "
                                 "(INSTALL_BROWSER=1 scripts/install-deps.sh, as scripts/test.sh "
                                 "does)"));
    REQUIRE_MESSAGE(!node.empty(), "node is not on PATH: install Node.js 20 or later");
    REQUIRE_MESSAGE(!npm.empty(), "npm is not on PATH: install npm (it installs playwright-core)");
    std::string node_version;
    t::RunCommand(node, {"--version"}, &node_version);
    REQUIRE_MESSAGE(NodeMajor(node_version) >= 20,
                    ("playwright-core " + kPlaywrightVersion + " needs node 20 or later; " + node +
                     " is " + node_version));
    std::string why;
    const std::string playwright = EnsurePlaywright(npm, &why);
    REQUIRE_MESSAGE(!playwright.empty(), why);

    // The first create of a lead is refused for good (422): one dead letter.
    RunningService service({"--set", "crm.mock-crm.faults.lead.create=422", "--set",
                            "crm.retry.attempts=0", "--set", "ui.dir=" CRMSYNC_SOURCE_DIR "/ui"});
    REQUIRE_MESSAGE(service.WaitReady(), service.process->Stderr());

    const std::string lead = "lead-ui-1";
    const std::string event =
        "{\"eventId\":\"evt-ui-1\",\"type\":\"lead.created\",\"occurredAt\":"
        "\"2026-11-23T10:15:00Z\",\"data\":{\"id\":\"" +
        lead +
        "\",\"name\":\"Asha Rao\","
        "\"email\":\"asha.rao@example.com\",\"source\":\"website\",\"status\":\"NEW\"}}";
    t::HttpResult accepted = t::HttpCall(service.port, "POST", "/api/v1/events", event,
                                         {{"Authorization", "Bearer " + kIntakeToken}});
    REQUIRE_MESSAGE(accepted.status == 202, accepted.body);

    int64_t dead_letter = 0;
    REQUIRE_MESSAGE(
        t::WaitUntil([&] {
          t::HttpResult list = t::HttpCall(service.port, "GET", "/api/v1/admin/dlq", "", Admin());
          if (list.status != 200) return false;
          Poco::JSON::Array::Ptr items = ParseObject(list.body)->getArray("deadLetters");
          if (!items || items->size() != 1) return false;
          dead_letter = items->getObject(0)->getValue<int64_t>("id");
          return true;
        }),
        ("no dead letter appeared; stderr:\n" + service.process->Stderr()));

    // A backfill run half imported, its two lines bad (no CRM call): the
    // dashboard's backfill card shows it.
    t::HttpResult backfill = t::HttpCall(
        service.port, "POST", "/api/v1/backfill?run=ui-run&offset=0&total=4",
        "{\"lead\":{\"id\":\"bf-1\",\"email\":\"nope\"}}\n{\"contact\":{}}\n", Admin());
    REQUIRE_MESSAGE(backfill.status == 200, backfill.body);

    // A reconcile run: the dead-lettered lead never reached the CRM, so the
    // dashboard's last reconcile shows one missing.
    t::HttpResult started =
        t::HttpCall(service.port, "POST", "/api/v1/reconcile", "{}", Admin());
    REQUIRE_MESSAGE(started.status == 201, started.body);
    const std::string run = ParseObject(started.body)->getValue<std::string>("run");
    REQUIRE(t::WaitUntil([&] {
      t::HttpResult r = t::HttpCall(service.port, "GET", "/api/v1/reconcile/" + run, "", Admin());
      return r.status == 200 && ParseObject(r.body)->getValue<std::string>("state") == "done";
    }));

    for (const char* stale : {"dashboard.png", "dashboard-replayed.png", "dashboard-failure.png"}) {
      fs::remove(kUiTestDir + "/" + stale);
    }
    t::TempDir profile;
    std::string output;
    int rc = t::RunCommand(
        node,
        {CRMSYNC_SOURCE_DIR "/tests/e2e/ui/ui_test.js", "--playwright", playwright, "--chromium",
         kChromium, "--url", "http://127.0.0.1:" + std::to_string(service.port) + "/ui", "--token",
         kAdminToken, "--dead-letter", std::to_string(dead_letter), "--lead", lead,
         "--user-data-dir", profile.path(), "--out", kUiTestDir},
        &output);
    MESSAGE("ui_test.js: " << output);
    REQUIRE_MESSAGE(rc == 0, output);
    CHECK(Contains(output, "ui_test: ok"));
    CHECK(fs::file_size(kUiTestDir + "/dashboard.png") > 0);

    // The server agrees: replayed as a new job, and the lead reached the CRM
    // (the fault script is used up, so the second create passes).
    t::HttpResult shown = t::HttpCall(service.port, "GET",
                                      "/api/v1/admin/dlq/" + std::to_string(dead_letter), "", Admin());
    REQUIRE(shown.status == 200);
    Poco::JSON::Object::Ptr replayed = ParseObject(shown.body);
    CHECK_FALSE(replayed->isNull("replayedAt"));
    CHECK_FALSE(replayed->isNull("replayJobId"));
    CHECK(replayed->getValue<std::string>("entity") == "lead:" + lead);

    std::string dump;
    CHECK_MESSAGE(t::WaitUntil([&] {
                    dump =
                        t::HttpCall(service.port, "GET", "/api/v1/admin/crm/dump", "", Admin()).body;
                    Poco::JSON::Array::Ptr leads = ParseObject(dump)->getArray("leads");
                    return leads && leads->size() == 1 && Contains(dump, "Asha Rao");
                  }),
                  dump);
    t::HttpResult again =
        t::HttpCall(service.port, "POST",
                    "/api/v1/admin/dlq/" + std::to_string(dead_letter) + "/replay", "", Admin());
    CHECK(again.status == 409);

    service.process->Signal(SIGTERM);
    REQUIRE(service.process->WaitExit(std::chrono::seconds(20)));
    CHECK(service.process->exit_code() == 0);
  }
}
