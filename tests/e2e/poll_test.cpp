// poll_test.cpp: change polling end to end (docs/design.md §5, "Change
// polling"): the real crmsync binary with polling_plugin
// (tests/plugins/broken), whose pages the test writes to a file. A CRM-side
// status change read by polling reaches the mirror and the change feed; the
// engine is killed (SIGKILL) between two polls and the restarted one resumes
// from the saved cursor: no change lost, none applied twice. Every wait is a
// WaitUntil() with a deadline; nothing sleeps.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace {

Object::Ptr ParseObject(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
}

// The lines of a file ("" lines left out).
std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(t::ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// One engine polling polling_plugin every second; its store and the plugin's
// pages in folders that outlive a restart.
struct PollingEngine {
  t::TempDir dir;
  t::TempDir pages;
  int port = t::FreePort();
  std::string token = "poll-" + std::to_string(getpid()) + "-" + std::to_string(port);
  std::unique_ptr<t::ChildProcess> process;

  PollingEngine() { WritePages(""); }

  // Replaces pages.tsv whole (written aside, then renamed: the plugin never
  // reads half a file).
  void WritePages(const std::string& tsv) {
    t::WriteFile(pages.File("pages.tsv.new"), tsv);
    REQUIRE(std::rename(pages.File("pages.tsv.new").c_str(), pages.File("pages.tsv").c_str()) == 0);
  }
  std::vector<std::string> Requests() { return Lines(pages.File("requests.log")); }

  void Start() {
    process = std::make_unique<t::ChildProcess>(
        CRMSYNC_BINARY,
        std::vector<std::string>{
            "serve", "--set", "server.port=" + std::to_string(port), "--set",
            "store.path=" + dir.File("crmsync.db"), "--set", "plugins.dir=" CRMSYNC_TEST_PLUGIN_DIR,
            "--set", "crm.plugin=polling_plugin", "--set", "crm.polling_plugin.pages=" + pages.path(),
            "--set", "intake.token=intake-" + token, "--set", "admin.token=admin-" + token, "--set",
            "inbound.poll_interval_ms=1000", "--set", "inbound.crm_owns_status_from=always", "--set",
            "log.level=warning"});
    REQUIRE_MESSAGE(t::WaitUntil([&] { return Get("/api/v1/admin/status", "admin").status == 200; }),
                    process->Stderr());
  }

  t::HttpResult Get(const std::string& path, const std::string& who) {
    return t::HttpCall(port, "GET", path, "", {{"Authorization", "Bearer " + who + "-" + token}});
  }
  Object::Ptr Status() { return ParseObject(Get("/api/v1/admin/status", "admin").body); }
  Array::Ptr Changes() {
    t::HttpResult r = Get("/api/v1/changes?after=0", "intake");
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return ParseObject(r.body)->getArray("changes");
  }
  std::string Status(const Array::Ptr& changes, size_t i) {
    return changes->getObject(static_cast<unsigned>(i))->getObject("fields")->getValue<std::string>(
        "status");
  }
};

TEST_SUITE("e2e.poll") {
  TEST_CASE("polled CRM changes reach the change feed once across a kill -9 between two polls") {
    PollingEngine engine;
    engine.Start();
    // The plugin can poll and takes no webhooks: inbound.poll=auto polls.
    Object::Ptr poll = engine.Status()->getObject("runtime")->getObject("poll");
    CHECK(poll->getValue<bool>("enabled"));
    // The first poll asks from the empty cursor and keeps the "0" it got.
    REQUIRE(t::WaitUntil([&] { return engine.Requests().size() >= 2; }));
    CHECK(engine.Requests()[0] == "-");
    CHECK(engine.Requests()[1] == "0");

    // The platform creates a lead; the plugin links it as ext-L1.
    t::HttpResult posted = t::HttpCall(
        engine.port, "POST", "/api/v1/events",
        R"({"eventId":"e-L1","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z",)"
        R"("data":{"id":"L1","name":"Asha Rao","email":"asha@example.com",)"
        R"("phone":"+919800000000","source":"website","status":"NEW"}})",
        {{"Authorization", "Bearer intake-" + engine.token}});
    REQUIRE_MESSAGE(posted.status == 202, posted.body);
    REQUIRE(t::WaitUntil([&] {
      return engine.Status()->getObject("queue")->getValue<int64_t>("done") == 1;
    }));

    // An agent changes the lead in the CRM: the next poll reads it.
    engine.WritePages("0\tc1\t0\text-L1\tCONTACTED\t2026-11-23T11:00:00Z\n");
    REQUIRE(t::WaitUntil([&] { return engine.Changes()->size() == 1; }));
    CHECK(engine.Status(engine.Changes(), 0) == "CONTACTED");
    REQUIRE(t::WaitUntil([&] {
      std::vector<std::string> asked = engine.Requests();
      return asked.back() == "c1";  // the cursor moved past the page
    }));

    // Killed between two polls; meanwhile the agent changes the lead again.
    engine.process->Signal(SIGKILL);
    REQUIRE(engine.process->WaitExit(std::chrono::seconds(20)));
    const size_t asked_before = engine.Requests().size();
    engine.WritePages(
        "0\tc1\t0\text-L1\tCONTACTED\t2026-11-23T11:00:00Z\n"
        "c1\tc2\t0\text-L1\tQUALIFIED\t2026-11-23T11:05:00Z\n");
    engine.Start();

    // The restarted engine resumes from the saved cursor: nothing skipped,
    // nothing read or applied twice.
    REQUIRE(t::WaitUntil([&] { return engine.Changes()->size() == 2; }));
    std::vector<std::string> asked = engine.Requests();
    REQUIRE(asked.size() > asked_before);
    CHECK(asked[asked_before] == "c1");
    REQUIRE(t::WaitUntil([&] { return engine.Requests().back() == "c2"; }));
    REQUIRE(t::WaitUntil([&] { return engine.Requests().size() >= asked_before + 3; }));
    Array::Ptr changes = engine.Changes();
    REQUIRE(changes->size() == 2);
    CHECK(engine.Status(changes, 0) == "CONTACTED");
    CHECK(engine.Status(changes, 1) == "QUALIFIED");
    CHECK(changes->getObject(1)->getValue<std::string>("entity") == "lead:L1");
    CHECK(changes->getObject(1)->getValue<std::string>("source") == "crm");
    poll = engine.Status()->getObject("runtime")->getObject("poll");
    Object::Ptr lead = poll->getArray("entities")->getObject(0);
    CHECK(lead->getValue<std::string>("entity") == "lead");
    CHECK(lead->getValue<std::string>("cursor") == "set");
    CHECK(lead->getValue<int64_t>("changes") == 1);  // this run: the one page after the restart
    Object::Ptr property = poll->getArray("entities")->getObject(1);
    CHECK_FALSE(property->getValue<bool>("polling"));  // leads only
    const std::string metrics = t::HttpCall(engine.port, "GET", "/metrics").body;
    CHECK(metrics.find("crmsync_poll_requests_total{entity=\"lead\",result=\"ok\"}") !=
          std::string::npos);
    CHECK(metrics.find("crmsync_poll_changes_total{entity=\"lead\"} 1\n") != std::string::npos);
    CHECK(metrics.find("crmsync_poll_requests_total{entity=\"property\",result=\"not_found\"} 1\n") !=
          std::string::npos);
    CHECK(metrics.find("crmsync_poll_last_success_seconds{entity=\"lead\"} 1") != std::string::npos);

    engine.process->Signal(SIGTERM);
    CHECK(engine.process->WaitExit(std::chrono::seconds(20)));
    CHECK(engine.process->exit_code() == 0);
  }
}

}  // namespace
