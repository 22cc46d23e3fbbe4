// shadow/shadow_plugin: the shadow plugin's settings (crm.shadow.mapping, never
// the live crm.mapping; crm.shadow.url as its base URL; its own
// crm.shadow.<plugin>.<key> over the live keys), kept by Settings::Load
// rather than reported as unknown.
#include <doctest/doctest.h>

#include <algorithm>

#include "shadow/shadow_plugin.h"

namespace crmsync::engine {
namespace {

config::Settings Load(const std::vector<std::string>& overrides,
                      std::vector<config::Diagnostic>* diagnostics) {
  config::LoadOptions options;
  options.config_file = "";
  options.overrides = overrides;
  return config::Settings::Load(options, diagnostics);
}

bool Mentions(const std::vector<config::Diagnostic>& diagnostics, const std::string& key) {
  for (const config::Diagnostic& d : diagnostics) {
    if (d.key == key) return true;
  }
  return false;
}

TEST_SUITE("shadow") {
  TEST_CASE("the shadow plugin gets its own mapping, sandbox URL and keys over the live ones") {
    std::vector<config::Diagnostic> diagnostics;
    config::Settings settings = Load({"crm.plugin=generic-rest-crm",
                                      "crm.mapping=/live/v1.json",
                                      "crm.api.url=https://crm.example.com",
                                      "crm.api.key=live-key",
                                      "crm.api.secret=live-secret",
                                      "crm.generic-rest-crm.page_size=50",
                                      "crm.shadow.plugin=generic-rest-crm",
                                      "crm.shadow.mapping=/next/v2.json",
                                      "crm.shadow.url=https://sandbox.example.com",
                                      "crm.shadow.generic-rest-crm.api_key=sandbox-key",
                                      "crm.shadow.other-crm.api_key=ignored"},
                                     &diagnostics);
    CHECK_FALSE(Mentions(diagnostics, "crm.shadow.generic-rest-crm.api_key"));
    CHECK(Mentions(diagnostics, "crm.shadow.other-crm.api_key"));  // Unknown: another plugin.
    PluginConfig config = ShadowPluginConfig(settings);
    CHECK(config.Get("mapping") == "/next/v2.json");
    CHECK(config.Get("api_url") == "https://sandbox.example.com");
    CHECK(config.Get("api_key") == "sandbox-key");
    CHECK(config.Get("api_secret") == "live-secret");
    CHECK(config.Get("page_size") == "50");  // The live plugin's key: the same plugin.
    // The sandbox key is a secret: masked wherever it appears.
    const std::vector<std::string> secrets = settings.SecretValues();
    CHECK(std::find(secrets.begin(), secrets.end(), "sandbox-key") != secrets.end());
  }

  TEST_CASE("without crm.shadow.mapping the shadow gets no mapping, not the live one") {
    std::vector<config::Diagnostic> diagnostics;
    config::Settings settings = Load({"crm.plugin=generic-rest-crm", "crm.mapping=/live/v1.json",
                                      "crm.shadow.plugin=generic-rest-crm"},
                                     &diagnostics);
    PluginConfig config = ShadowPluginConfig(settings);
    CHECK_FALSE(config.Has("mapping"));
  }
}

}  // namespace
}  // namespace crmsync::engine
