// Plugin host: real plugins (good and deliberately broken ones built in
// tests/plugins/broken) loaded for real; every failure names the file and cause.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crmsync/plugin.h"
#include "crmsync/version.h"
#include "plugin_host/plugin_loader.h"
#include "test_support.h"

using crmsync::engine::LoadedPlugin;
using crmsync::engine::PluginDescriptorInfo;
using crmsync::engine::PluginReport;
using crmsync::engine::ScanPlugins;

namespace {

const std::string kBroken = CRMSYNC_TEST_PLUGIN_DIR;

std::unique_ptr<LoadedPlugin> LoadBroken(const std::string& name, std::string* error) {
  return LoadedPlugin::Load(kBroken, name, error);
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_SUITE("engine.plugin_host") {
  TEST_CASE("a correct plugin loads and reports its descriptor and info and configures") {
    std::string error;
    auto plugin = LoadBroken("good_plugin", &error);
    REQUIRE_MESSAGE(plugin, error);
    CHECK(plugin->descriptor().name == "good_plugin");
    CHECK(plugin->descriptor().version == "0.0.1");
    CHECK(plugin->descriptor().abi_major == crmsync::kAbiMajor);
    CHECK(plugin->descriptor().class_name == "crmsync::testplugins::GoodAdapter");
    CHECK(plugin->info().name == "good_plugin");
    CHECK(plugin->Configure(crmsync::PluginConfig(), &error));
  }

  TEST_CASE("the real mock-crm plugin loads from the build's plugin folder") {
    std::string error;
    auto plugin = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, "mock-crm", &error);
    REQUIRE_MESSAGE(plugin, error);
    CHECK(plugin->info().name == "mock-crm");
    CHECK(plugin->info().capabilities.lookup_by_reference);
  }

  TEST_CASE("a missing file is named with the folder it was looked for in") {
    std::string error;
    CHECK_FALSE(LoadBroken("no-such-plugin", &error));
    CHECK(Contains(error, "plugin 'no-such-plugin' not found"));
    CHECK(Contains(error, kBroken + "/no-such-plugin"));
  }

  TEST_CASE("a plugin name with a slash is refused") {
    std::string error;
    CHECK_FALSE(LoadBroken("../etc/passwd", &error));
    CHECK(Contains(error, "is not a file name"));
  }

  TEST_CASE("a file that is not a shared library is refused with the loader's reason") {
    crmsync::testing::TempDir dir;
    crmsync::testing::WriteFile(dir.File("textfile"), "this is not an ELF file\n");
    std::string error;
    CHECK_FALSE(LoadedPlugin::Load(dir.path(), "textfile", &error));
    CHECK(Contains(error, "cannot load " + dir.File("textfile") + " as a shared library"));
  }

  TEST_CASE("a shared library without a descriptor is not a crmsync plugin") {
    std::string error;
    CHECK_FALSE(LoadBroken("not_a_plugin", &error));
    CHECK(Contains(error, kBroken + "/not_a_plugin is not a crmsync plugin"));
    CHECK(Contains(error, "crmsync_plugin_descriptor"));
  }

  TEST_CASE("an ABI major mismatch names the expected and the found version") {
    std::string error;
    CHECK_FALSE(LoadBroken("wrong_abi", &error));
    CHECK(Contains(error, kBroken + "/wrong_abi"));
    CHECK(Contains(error, "SDK ABI mismatch"));
    CHECK(Contains(error, "expects ABI major " + std::to_string(crmsync::kAbiMajor)));
    CHECK(Contains(error, "built for 99.0"));
  }

  TEST_CASE("a plugin built against a newer minor SDK is refused") {
    std::string error;
    CHECK_FALSE(LoadBroken("newer_minor", &error));
    CHECK(Contains(error, "newer than the engine's"));
  }

  TEST_CASE("a descriptor without a class manifest is refused by name") {
    std::string error;
    CHECK_FALSE(LoadBroken("no_manifest", &error));
    CHECK(Contains(error, kBroken + "/no_manifest"));
    CHECK(Contains(error, "no crmsync ABI " + std::to_string(crmsync::kAbiMajor) +
                              " class manifest (" CRMSYNC_MANIFEST_NAME ")"));
  }

  TEST_CASE("a descriptor naming a class the manifest lacks is refused") {
    std::string error;
    CHECK_FALSE(LoadBroken("class_missing", &error));
    CHECK(Contains(error, "class 'crmsync::testplugins::AbsentAdapter'"));
    CHECK(Contains(error, "not exported"));
  }

  TEST_CASE("a file whose declared name differs from its file name is refused") {
    std::string error;
    CHECK_FALSE(LoadBroken("misnamed", &error));
    CHECK(Contains(error, "declares plugin name 'some-other-name', not 'misnamed'"));
  }

  TEST_CASE("configure() refusing its settings is reported with the plugin's reason") {
    std::string error;
    auto plugin = LoadBroken("configure_rejects", &error);
    REQUIRE_MESSAGE(plugin, error);
    CHECK_FALSE(plugin->Configure(crmsync::PluginConfig(), &error));
    CHECK(Contains(error, "plugin 'configure_rejects'"));
    CHECK(Contains(error, "refused its configuration: api_url: required, not set"));
    crmsync::PluginConfig ok_config;
    ok_config.Set("api_url", "http://127.0.0.1:1");
    CHECK(plugin->Configure(ok_config, &error));
  }

  TEST_CASE("a plugin call that throws becomes an error naming the plugin and not a crash") {
    std::string error;
    auto plugin = LoadBroken("throwing", &error);
    REQUIRE_MESSAGE(plugin, error);
    crmsync::PluginConfig throwing_config;
    throwing_config.Set("throw_in_configure", "true");
    CHECK_FALSE(plugin->Configure(throwing_config, &error));
    CHECK(Contains(error, "plugin 'throwing' threw in Configure: configure exploded"));

    REQUIRE(plugin->Configure(crmsync::PluginConfig(), &error));
    crmsync::engine::GuardedAdapter& adapter = plugin->adapter();
    crmsync::SyncJob job;
    std::vector<crmsync::StepKind> steps;
    crmsync::Status s = adapter.Plan(job, &steps);
    CHECK(s.code() == crmsync::StatusCode::kInternal);
    CHECK(s.message() == "plugin 'throwing' threw in Plan: plan exploded");

    std::vector<crmsync::InboundChange> changes;
    s = adapter.ParseWebhook(crmsync::WebhookDelivery(), &changes);
    CHECK(s.code() == crmsync::StatusCode::kInternal);
    CHECK(Contains(s.message(), "not a std::exception"));

    crmsync::HttpResponse response = adapter.Send(crmsync::HttpRequest());
    CHECK(response.error == crmsync::TransportError::kIo);
    CHECK(response.request_sent);
    CHECK(Contains(response.error_message, "threw in Send: send exploded"));

    crmsync::WireRequest wire;
    bool supported = false;
    s = adapter.Prepare(crmsync::HttpRequest(), &wire, &supported);
    CHECK(s.code() == crmsync::StatusCode::kInternal);
    CHECK(s.message() == "plugin 'throwing' threw in Prepare: prepare exploded");

    CHECK(adapter.Dump() == "{}");
    CHECK(adapter.exceptions() == 6);  // Configure, Plan, ParseWebhook, Send, Prepare, Dump
  }

  TEST_CASE("Prepare reaches a plugin's transport across dlopen, or says it has none") {
    std::string error;
    // mock-crm's transport implements crmsync/prepare.h: the engine's
    // dynamic_cast finds it in a library loaded at run time.
    auto mock = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, "mock-crm", &error);
    REQUIRE_MESSAGE(mock, error);
    REQUIRE(mock->Configure(crmsync::PluginConfig(), &error));
    crmsync::HttpRequest request;
    request.method = "POST";
    request.path = "/api/v1/leads";
    request.body = "{}";
    crmsync::WireRequest wire;
    bool supported = false;
    REQUIRE(mock->adapter().Prepare(request, &wire, &supported).ok());
    CHECK(supported);
    CHECK(wire.url == "mock-crm:/api/v1/leads");
    CHECK(crmsync::FindHeader(wire.headers, "Content-Type") == "application/json");

    // good_plugin's transport only sends (as a plugin built before ABI 2.3).
    auto good = LoadBroken("good_plugin", &error);
    REQUIRE_MESSAGE(good, error);
    REQUIRE(good->Configure(crmsync::PluginConfig(), &error));
    crmsync::WireRequest untouched;
    supported = true;
    CHECK(good->adapter().Prepare(request, &untouched, &supported).ok());
    CHECK_FALSE(supported);
    CHECK(untouched.url.empty());
    CHECK(good->adapter().exceptions() == 0);
  }

