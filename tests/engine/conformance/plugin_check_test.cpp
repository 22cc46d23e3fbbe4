// The conformance kit against real plugin files: both shipped plugins pass
// every check; each deliberately broken plugin in tests/plugins/broken fails
// the check it is named for; the `crmsync plugin-check` command's exit codes
// and JSON report.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "config/settings.h"
#include "conformance/plugin_check.h"
#include "test_support.h"

namespace c = crmsync::engine::conformance;
namespace t = crmsync::testing;

namespace {

const std::string kSunshine = CRMSYNC_SOURCE_DIR "/config/crms/sunshine-reference.json";
const std::string kHubspot = CRMSYNC_SOURCE_DIR "/config/crms/hubspot.json";

// Runs the battery as `crmsync plugin-check <target> --set ...` would: the
// settings are loaded through the engine's layers, with no file and no
// environment.
c::Report Check(const std::string& target, const std::string& plugins_dir,
                const std::vector<std::string>& overrides = {}) {
  crmsync::config::LoadOptions load;
  load.config_file = "";
  load.overrides = overrides;
  std::vector<crmsync::config::Diagnostic> diagnostics;
  crmsync::config::Settings settings = crmsync::config::Settings::Load(load, &diagnostics);
  for (const auto& d : diagnostics) {
    if (d.level == crmsync::config::Diagnostic::Level::kError) FAIL(d.message);
  }
  c::CheckOptions options;
  options.target = target;
  options.plugins_dir = plugins_dir;
  options.config_for = [settings](const std::string& name) {
    return settings.PluginConfigFor(name);
  };
  return c::RunPluginCheck(options);
}

c::Report CheckTestPlugin(const std::string& name, const std::vector<std::string>& overrides = {
                                                       "crm.api.url=http://127.0.0.1:1"}) {
  return Check(std::string(CRMSYNC_TEST_PLUGIN_DIR) + "/" + name, "", overrides);
}

std::string Text(const c::Report& report) {
  std::ostringstream out;
  c::PrintText(report, out);
  return out.str();
}

c::Verdict VerdictOf(const c::Report& report, const std::string& check) {
  const c::CheckResult* result = report.Find(check);
  REQUIRE_MESSAGE(result != nullptr, check);
  return result->verdict;
}

// Every check passes or is skipped; `skipped` lists the ones allowed to skip.
void RequireAllPass(const c::Report& report, const std::vector<std::string>& skipped) {
  INFO(Text(report));
  REQUIRE(report.checks.size() == c::AllCheckNames().size());
  for (const c::CheckResult& check : report.checks) {
    CAPTURE(check.name);
    bool may_skip = std::find(skipped.begin(), skipped.end(), check.name) != skipped.end();
    CHECK(check.verdict == (may_skip ? c::Verdict::kSkip : c::Verdict::kPass));
  }
  CHECK(report.passed());
}

// The plugin fails `check` (and the report as a whole).
void RequireFails(const c::Report& report, const std::string& check) {
  INFO(Text(report));
  CHECK(VerdictOf(report, check) == c::Verdict::kFail);
  CHECK_FALSE(report.passed());
}

}  // namespace

