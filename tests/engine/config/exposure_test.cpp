// exposure_test.cpp: development tokens stay on loopback (config/exposure.h),
// and the "did you mean" hints for unknown keys and environment names.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "config/exposure.h"
#include "config/schema.h"
#include "config/settings.h"
#include "test_support.h"

namespace crmsync::config {
namespace {

using crmsync::testing::TempDir;
using crmsync::testing::WriteFile;

const std::string kShippedConfig = CRMSYNC_SOURCE_DIR "/config/crmsync.properties";
const std::string kStrongIntake = "0123456789abcdef0123456789abcdef-intake";
const std::string kStrongAdmin = "fedcba9876543210fedcba9876543210-admin";

// The shipped config plus `overrides`, checked for exposure.
std::vector<Diagnostic> Exposure(const std::vector<std::string>& overrides,
                                 const std::string& config_file = kShippedConfig) {
  LoadOptions options;
  options.config_file = config_file;
  options.overrides = overrides;
  std::vector<Diagnostic> load;
  Settings settings = Settings::Load(options, &load);
  for (const Diagnostic& d : load) {
    INFO(d.message);
    REQUIRE(d.level != Diagnostic::Level::kError);
  }
  std::vector<Diagnostic> diagnostics;
  CheckExposure(settings, &diagnostics);
  return diagnostics;
}

std::string Dump(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) text += d.key + ": " + d.message + "\n";
  return text;
}

// Every diagnostic is an error, and none quotes a token or secret value.
void CheckNoValues(const std::vector<Diagnostic>& diagnostics,
                   const std::vector<std::string>& values) {
  for (const Diagnostic& d : diagnostics) {
    CHECK(d.level == Diagnostic::Level::kError);
    for (const std::string& value : values) {
      CAPTURE(value);
      CHECK(d.message.find(value) == std::string::npos);
    }
  }
}

TEST_SUITE("engine.config.exposure") {
  TEST_CASE("loopback hosts are told apart from every other address") {
    for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST",
                             "localhost."}) {
      CAPTURE(host);
      CHECK(IsLoopbackHost(host));
    }
    for (const char* host : {"0.0.0.0", "::", "10.0.0.5", "192.168.1.1", "example.com",
                             "128.0.0.1", "", "localhost.example.com", "[::]"}) {
      CAPTURE(host);
      CHECK_FALSE(IsLoopbackHost(host));
    }
  }

  TEST_CASE("the shipped development tokens are allowed on loopback (the quick start)") {
    for (const char* host : {"127.0.0.1", "::1", "localhost"}) {
      CAPTURE(host);
      std::vector<Diagnostic> diagnostics = Exposure({std::string("server.host=") + host});
      CHECK_MESSAGE(diagnostics.empty(), Dump(diagnostics));
    }
  }

  TEST_CASE("every token in the shipped config is a known development token") {
    LoadOptions options;
    options.config_file = kShippedConfig;
    std::vector<Diagnostic> load;
    Settings settings = Settings::Load(options, &load);
    int secrets_set = 0;
    for (const KeySpec& spec : Schema()) {
      if (!spec.secret || !settings.IsSet(spec.key)) continue;
      ++secrets_set;
      CAPTURE(spec.key);
      const std::vector<std::string>& dev = DevelopmentTokens();
      CHECK(std::find(dev.begin(), dev.end(), settings.GetString(spec.key)) != dev.end());
    }
    CHECK(secrets_set == 2);  // intake.token and admin.token
  }

  TEST_CASE("the shipped tokens off loopback are refused naming each setting, never its value") {
    std::vector<Diagnostic> diagnostics = Exposure({"server.host=0.0.0.0"});
    INFO(Dump(diagnostics));
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].key == "intake.token");
    CHECK(diagnostics[0].message ==
          "intake.token (from file " + kShippedConfig +
              "): is the public development token shipped in config/crmsync.properties while "
              "server.host is '0.0.0.0' (not loopback); set a random token of at least 32 "
              "characters (openssl rand -hex 32), e.g. in the file intake.token.file names, or "
              "bind server.host to 127.0.0.1");
    CHECK(diagnostics[1].key == "admin.token");
    CHECK(diagnostics[1].message.find("admin.token (from file ") == 0);
    CheckNoValues(diagnostics, {"dev-intake-token", "dev-admin-token"});
    // A host name and an IPv6 wildcard are not loopback either.
    CHECK(Exposure({"server.host=crmsync.internal"}).size() == 2);
    CHECK(Exposure({"server.host=::"}).size() == 2);
  }

  TEST_CASE("a token shorter than 32 characters is refused off loopback") {
    const std::string short_admin = "a-31-character-admin-token-xxxx";
    REQUIRE(short_admin.size() == 31);
    std::vector<Diagnostic> diagnostics =
        Exposure({"server.host=10.0.0.5", "intake.token=" + kStrongIntake,
                  "admin.token=" + short_admin});
    INFO(Dump(diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].key == "admin.token");
    CHECK(diagnostics[0].message.find("admin.token (from --set): is shorter than 32 characters "
                                      "while server.host is '10.0.0.5' (not loopback)") == 0);
    CheckNoValues(diagnostics, {short_admin});
    // 32 characters exactly is enough.
    CHECK(Exposure({"server.host=10.0.0.5", "intake.token=" + kStrongIntake,
                    "admin.token=" + short_admin + "y"})
              .empty());
  }

  TEST_CASE("one token shared by the intake and admin APIs is refused off loopback") {
    std::vector<Diagnostic> diagnostics =
        Exposure({"server.host=0.0.0.0", "intake.token=" + kStrongAdmin,
                  "admin.token=" + kStrongAdmin});
    INFO(Dump(diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].key == "admin.token");
    CHECK(diagnostics[0].message.find("is the same token as intake.token") != std::string::npos);
    CheckNoValues(diagnostics, {kStrongAdmin});
  }

  TEST_CASE("strong distinct tokens, or empty ones (a closed API), pass off loopback") {
    CHECK(Exposure({"server.host=0.0.0.0", "intake.token=" + kStrongIntake,
                    "admin.token=" + kStrongAdmin})
              .empty());
    CHECK(Exposure({"server.host=0.0.0.0", "intake.token=", "admin.token="}).empty());
  }

  TEST_CASE("a token read from a file is judged like any other and its source named") {
    TempDir dir;
    WriteFile(dir.File("admin.token"), "dev-admin-token\n");
    WriteFile(dir.File("c.properties"), "server.host = 0.0.0.0\nintake.token = " + kStrongIntake +
                                            "\nadmin.token.file = admin.token\n");
    std::vector<Diagnostic> diagnostics = Exposure({}, dir.File("c.properties"));
    INFO(Dump(diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message.find("admin.token (from file " + dir.File("admin.token") +
                                      " (secret file)): is the public development token") == 0);
  }

  TEST_CASE("webhook secrets off loopback: no development token, no API token") {
    const std::vector<std::string> strong = {"server.host=0.0.0.0", "intake.token=" + kStrongIntake,
                                             "admin.token=" + kStrongAdmin};
    auto with = [&](const std::string& extra) {
      std::vector<std::string> overrides = strong;
      overrides.push_back(extra);
      return Exposure(overrides);
    };
    std::vector<Diagnostic> diagnostics = with("crm.webhook.secret=dev-intake-token");
    INFO(Dump(diagnostics));
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].key == "crm.webhook.secret");
    CHECK(diagnostics[0].message.find("holds a public development token") != std::string::npos);

    diagnostics = with("webhook.secrets=old-crm-secret-1," + kStrongAdmin);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].key == "webhook.secrets");
    CHECK(diagnostics[0].message.find("holds the same value as admin.token") != std::string::npos);
    CheckNoValues(diagnostics, {kStrongAdmin, "old-crm-secret-1"});

    // A CRM-issued secret of any length is the CRM's choice.
    CHECK(with("crm.webhook.secret=short-crm-secret").empty());
  }

  TEST_CASE("an unknown key or environment name gets the closest known one when it is a slip") {
    CHECK(SuggestKey("sever.port") == "server.port");
    CHECK(SuggestKey("server.hsot") == "server.host");           // two letters swapped
    CHECK(SuggestKey("Server.Port") == "server.port");           // case
    CHECK(SuggestKey("admin.tokn.file") == "admin.token.file");  // a secret's file form
    CHECK(SuggestKey("store.pth") == "store.path");
    CHECK(SuggestKey("foo.bar") == "");
    CHECK(SuggestKey("completely.different.thing") == "");
    CHECK(SuggestEnvName("CRMSYNC_SERVER_PROT") == "CRMSYNC_SERVER_PORT");
    CHECK(SuggestEnvName("CRM_API_KYE") == "CRM_API_KEY");
    CHECK(SuggestEnvName("CRM_API_KEY_FLIE") == "CRM_API_KEY_FILE");
    CHECK(SuggestEnvName("CRM_SOMETHING_ELSE") == "");
  }

  TEST_CASE("an unknown key far from every known one gets no hint") {
    LoadOptions options;
    options.overrides = {"bogus.key=1", "log.levl=debug"};
    std::vector<Diagnostic> diagnostics;
    Settings::Load(options, &diagnostics);
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].message == "unknown key 'bogus.key' (from --set); it is ignored");
    CHECK(diagnostics[1].message ==
          "unknown key 'log.levl' (from --set); it is ignored; did you mean 'log.level'?");
  }
}

}  // namespace
}  // namespace crmsync::config
