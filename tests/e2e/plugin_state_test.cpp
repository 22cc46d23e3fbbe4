// The real binary keeping a plugin's state (SDK ABI 3.0 PluginHost) in its
// store, with the test plugin stateful_plugin (tests/plugins/broken): each
// Configure() loads a counter, adds one and saves it; GET
// /api/v1/admin/crm/dump shows it. Started twice on one store, the count goes
// on; check-config and render read the store but write nothing (the refused
// save is a check-config warning); check-connection saves as serve does; a
// key the host refuses stops serve with the host's words.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const std::string kBinary = CRMSYNC_BINARY;
constexpr char kAdmin[] = "admin-secret-state-1";

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One store and config for every run of the binary in a case.
struct StateRig {
  t::TempDir dir;
  std::string store = dir.File("var/crmsync.db");
  int port = t::FreePort();

  StateRig() {
    t::WriteFile(dir.File("crmsync.properties"),
                 std::string("admin.token = ") + kAdmin +
                     "\nintake.token = intake-secret-state-1\nlog.level = warning\n");
  }

  // `command` with the rig's config, store, port and plugin, then `extra`.
  std::vector<std::string> Args(const std::string& command,
                                const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = {command};
    args.insert(args.end(), extra.begin(), extra.end());
    for (const std::string& a :
         {std::string("--config"), dir.File("crmsync.properties"), std::string("--set"),
          "store.path=" + store, std::string("--set"), "server.port=" + std::to_string(port),
          std::string("--set"), std::string("plugins.dir=") + CRMSYNC_TEST_PLUGIN_DIR,
          std::string("--set"), std::string("crm.plugin=stateful_plugin")}) {
      args.push_back(a);
    }
    return args;
  }

  // Starts serve, reads the plugin's counter from its dump, stops it (exit 0).
  int64_t ServeCounter() {
    t::ChildProcess serve(kBinary, Args("serve"));
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        serve.Stderr());
    t::HttpResult dump = t::HttpCall(port, "GET", "/api/v1/admin/crm/dump", "",
                                     {{"Authorization", std::string("Bearer ") + kAdmin}});
    REQUIRE(dump.status == 200);
    auto json = Poco::JSON::Parser().parse(dump.body).extract<Poco::JSON::Object::Ptr>();
    CHECK(json->getValue<int>("attaches") == 1);
    CHECK(json->getArray("warnings")->size() == 0u);  // serve's saves are not refused
    serve.Signal(SIGTERM);
    REQUIRE(serve.WaitExit(std::chrono::seconds(20)));
    CHECK(serve.exit_code() == 0);
    return json->getValue<int64_t>("counter");
  }
};

}  // namespace

TEST_SUITE("e2e.plugin_state") {
  TEST_CASE(
      "a plugin's saved state survives restarts, and check-config and render never write it") {
    StateRig rig;
    CHECK(rig.ServeCounter() == 1);
    CHECK(rig.ServeCounter() == 2);  // Loaded what the first run saved.

    const std::string before = t::ReadFile(rig.store);
    REQUIRE_FALSE(before.empty());
    std::string output;
    CHECK(t::RunCommand(kBinary, rig.Args("check-config"), &output) == 0);
    CHECK_MESSAGE(Contains(output,
                           "warning: stateful_plugin: counter 3 not saved: permanent: plugin "
                           "state key 'counter' of plugin 'stateful_plugin' was not saved: "
                           "crmsync check-config does not write the store (serve does)"),
                  output);
    CHECK(Contains(output, "0 error(s), 1 warning(s)"));

    const std::string event = rig.dir.File("event.json");
    t::WriteFile(event,
                 R"({"eventId":"evt-state-1","type":"lead.created",)"
                 R"("occurredAt":"2026-12-03T10:15:00Z","data":{"id":"42","name":"Asha Rao",)"
                 R"("email":"asha@example.com","phone":"+91 98765 43210","source":"website",)"
                 R"("status":"NEW"}})");
    CHECK(t::RunCommand(kBinary, rig.Args("render", {event}), &output) == 0);
    CHECK_MESSAGE(Contains(output, "POST"), output);
    CHECK(t::ReadFile(rig.store) == before);  // Byte for byte: read, never written.

    CHECK(rig.ServeCounter() == 3);  // Neither command's count was kept.
  }

  TEST_CASE("check-connection saves through the store as serve does") {
    StateRig rig;
    CHECK(rig.ServeCounter() == 1);
    std::string output;
    // good_plugin-style transport: the lookup's outcome does not matter here,
    // only that Configure()'s save reached the store.
    t::RunCommand(kBinary, rig.Args("check-connection"), &output);
    CHECK_FALSE(Contains(output, "not saved"));
    CHECK(rig.ServeCounter() == 3);
  }

  TEST_CASE("check-connection with a plugin that keeps no state creates no store") {
    StateRig rig;
    std::vector<std::string> args = rig.Args("check-connection");
    args.push_back("--set");
    args.push_back("crm.plugin=good_plugin");
    std::string output;
    t::RunCommand(kBinary, args, &output);
    CHECK_MESSAGE(t::ReadFile(rig.store).empty(), output);
  }

  TEST_CASE("a state key the host refuses stops serve and check-config with the host's words") {
    StateRig rig;
    const std::vector<std::string> bad = {"--set", "crm.stateful_plugin.state_key=my counter"};
    const std::string reason =
        "refused its configuration: state_key: plugin state key 'my counter' has 0x20 at byte 3; "
        "only A-Z a-z 0-9 _ . : - are allowed";
    std::string output;
    CHECK(t::RunCommand(kBinary, rig.Args("serve", bad), &output) == 78);
    CHECK_MESSAGE(Contains(output, reason), output);
    CHECK(t::RunCommand(kBinary, rig.Args("check-config", bad), &output) == 1);
    CHECK_MESSAGE(Contains(output, reason), output);
  }
}