  TEST_CASE("scanning a folder reports good and broken plugins with reasons") {
    std::string error;
    std::vector<PluginReport> reports = ScanPlugins(kBroken, &error);
    CHECK(error.empty());
    std::map<std::string, const PluginReport*> by_file;
    for (const auto& r : reports) by_file[r.file.substr(r.file.rfind('/') + 1)] = &r;
    REQUIRE(by_file.count("good_plugin") == 1);
    CHECK(by_file["good_plugin"]->ok);
    CHECK(by_file["good_plugin"]->info.version == "0.0.1");
    REQUIRE(by_file.count("wrong_abi") == 1);
    CHECK_FALSE(by_file["wrong_abi"]->ok);
    CHECK(by_file["wrong_abi"]->descriptor.abi_major == 99);
    CHECK(Contains(by_file["wrong_abi"]->error, "SDK ABI mismatch"));
    REQUIRE(by_file.count("not_a_plugin") == 1);
    CHECK_FALSE(by_file["not_a_plugin"]->ok);
  }

  TEST_CASE("a refusal naming several problems gives one problem per line, counted") {
    CHECK(crmsync::engine::SplitProblems("one") == std::vector<std::string>{"one"});
    CHECK(crmsync::engine::SplitProblems("one\r\ntwo\n\n  \nthree\n") ==
          std::vector<std::string>{"one", "two", "three"});
    CHECK(crmsync::engine::SplitProblems("").empty());

    std::string error;
    auto plugin = LoadedPlugin::Load(CRMSYNC_PLUGIN_DIR, "generic-rest-crm", &error);
    REQUIRE_MESSAGE(plugin, error);
    const std::string mapping =
        std::string(CRMSYNC_SOURCE_DIR) + "/tests/plugins/generic_rest/fixtures/broken.json";
    crmsync::PluginConfig config;
    config.Set("api_url", "http://127.0.0.1:1");
    config.Set("mapping", mapping);
    std::vector<std::string> problems;
    CHECK_FALSE(plugin->Configure(config, &problems));
    // broken.json has 18 mistakes (tests/plugins/generic_rest/mapping_file_test.cpp).
    REQUIRE(problems.size() == 18);
    const std::string prefix = "plugin 'generic-rest-crm' (" + plugin->descriptor().file +
                               ") refused its configuration: mapping: " + mapping + ": /";
    for (const std::string& problem : problems) {
      CAPTURE(problem);
      CHECK(problem.rfind(prefix, 0) == 0);
      CHECK_FALSE(Contains(problem, "\n"));
    }
    CHECK_FALSE(plugin->Configure(config, &error));
    CHECK(error.rfind("plugin 'generic-rest-crm' (" + plugin->descriptor().file +
                          ") refused its configuration: 18 problems:\n  mapping: " + mapping +
                          ": /descripton: unknown key; did you mean 'description'?",
                      0) == 0);
    size_t lines = 0;
    for (char c : error) lines += c == '\n' ? 1 : 0;
    CHECK(lines == 18);
  }

  TEST_CASE("scanning a folder that does not exist is an error") {
    std::string error;
    CHECK(ScanPlugins("/nonexistent/crmsync/plugins", &error).empty());
    CHECK(Contains(error, "/nonexistent/crmsync/plugins is not a folder"));
  }
}
