// Tests for PluginConfig lookups and HttpTransportOptionsFromConfig(), which
// reads the well-known transport keys out of it.
#include <doctest/doctest.h>

#include <string>

#include "crmsync/http_transport.h"
#include "crmsync/plugin_config.h"
#include "test_support.h"

namespace crmsync {
namespace {

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

TEST_SUITE("sdk") {
  TEST_CASE("plugin_config: Get, Has and fallbacks") {
    PluginConfig config({{"api_url", "https://crm.example.com"}, {"empty", ""}});
    CHECK(config.Has("api_url"));
    CHECK(config.Has("empty"));
    CHECK_FALSE(config.Has("missing"));
    CHECK(config.Get("api_url") == "https://crm.example.com");
    CHECK(config.Get("missing", "fallback") == "fallback");
    CHECK(config.Get("empty", "fallback") == "");
    config.Set("missing", "now set");
    CHECK(config.Get("missing") == "now set");
  }

  TEST_CASE("plugin_config: GetInt reads whole numbers only and reports presence") {
    PluginConfig config({{"n", "1500"}, {"neg", "-3"}, {"bad", "15s"}, {"blank", ""}});
    int64_t value = 7;
    bool present = false;
    CHECK(config.GetInt("n", &value, &present));
    CHECK(present);
    CHECK(value == 1500);
    CHECK(config.GetInt("neg", &value));
    CHECK(value == -3);
    value = 7;
    CHECK_FALSE(config.GetInt("bad", &value, &present));
    CHECK(present);
    CHECK(value == 7);
    CHECK_FALSE(config.GetInt("blank", &value, &present));
    CHECK(present);
    CHECK_FALSE(config.GetInt("missing", &value, &present));
    CHECK_FALSE(present);
    CHECK(value == 7);
  }

  TEST_CASE("plugin_config: GetBool accepts the usual spellings") {
    PluginConfig config({{"a", "TRUE"}, {"b", "no"}, {"c", "1"}, {"d", "off"}, {"e", "maybe"}});
    bool value = false;
    CHECK(config.GetBool("a", &value));
    CHECK(value);
    CHECK(config.GetBool("b", &value));
    CHECK_FALSE(value);
    CHECK(config.GetBool("c", &value));
    CHECK(value);
    CHECK(config.GetBool("d", &value));
    CHECK_FALSE(value);
    bool present = false;
    CHECK_FALSE(config.GetBool("e", &value, &present));
    CHECK(present);
    CHECK_FALSE(config.GetBool("zzz", &value, &present));
    CHECK_FALSE(present);
  }

  TEST_CASE("plugin_config: KeysWithPrefix is sorted and exact on the prefix") {
    PluginConfig config({{"map.b", "2"}, {"map.a", "1"}, {"mapx", "3"}, {"other", "4"}});
    CHECK(config.KeysWithPrefix("map.") == std::vector<std::string>{"map.a", "map.b"});
    CHECK(config.KeysWithPrefix("map").size() == 3);
    CHECK(config.KeysWithPrefix("zz").empty());
  }

  TEST_CASE("plugin_config: HttpTransportOptionsFromConfig reads every key") {
    testing::TempDir dir;
    std::string ca = dir.File("ca.pem");
    testing::WriteFile(ca, "not checked here");
    PluginConfig config({{"api_url", "https://crm.example.com/api"},
                         {"timeout_ms", "2500"},
                         {"connect_timeout_ms", "700"},
                         {"allow_insecure_http", "yes"},
                         {"ca_file", ca},
                         {"max_idle_connections", "3"}});
    HttpTransportOptions options;
    options.default_headers = {{"X-API-Key", "k"}};
    Status s = HttpTransportOptionsFromConfig(config, &options);
    REQUIRE(s.ok());
    CHECK(options.base_url == "https://crm.example.com/api");
    CHECK(options.timeout_ms == 2500);
    CHECK(options.connect_timeout_ms == 700);
    CHECK(options.allow_insecure_http);
    CHECK(options.ca_file == ca);
    CHECK(options.max_idle_connections == 3);
    CHECK(options.default_headers.size() == 1);  // left alone
  }

  TEST_CASE("plugin_config: defaults stay when optional keys are absent") {
    HttpTransportOptions options;
    REQUIRE(HttpTransportOptionsFromConfig(
                PluginConfig(std::map<std::string, std::string>{{"api_url", "http://127.0.0.1:9"}}),
                &options)
                .ok());
    HttpTransportOptions defaults;
    CHECK(options.timeout_ms == defaults.timeout_ms);
    CHECK(options.connect_timeout_ms == defaults.connect_timeout_ms);
    CHECK(options.allow_insecure_http == defaults.allow_insecure_http);
    CHECK(options.ca_file.empty());
    CHECK(options.max_idle_connections == defaults.max_idle_connections);
  }

  TEST_CASE("plugin_config: each bad key is named in the error") {
    struct Case {
      std::map<std::string, std::string> values;
      const char* key;
    };
    const Case cases[] = {
        {{}, "api_url"},
        {{{"api_url", ""}}, "api_url"},
        {{{"api_url", "ftp://crm.example.com"}}, "api_url"},
        {{{"api_url", "https://x.example"}, {"timeout_ms", "0"}}, "timeout_ms"},
        {{{"api_url", "https://x.example"}, {"timeout_ms", "-5"}}, "timeout_ms"},
        {{{"api_url", "https://x.example"}, {"timeout_ms", "30s"}}, "timeout_ms"},
        {{{"api_url", "https://x.example"}, {"connect_timeout_ms", "abc"}}, "connect_timeout_ms"},
        {{{"api_url", "https://x.example"}, {"allow_insecure_http", "perhaps"}},
         "allow_insecure_http"},
        {{{"api_url", "https://x.example"}, {"ca_file", "/nonexistent/ca.pem"}}, "ca_file"},
        {{{"api_url", "https://x.example"}, {"max_idle_connections", "-1"}},
         "max_idle_connections"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.key);
      HttpTransportOptions options;
      Status s = HttpTransportOptionsFromConfig(PluginConfig(c.values), &options);
      CHECK(s.code() == StatusCode::kInvalidConfig);
      CHECK(StartsWith(s.message(), std::string(c.key) + ":"));
    }
  }
}

}  // namespace
}  // namespace crmsync