TEST_SUITE("engine.conformance") {
  TEST_CASE("the check names are the fixed battery, in order") {
    CHECK(c::AllCheckNames() ==
          std::vector<std::string>{"loads", "ABI", "metadata complete",
                                   "configure refuses bad config", "configure accepts given config",
                                   "maps every event type", "status table complete both ways",
                                   "classification", "webhook parse and verification",
                                   "batch round trip", "no exception escapes"});
  }

  TEST_CASE("mock-crm passes every check (no batching: batch round trip skipped)") {
    RequireAllPass(Check("mock-crm", CRMSYNC_PLUGIN_DIR), {c::kCheckBatch});
  }

  TEST_CASE("generic-rest-crm with the reference mapping passes every check") {
    RequireAllPass(Check("generic-rest-crm", CRMSYNC_PLUGIN_DIR,
                         {"crm.mapping=" + kSunshine, "crm.api.url=http://127.0.0.1:1",
                          "crm.api.key=conformance-key", "crm.api.secret=conformance-secret"}),
                   {c::kCheckBatch});
  }

  TEST_CASE("a mapping whose lookup was never checked against a real answer passes with a warning") {
    const std::string full = CRMSYNC_SOURCE_DIR "/tests/plugins/generic_rest/fixtures/full.json";
    c::Report report = Check("generic-rest-crm", CRMSYNC_PLUGIN_DIR,
                             {"crm.mapping=" + full, "crm.api.url=http://127.0.0.1:1",
                              "crm.api.key=conformance-key", "crm.api.secret=s"});
    CHECK(VerdictOf(report, c::kCheckAcceptsConfig) == c::Verdict::kPass);
    REQUIRE(report.warnings.size() == 1);
    CHECK(report.warnings[0].find("lead.lookup (/entities/lead/operations/lookup) has never been "
                                  "checked against a real answer") == 0);
    std::ostringstream text;
    c::PrintText(report, text);
    CHECK(text.str().find("  WARN  lead.lookup") != std::string::npos);
    std::ostringstream json;
    c::PrintJson(report, json);
    CHECK(json.str().find("\"warnings\":[\"lead.lookup") != std::string::npos);
    // The shipped mappings carry sample answers: no warning.
    CHECK(Check("generic-rest-crm", CRMSYNC_PLUGIN_DIR,
                {"crm.mapping=" + kSunshine, "crm.api.url=http://127.0.0.1:1",
                 "crm.api.key=k", "crm.api.secret=s"})
              .warnings.empty());
  }

  TEST_CASE("generic-rest-crm with the HubSpot mapping: batching and its own webhook scheme pass") {
    // HubSpot's per-property events are not the reference shape the status
    // table check sends, so that one is skipped; the webhook check sees
    // malformed bodies refused and every unsigned delivery unauthenticated.
    RequireAllPass(Check("generic-rest-crm", CRMSYNC_PLUGIN_DIR,
                         {"crm.mapping=" + kHubspot, "crm.api.url=http://127.0.0.1:1",
                          "crm.api.key=conformance-key", "crm.webhook.secret=hs-client-secret"}),
                   {c::kCheckStatusTable});
  }

  TEST_CASE("a plugin given by path passes like one given by name") {
    RequireAllPass(Check(std::string(CRMSYNC_PLUGIN_DIR) + "/mock-crm", ""), {c::kCheckBatch});
  }

  TEST_CASE("the conformant test plugin passes: the broken ones below differ in one rule") {
    RequireAllPass(CheckTestPlugin("conformant_plugin"), {c::kCheckBatch});
  }

  TEST_CASE("generic-rest-crm without its settings fails 'configure accepts given config'") {
    c::Report report = Check("generic-rest-crm", CRMSYNC_PLUGIN_DIR);
    RequireFails(report, c::kCheckAcceptsConfig);
    CHECK(VerdictOf(report, c::kCheckRefusesBadConfig) == c::Verdict::kPass);
    CHECK(VerdictOf(report, c::kCheckMapsEvents) == c::Verdict::kSkip);
    CHECK(report.Find(c::kCheckAcceptsConfig)->reason.find("mapping") != std::string::npos);
  }

  TEST_CASE("a missing plugin fails 'loads' naming the file") {
    c::Report report = Check("no-such-crm", CRMSYNC_PLUGIN_DIR);
    RequireFails(report, c::kCheckLoads);
    CHECK(report.Find(c::kCheckLoads)->reason.find("no-such-crm") != std::string::npos);
  }

  TEST_CASE("no_manifest fails 'loads', its ABI passes") {
    c::Report report = CheckTestPlugin("no_manifest");
    RequireFails(report, c::kCheckLoads);
    CHECK(VerdictOf(report, c::kCheckAbi) == c::Verdict::kPass);
  }

  TEST_CASE("class_missing, misnamed and not_a_plugin fail 'loads'") {
    for (const char* name : {"class_missing", "misnamed", "not_a_plugin"}) {
      CAPTURE(name);
      RequireFails(CheckTestPlugin(name), c::kCheckLoads);
    }
  }

  TEST_CASE("wrong_abi and newer_minor fail 'ABI' and are never handed to the ClassLoader") {
    for (const char* name : {"wrong_abi", "newer_minor"}) {
      CAPTURE(name);
      c::Report report = CheckTestPlugin(name);
      RequireFails(report, c::kCheckAbi);
      CHECK(VerdictOf(report, c::kCheckLoads) == c::Verdict::kSkip);
    }
    CHECK(CheckTestPlugin("wrong_abi").Find(c::kCheckAbi)->reason.find("99.0") !=
          std::string::npos);
  }

  TEST_CASE("no_description fails 'metadata complete'") {
    RequireFails(CheckTestPlugin("no_description"), c::kCheckMetadata);
  }

  TEST_CASE("configure_accepts_anything fails 'configure refuses bad config'") {
    c::Report report = CheckTestPlugin("configure_accepts_anything");
    RequireFails(report, c::kCheckRefusesBadConfig);
    CHECK(report.Find(c::kCheckRefusesBadConfig)->reason.find("accepted every malformed config") !=
          std::string::npos);
  }

  TEST_CASE("bad_budget_headers fails 'configure accepts given config': the engine would not start") {
    const c::Report report = CheckTestPlugin("bad_budget_headers", {});
    RequireFails(report, c::kCheckAcceptsConfig);
    CHECK(Text(report).find("names its CRM's budget headers in Dump() wrongly: "
                            "rateLimitHeaders/remainingHeader: must be a header name") !=
          std::string::npos);
    CHECK(VerdictOf(report, c::kCheckMapsEvents) == c::Verdict::kPass);  // the rest still runs
  }

  TEST_CASE("configure_rejects without api_url fails 'configure accepts given config'") {
    RequireFails(CheckTestPlugin("configure_rejects", {}), c::kCheckAcceptsConfig);
  }

  TEST_CASE("throws_in_mapping fails 'maps every event type' and 'no exception escapes'") {
    c::Report report = CheckTestPlugin("throws_in_mapping");
    RequireFails(report, c::kCheckMapsEvents);
    CHECK(VerdictOf(report, c::kCheckNoExceptions) == c::Verdict::kFail);
    CHECK(report.Find(c::kCheckMapsEvents)->reason.find("dealer.assigned") != std::string::npos);
  }

  TEST_CASE("throwing fails 'no exception escapes'") {
    RequireFails(CheckTestPlugin("throwing"), c::kCheckNoExceptions);
  }

  TEST_CASE("status_one_way fails 'status table complete both ways' naming the status") {
    c::Report report = CheckTestPlugin("status_one_way");
    RequireFails(report, c::kCheckStatusTable);
    CHECK(report.Find(c::kCheckStatusTable)->reason.find("CONVERTED") != std::string::npos);
  }

  TEST_CASE("misclassifies fails 'classification' naming the 401 row") {
    c::Report report = CheckTestPlugin("misclassifies");
    RequireFails(report, c::kCheckClassification);
    CHECK(report.Find(c::kCheckClassification)->reason.find("HTTP 401") != std::string::npos);
  }

  TEST_CASE("lenient_webhooks fails 'webhook parse and verification'") {
    RequireFails(CheckTestPlugin("lenient_webhooks"), c::kCheckWebhooks);
  }

  TEST_CASE("batch_declared_not_built fails 'batch round trip'") {
    RequireFails(CheckTestPlugin("batch_declared_not_built"), c::kCheckBatch);
  }

  TEST_CASE("crmsync plugin-check: exit 0 on a pass, 1 on a failure, 64 without a plugin") {
    std::string output;
    int rc = t::RunCommand(CRMSYNC_BINARY,
                           {"plugin-check", "mock-crm", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR},
                           &output);
    CHECK_MESSAGE(rc == 0, output);
    CHECK(output.find("PASS  classification") != std::string::npos);
    CHECK(output.find("PASSED") != std::string::npos);

    rc = t::RunCommand(CRMSYNC_BINARY,
                       {"plugin-check", CRMSYNC_TEST_PLUGIN_DIR "/misclassifies", "--set",
                        "crm.api.url=http://127.0.0.1:1"},
                       &output);
    CHECK_MESSAGE(rc == 1, output);
    CHECK(output.find("FAIL  classification") != std::string::npos);

    rc = t::RunCommand(CRMSYNC_BINARY, {"plugin-check"}, &output);
    CHECK_MESSAGE(rc == 64, output);
  }

  TEST_CASE("crmsync plugin-check ... json prints one JSON report") {
    std::string output;
    int rc = t::RunCommand(
        CRMSYNC_BINARY,
        {"plugin-check", "generic-rest-crm", "json", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
         "--set", "crm.mapping=" + kSunshine, "--set", "crm.api.url=http://127.0.0.1:1", "--set",
         "crm.api.key=conformance-key", "--set", "crm.api.secret=conformance-secret"},
        &output);
    CHECK_MESSAGE(rc == 0, output);
    auto json = Poco::JSON::Parser().parse(output).extract<Poco::JSON::Object::Ptr>();
    CHECK(json->getValue<bool>("passed"));
    CHECK(json->getValue<std::string>("plugin") == "generic-rest-crm");
    Poco::JSON::Array::Ptr checks = json->getArray("checks");
    REQUIRE(checks->size() == c::AllCheckNames().size());
    CHECK(checks->getObject(7)->getValue<std::string>("name") == "classification");
    CHECK(checks->getObject(7)->getValue<std::string>("result") == "PASS");
    // Secrets never appear in the report.
    CHECK(output.find("conformance-key") == std::string::npos);
    CHECK(output.find("conformance-secret") == std::string::npos);
  }
}
