// deploy/: the sample production config passes `crmsync check-config` once the
// files only a production host has (the token files, the mapping under
// /etc/crmsync) exist, and the systemd unit agrees with it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const std::string kBinary = CRMSYNC_BINARY;
const std::string kProperties = CRMSYNC_SOURCE_DIR "/deploy/crmsync.production.properties";
const std::string kUnit = CRMSYNC_SOURCE_DIR "/deploy/crmsync.service";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
// The CRM credentials the unit's EnvironmentFile would set.
const std::map<std::string, std::string> kCrmEnvironment = {
    {"CRM_API_KEY", "prod-api-key-123"},
    {"CRM_API_SECRET", "prod-api-secret-456"},
    {"CRM_WEBHOOK_SECRET", "prod-webhook-secret-789"}};

}  // namespace

TEST_SUITE("e2e.deploy") {
  TEST_CASE("the production config fails check-config only on the host-only token files") {
    std::string output;
    int rc = t::RunCommand(
        kBinary,
        {"check-config", "--config", kProperties, "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR},
        &output, kCrmEnvironment);
    CHECK(rc == 1);
    std::vector<std::string> errors = t::LinesStartingWith(output, "error: ");
    CHECK_MESSAGE(errors.size() == 2, output);
    for (const std::string& error : errors) {
      CHECK_MESSAGE(
          Contains(error, "cannot read secret file '" CRMSYNC_SOURCE_DIR "/deploy/secrets/"),
          error);
    }
    CHECK_MESSAGE(t::LinesStartingWith(output, "warning: ").empty(), output);
  }

  TEST_CASE("the production config passes check-config with its files in place") {
    // An unmodified copy in a folder laid out like /etc/crmsync.
    t::TempDir etc;
    const std::string config = etc.File("crmsync.properties");
    t::WriteFile(config, t::ReadFile(kProperties));
    std::filesystem::create_directories(etc.File("secrets"));
    std::filesystem::create_directories(etc.File("crms"));
    t::WriteFile(etc.File("secrets/intake.token"), "intake-token-from-file-0123456789abcdef\n");
    t::WriteFile(etc.File("secrets/admin.token"), "admin-token-from-file-4567456789abcdef\n");
    t::WriteFile(etc.File("crms/sunshine-reference.json"),
                 t::ReadFile(CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json"));

    std::string output;
    int rc = t::RunCommand(
        kBinary, {"check-config", "--config", config, "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR},
        &output, kCrmEnvironment);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(Contains(output, "ok: plugin generic-rest-crm"));
    CHECK(Contains(output, "0 error(s), 0 warning(s)"));
    CHECK(Contains(output, "server.host = 0.0.0.0"));
    CHECK(Contains(output, "store.synchronous = FULL"));
    CHECK(Contains(output, "log.format = json"));
    CHECK(Contains(output, "admin.token = <redacted>"));
    for (const char* secret :
         {"intake-token-from-file-0123456789abcdef", "admin-token-from-file-4567456789abcdef", "prod-api-key-123",
          "prod-api-secret-456", "prod-webhook-secret-789"}) {
      CAPTURE(secret);
      CHECK_FALSE(Contains(output, secret));
    }
  }

  TEST_CASE("the unit's stop timeout leaves room for shutdown.deadline_ms") {
    std::smatch m;
    const std::string properties = t::ReadFile(kProperties);
    const std::string unit = t::ReadFile(kUnit);
    REQUIRE(std::regex_search(properties, m, std::regex(R"(\nshutdown\.deadline_ms = (\d+)\n)")));
    const long deadline_ms = std::stol(m[1]);
    REQUIRE(std::regex_search(unit, m, std::regex(R"(\nTimeoutStopSec=(\d+)s\n)")));
    const long timeout_ms = std::stol(m[1]) * 1000;
    CHECK(timeout_ms >= deadline_ms + 5000);
    CHECK(Contains(unit,
                   "\nExecStart=/usr/local/bin/crmsync serve --config "
                   "/etc/crmsync/crmsync.properties\n"));
    CHECK(Contains(unit, "\nStateDirectory=crmsync\n"));
    CHECK(Contains(properties, "\nstore.path = /var/lib/crmsync/"));

    // systemd-analyze checks the unit when systemd is installed (the unit's
    // binary path is pointed at the build's, which exists here).
    if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
      MESSAGE("systemd-analyze not installed: the unit's syntax is not verified");
      return;
    }
    t::TempDir dir;
    std::string copy = unit;
    const std::string installed = "/usr/local/bin/crmsync";
    copy.replace(copy.find(installed + " serve"), installed.size(), kBinary);
    t::WriteFile(dir.File("crmsync.service"), copy);
    std::string output;
    int rc =
        t::RunCommand("/usr/bin/systemd-analyze", {"verify", dir.File("crmsync.service")}, &output);
    CHECK_MESSAGE(rc == 0, output);
  }
}
