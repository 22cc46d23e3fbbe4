// config_test.cpp: the configuration schema and the layered loader
// (defaults < properties file < environment < --set), secrets, diagnostics and
// the config a plugin receives.
//
// Tests that depend on the current folder (the default config file, relative
// paths) switch into a temporary folder for the duration of the load; doctest
// runs cases one at a time, so this is safe.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>

#include "config/schema.h"
#include "config/settings.h"
#include "test_support.h"

namespace crmsync::config {
namespace {

using crmsync::testing::TempDir;
using crmsync::testing::WriteFile;

// Changes the current folder for its lifetime.
class ScopedChdir {
 public:
  explicit ScopedChdir(const std::string& dir) {
    char buffer[4096] = {};
    if (getcwd(buffer, sizeof(buffer)) != nullptr) old_dir_ = buffer;
    REQUIRE(chdir(dir.c_str()) == 0);
  }
  ~ScopedChdir() {
    if (!old_dir_.empty() && chdir(old_dir_.c_str()) != 0) std::abort();
  }
  ScopedChdir(const ScopedChdir&) = delete;
  ScopedChdir& operator=(const ScopedChdir&) = delete;

 private:
  std::string old_dir_;
};

// Loads `options` with the current folder set to `cwd`.
Settings LoadIn(const std::string& cwd, const LoadOptions& options,
                std::vector<Diagnostic>* diagnostics) {
  ScopedChdir in(cwd);
  return Settings::Load(options, diagnostics);
}

std::vector<std::string> Messages(const std::vector<Diagnostic>& diagnostics,
                                  Diagnostic::Level level) {
  std::vector<std::string> messages;
  for (const Diagnostic& d : diagnostics) {
    if (d.level == level) messages.push_back(d.message);
  }
  return messages;
}

std::vector<std::string> Errors(const std::vector<Diagnostic>& diagnostics) {
  return Messages(diagnostics, Diagnostic::Level::kError);
}

std::vector<std::string> Warnings(const std::vector<Diagnostic>& diagnostics) {
  return Messages(diagnostics, Diagnostic::Level::kWarning);
}

bool AnyContains(const std::vector<std::string>& messages, const std::string& needle) {
  return std::any_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return m.find(needle) != std::string::npos; });
}

bool AnyDiagnosticContains(const std::vector<Diagnostic>& diagnostics, const std::string& needle) {
  return std::any_of(diagnostics.begin(), diagnostics.end(), [&](const Diagnostic& d) {
    return d.message.find(needle) != std::string::npos || d.key.find(needle) != std::string::npos;
  });
}

std::string Dump(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) {
    text += (d.level == Diagnostic::Level::kError ? "error: " : "warning: ") + d.message + "\n";
  }
  return text;
}

TEST_SUITE("engine.config") {
  TEST_CASE("schema table is sorted and unique and documented and self-consistent") {
    const std::vector<KeySpec>& schema = Schema();
    REQUIRE(schema.size() >= 29);
    std::set<std::string> keys;
    std::set<std::string> env_names;
    for (size_t i = 0; i < schema.size(); ++i) {
      const KeySpec& spec = schema[i];
      CAPTURE(spec.key);
      if (i > 0) CHECK(schema[i - 1].key < spec.key);
      CHECK(keys.insert(spec.key).second);
      CHECK_FALSE(spec.help.empty());
      CHECK(spec.help.find('\n') == std::string::npos);
      CHECK(FindKey(spec.key) == &spec);
      std::string normalized;
      CHECK(CheckValue(spec, spec.default_value, &normalized));
      CHECK(normalized == spec.default_value);
      if (spec.type == ValueType::kInt) CHECK(spec.min <= spec.max);
      if (spec.type == ValueType::kEnum) CHECK_FALSE(spec.choices.empty());
      if (!spec.env.empty()) env_names.insert(spec.env);
      if (spec.secret) CHECK(spec.default_value.empty());
    }
    for (const char* key : {"admin.token", "intake.token", "webhook.secrets", "crm.api.key",
                            "crm.api.secret", "crm.webhook.secret"}) {
      CAPTURE(key);
      REQUIRE(FindKey(key) != nullptr);
      CHECK(FindKey(key)->secret);
    }
    CHECK_FALSE(FindKey("crm.api.url")->secret);
    CHECK(env_names == std::set<std::string>{"CRM_ENABLED", "CRM_API_URL", "CRM_API_KEY",
                                             "CRM_API_SECRET", "CRM_WEBHOOK_URL",
                                             "CRM_WEBHOOK_SECRET", "CRM_TIMEOUT",
                                             "CRM_RETRY_ATTEMPTS", "CRM_RETRY_DELAY"});
    CHECK(FindKey("nope") == nullptr);
    CHECK(FindKey("server") == nullptr);
    CHECK(FindKey("server.port")->max == 65535);
    CHECK(FindKey("store.synchronous")->choices == "OFF,NORMAL,FULL,EXTRA");
    CHECK(FindKey("crm.api.key")->env == "CRM_API_KEY");
    CHECK(FindKey("webhook.secrets")->type == ValueType::kList);
  }

  TEST_CASE("generic environment names") {
    CHECK(GenericEnvName("server.port") == "CRMSYNC_SERVER_PORT");
    CHECK(GenericEnvName("crm.api.key") == "CRMSYNC_CRM_API_KEY");
    CHECK(GenericEnvName("server.max_body_bytes") == "CRMSYNC_SERVER_MAX_BODY_BYTES");
    CHECK(GenericEnvName("crm.mock-crm.x") == "CRMSYNC_CRM_MOCK_CRM_X");
  }

  TEST_CASE("value parsing and normalising") {
    bool flag = false;
    for (const char* yes : {"true", "TRUE", "yes", "1", "on", " On "}) {
      CAPTURE(yes);
      flag = false;
      CHECK(ParseBool(yes, &flag));
      CHECK(flag);
    }
    for (const char* no : {"false", "no", "0", "off", "False"}) {
      CAPTURE(no);
      flag = true;
      CHECK(ParseBool(no, &flag));
      CHECK_FALSE(flag);
    }
    flag = true;
    CHECK_FALSE(ParseBool("maybe", &flag));
    CHECK_FALSE(ParseBool("", &flag));
    CHECK(flag);

    int64_t number = 7;
    CHECK(ParseInt(" 42 ", &number));
    CHECK(number == 42);
    CHECK(ParseInt("-5", &number));
    CHECK(number == -5);
    CHECK(ParseInt("+0080", &number));
    CHECK(number == 80);
    number = 7;
    for (const char* bad : {"", "abc", "12abc", "1.5", "-", "+", "1 2", "99999999999999999999"}) {
      CAPTURE(bad);
      CHECK_FALSE(ParseInt(bad, &number));
    }
    CHECK(number == 7);

    std::string normalized;
    CHECK(CheckValue(*FindKey("crm.enabled"), "YES", &normalized));
    CHECK(normalized == "true");
    CHECK(CheckValue(*FindKey("server.port"), " 0080", &normalized));
    CHECK(normalized == "80");
    CHECK_FALSE(CheckValue(*FindKey("server.port"), "0", &normalized));
    CHECK_FALSE(CheckValue(*FindKey("server.port"), "65536", &normalized));
    CHECK(CheckValue(*FindKey("server.port"), "65535", &normalized));
    CHECK(CheckValue(*FindKey("store.synchronous"), "EXTRA", &normalized));
    CHECK_FALSE(CheckValue(*FindKey("store.synchronous"), "full", &normalized));
    CHECK_FALSE(CheckValue(*FindKey("store.synchronous"), "FUL", &normalized));
    CHECK_FALSE(CheckValue(*FindKey("store.synchronous"), "", &normalized));
    CHECK(CheckValue(*FindKey("crm.api.url"), " anything ", &normalized));
    CHECK(normalized == " anything ");

    CHECK(ExpectedText(*FindKey("server.port")) == "a whole number from 1 to 65535");
    CHECK(ExpectedText(*FindKey("crm.enabled")) == "true or false");
    CHECK(ExpectedText(*FindKey("store.synchronous")) == "one of OFF, NORMAL, FULL, EXTRA");
  }

  TEST_CASE("an invalid secret value is never quoted in its message") {
    KeySpec spec;
    spec.key = "x.secret_number";
    spec.type = ValueType::kInt;
    spec.min = 1;
    spec.max = 9;
    spec.secret = true;
    std::string normalized;
    REQUIRE_FALSE(CheckValue(spec, "hunter2", &normalized));
    const std::string message = InvalidValueMessage(spec, "hunter2", "env X");
    CHECK(message.find("hunter2") == std::string::npos);
    CHECK(message ==
          "x.secret_number: expected a whole number from 1 to 9, got a value that is not valid "
          "(secret, not shown) (from env X)");
    spec.secret = false;
    CHECK(InvalidValueMessage(spec, "hunter2", "env X") ==
          "x.secret_number: expected a whole number from 1 to 9, got 'hunter2' (from env X)");
  }

  TEST_CASE("plugin keys that look secret") {
    CHECK(LooksSecret("crm.generic-rest-crm.auth_token"));
    CHECK(LooksSecret("crm.x.client_secret"));
    CHECK(LooksSecret("crm.x.Password"));
    CHECK(LooksSecret("crm.x.api_key"));
    CHECK_FALSE(LooksSecret("crm.x.latency_ms"));
    CHECK_FALSE(LooksSecret("crm.x.primary_key_field"));
  }

  TEST_CASE("default settings hold the schema defaults") {
    Settings settings;
    for (const KeySpec& spec : Schema()) {
      CAPTURE(spec.key);
      const SettingValue* value = settings.Find(spec.key);
      REQUIRE(value != nullptr);
      CHECK(value->value == spec.default_value);
      CHECK(value->source == "default");
      CHECK_FALSE(settings.IsSet(spec.key));
    }
    CHECK(settings.GetInt("server.port") == 8080);
    CHECK(settings.GetInt("server.threads") == 16);
    CHECK(settings.GetInt("server.queue") == 1024);
    CHECK(settings.GetInt("server.max_body_bytes") == 1048576);
    CHECK(settings.GetString("server.host") == "127.0.0.1");
    CHECK(settings.GetString("store.path") == "var/crmsync.db");
    CHECK(settings.GetString("store.synchronous") == "FULL");
    CHECK(settings.GetString("plugins.dir") == "");
    CHECK(settings.GetBool("crm.enabled"));
    CHECK(settings.GetString("crm.plugin") == "mock-crm");
    CHECK(settings.GetInt("crm.timeout") == 30000);
    CHECK(settings.GetInt("crm.retry.attempts") == 5);
    CHECK(settings.GetInt("crm.retry.delay") == 1000);
    CHECK_FALSE(settings.GetBool("crm.retry.jitter"));
    CHECK_FALSE(settings.GetBool("crm.allow_insecure_http"));
    CHECK(settings.GetInt("workers.count") == 64);
    CHECK(settings.GetInt("shutdown.deadline_ms") == 10000);
    CHECK(settings.GetString("log.level") == "information");
    CHECK(settings.GetString("log.format") == "json");
    CHECK(settings.GetList("webhook.secrets").empty());
    CHECK(settings.Find("no.such.key") == nullptr);
    CHECK_FALSE(settings.IsSet("no.such.key"));
    CHECK_FALSE(settings.config_dir().empty());
    CHECK(settings.config_file().empty());
  }

  TEST_CASE("getters throw std::logic_error for unknown keys and wrong types") {
    Settings settings;
    CHECK_THROWS_AS(settings.GetString("no.such.key"), std::logic_error);
    CHECK_THROWS_AS(settings.GetInt("no.such.key"), std::logic_error);
    CHECK_THROWS_AS(settings.GetBool("no.such.key"), std::logic_error);
    CHECK_THROWS_AS(settings.GetList("no.such.key"), std::logic_error);
    CHECK_THROWS_AS(settings.GetInt("server.host"), std::logic_error);
    CHECK_THROWS_AS(settings.GetInt("crm.enabled"), std::logic_error);
    CHECK_THROWS_AS(settings.GetBool("server.port"), std::logic_error);
    CHECK_THROWS_AS(settings.GetList("server.host"), std::logic_error);
    try {
      settings.GetInt("no.such.key");
      FAIL("no exception");
    } catch (const std::logic_error& e) {
      CHECK(std::string(e.what()).find("no.such.key") != std::string::npos);
    }
  }

  TEST_CASE("each layer overrides the previous one and records its source") {
    TempDir dir;
    const std::string file = dir.File("crmsync.properties");
    WriteFile(file,
              "# a comment\n"
              "\n"
              "server.port = 9001\n"
              "server.threads = 8\n"
              "workers.count = 2\n"
              "log.level=debug\n");
    LoadOptions options;
    options.config_file = file;
    options.environment = {
        {"CRMSYNC_SERVER_THREADS", "9"}, {"CRMSYNC_WORKERS_COUNT", "3"}, {"PATH", "/bin"}};
    options.overrides = {"workers.count=5"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());

    CHECK(settings.config_file() == file);
    CHECK(settings.config_dir() == dir.path());

    CHECK(settings.GetString("server.host") == "127.0.0.1");
    CHECK(settings.Find("server.host")->source == "default");
    CHECK_FALSE(settings.IsSet("server.host"));

    CHECK(settings.GetInt("server.port") == 9001);
    CHECK(settings.Find("server.port")->source == "file " + file);
    CHECK(settings.GetString("log.level") == "debug");
    CHECK(settings.IsSet("server.port"));

    CHECK(settings.GetInt("server.threads") == 9);
    CHECK(settings.Find("server.threads")->source == "env CRMSYNC_SERVER_THREADS");

    CHECK(settings.GetInt("workers.count") == 5);
    CHECK(settings.Find("workers.count")->source == "--set");
    CHECK(settings.IsSet("workers.count"));
  }

  TEST_CASE("later --set arguments win over earlier ones and values are trimmed") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"server.port=1000", " server.port = 2000 ", "crm.api.url=http://x/?a=b"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetInt("server.port") == 2000);
    CHECK(settings.GetString("crm.api.url") == "http://x/?a=b");
  }

  TEST_CASE("strategy CRM_ environment names are honoured exactly as written") {
    TempDir dir;
    LoadOptions options;
    options.environment = {
        {"CRM_ENABLED", "false"},
        {"CRM_API_URL", "https://crm.example.com/api"},
        {"CRM_API_KEY", "key-123"},
        {"CRM_API_SECRET", "secret-456"},
        {"CRM_WEBHOOK_URL", "https://me.example.com/webhooks/crm"},
        {"CRM_WEBHOOK_SECRET", "whsec_abc"},
        {"CRM_TIMEOUT", "1500"},
        {"CRM_RETRY_ATTEMPTS", "7"},
        {"CRM_RETRY_DELAY", "250"},
    };
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    CHECK_FALSE(settings.GetBool("crm.enabled"));
    CHECK(settings.GetString("crm.api.url") == "https://crm.example.com/api");
    CHECK(settings.GetString("crm.api.key") == "key-123");
    CHECK(settings.GetString("crm.api.secret") == "secret-456");
    CHECK(settings.GetString("crm.webhook.url") == "https://me.example.com/webhooks/crm");
    CHECK(settings.GetString("crm.webhook.secret") == "whsec_abc");
    CHECK(settings.GetInt("crm.timeout") == 1500);
    CHECK(settings.GetInt("crm.retry.attempts") == 7);
    CHECK(settings.GetInt("crm.retry.delay") == 250);
    for (const auto& [name, value] : options.environment) {
      bool found = false;
      for (const KeySpec& spec : Schema()) {
        if (spec.env != name) continue;
        found = true;
        CHECK(settings.Find(spec.key)->source == "env " + name);
      }
      CHECK(found);
    }
  }

  TEST_CASE("a file value is overridden by a strategy environment name") {
    TempDir dir;
    WriteFile(dir.File("c.properties"), "crm.timeout = 100\n");
    LoadOptions options;
    options.config_file = dir.File("c.properties");
    options.environment = {{"CRM_TIMEOUT", "200"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetInt("crm.timeout") == 200);
    CHECK(settings.Find("crm.timeout")->source == "env CRM_TIMEOUT");
  }

  TEST_CASE("the generic CRMSYNC_ name wins over the strategy name when both are set") {
    TempDir dir;
    LoadOptions options;
    options.environment = {{"CRM_API_URL", "https://strategy"},
                           {"CRMSYNC_CRM_API_URL", "https://generic"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetString("crm.api.url") == "https://generic");
    CHECK(settings.Find("crm.api.url")->source == "env CRMSYNC_CRM_API_URL");
  }

  TEST_CASE("every key can be set by its generic CRMSYNC_ name") {
    TempDir dir;
    LoadOptions options;
    for (const KeySpec& spec : Schema()) {
      std::string value = spec.default_value;
      if (spec.type == ValueType::kString || spec.type == ValueType::kList) value = "v-" + spec.key;
      if (spec.type == ValueType::kInt) value = std::to_string(spec.max);
      options.environment[GenericEnvName(spec.key)] = value;
    }
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    for (const KeySpec& spec : Schema()) {
      CAPTURE(spec.key);
      CHECK(settings.Find(spec.key)->source == "env " + GenericEnvName(spec.key));
      CHECK(settings.Find(spec.key)->value == options.environment[GenericEnvName(spec.key)]);
    }
    CHECK(settings.GetInt("server.port") == 65535);
  }

  TEST_CASE("a value of the wrong type names the key and the source and what was expected") {
    TempDir dir;
    LoadOptions options;
    options.environment = {{"CRMSYNC_SERVER_PORT", "abc"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].level == Diagnostic::Level::kError);
    CHECK(diagnostics[0].key == "server.port");
    CHECK(diagnostics[0].message ==
          "server.port: expected a whole number from 1 to 65535, got 'abc' (from env "
          "CRMSYNC_SERVER_PORT)");
    // The key in error keeps its default.
    CHECK(settings.GetInt("server.port") == 8080);
    CHECK(settings.Find("server.port")->source == "default");
  }

  TEST_CASE("a value out of range is an error from the file and from a strategy name") {
    TempDir dir;
    const std::string file = dir.File("c.properties");
    WriteFile(file, "workers.count = 0\nshutdown.deadline_ms = 0\n");
    LoadOptions options;
    options.config_file = file;
    options.environment = {{"CRM_RETRY_ATTEMPTS", "101"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> errors = Errors(diagnostics);
    INFO(Dump(diagnostics));
    REQUIRE(errors.size() == 2);
    CHECK(AnyContains(errors,
                      "workers.count: expected a whole number from 1 to 256, got '0' (from "
                      "file " +
                          file + ")"));
    CHECK(AnyContains(errors,
                      "crm.retry.attempts: expected a whole number from 0 to 100, got '101' "
                      "(from env CRM_RETRY_ATTEMPTS)"));
    CHECK(settings.GetInt("shutdown.deadline_ms") == 0);  // 0 is in range there.
    CHECK(settings.GetInt("workers.count") == 64);
  }

  TEST_CASE("a duration takes a unit, is stored in its largest exact unit and read in ms") {
    int64_t ms = 0;
    CHECK(ParseDurationMs("24h", &ms));
    CHECK(ms == 86400000);
    CHECK(ParseDurationMs(" 90 s ", &ms));
    CHECK(ms == 90000);
    CHECK(ParseDurationMs("1500ms", &ms));
    CHECK(ms == 1500);
    CHECK(ParseDurationMs("2d", &ms));
    CHECK(ms == 172800000);
    ms = 7;
    for (const char* bad : {"", "24", "h", "-1h", "1.5h", "1 hour", "1h30m", "99999999999999999d"}) {
      CAPTURE(bad);
      CHECK_FALSE(ParseDurationMs(bad, &ms));
      CHECK(ms == 7);
    }
    CHECK(FormatDurationMs(86400000) == "24h");
    CHECK(FormatDurationMs(90000) == "90s");
    CHECK(FormatDurationMs(1500) == "1500ms");
    CHECK(FormatDurationMs(0) == "0ms");

    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.retry.max_outage=90m"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetDurationMs("crm.retry.max_outage") == 5400000);
    CHECK(settings.GetString("crm.retry.max_outage") == "90m");
    CHECK(Settings().GetDurationMs("crm.retry.max_outage") == 86400000);
    CHECK_THROWS_AS(settings.GetInt("crm.retry.max_outage"), std::logic_error);
  }

  TEST_CASE("a duration without a unit or out of range names the key and what was expected") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.retry.max_outage=24"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message ==
          "crm.retry.max_outage: expected a duration such as 90s, 30m or 24h (units ms, s, m, h, "
          "d), from 1s to 8760h, got '24' (from --set)");
    options.overrides = {"crm.retry.max_outage=500ms"};
    diagnostics.clear();
    LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(AnyDiagnosticContains(diagnostics, "got '500ms'"));
    CHECK(settings.GetDurationMs("crm.retry.max_outage") == 86400000);
  }

  TEST_CASE("a bad bool is an error") {
    TempDir dir;
    LoadOptions options;
    options.environment = {{"CRM_ENABLED", "sometimes"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].key == "crm.enabled");
    CHECK(diagnostics[0].message ==
          "crm.enabled: expected true or false, got 'sometimes' (from env CRM_ENABLED)");
    CHECK(settings.GetBool("crm.enabled"));
  }

  TEST_CASE("a bool given as yes/no/on/off/1/0 is stored as true or false") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.retry.jitter=yes", "crm.allow_insecure_http=ON", "crm.enabled=0"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetString("crm.retry.jitter") == "true");
    CHECK(settings.GetString("crm.allow_insecure_http") == "true");
    CHECK(settings.GetString("crm.enabled") == "false");
    CHECK_FALSE(settings.GetBool("crm.enabled"));
  }

  TEST_CASE("a value outside an enum lists the choices") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"store.synchronous=SOMETIMES", "log.format=xml", "log.level=warning"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> errors = Errors(diagnostics);
    REQUIRE(errors.size() == 2);
    CHECK(AnyContains(errors,
                      "store.synchronous: expected one of OFF, NORMAL, FULL, EXTRA, got "
                      "'SOMETIMES' (from --set)"));
    CHECK(AnyContains(errors, "log.format: expected one of json, text, got 'xml' (from --set)"));
    CHECK(settings.GetString("store.synchronous") == "FULL");
    CHECK(settings.GetString("log.level") == "warning");
  }

  TEST_CASE("a broken value in an earlier layer is an error even when a later layer replaces it") {
    TempDir dir;
    WriteFile(dir.File("c.properties"), "server.port = eighty\n");
    LoadOptions options;
    options.config_file = dir.File("c.properties");
    options.overrides = {"server.port=81"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(Errors(diagnostics).size() == 1);
    CHECK(AnyContains(Errors(diagnostics),
                      "server.port: expected a whole number from 1 to 65535, "
                      "got 'eighty' (from file " +
                          dir.File("c.properties")));
    CHECK(settings.GetInt("server.port") == 8080);  // Keys in error hold their defaults.
  }

  TEST_CASE("an unknown key is a warning naming it and its source and is ignored") {
    TempDir dir;
    const std::string file = dir.File("crmsync.properties");
    WriteFile(file, "foo.bar = 1\nserver.port = 9000\n");
    LoadOptions options;
    options.config_file = file;
    options.overrides = {"sever.port=1"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(Errors(diagnostics).empty());
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].level == Diagnostic::Level::kWarning);
    CHECK(diagnostics[0].key == "foo.bar");
    CHECK(diagnostics[0].message ==
          "unknown key 'foo.bar' (from file " + file + "); it is ignored");
    CHECK(diagnostics[1].message ==
          "unknown key 'sever.port' (from --set); it is ignored; did you mean 'server.port'?");
    CHECK(settings.Find("foo.bar") == nullptr);
    CHECK(settings.GetInt("server.port") == 9000);
  }

  TEST_CASE("unknown CRMSYNC_ and CRM_ environment variables warn and others are not read") {
    TempDir dir;
    LoadOptions options;
    options.environment = {{"CRMSYNC_SERVER_PROT", "1"},
                           {"CRM_API_TOKEN", "t"},
                           {"CRM_API_URL_FILE", "/x"},
                           {"HOME", "/root"},
                           {"SERVER_PORT", "1"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> warnings = Warnings(diagnostics);
    INFO(Dump(diagnostics));
    CHECK(Errors(diagnostics).empty());
    REQUIRE(warnings.size() == 3);
    CHECK(AnyContains(warnings, "unknown environment variable 'CRMSYNC_SERVER_PROT'; it is "
                                "ignored; did you mean 'CRMSYNC_SERVER_PORT'?"));
    CHECK(AnyContains(warnings, "unknown environment variable 'CRM_API_TOKEN'"));
    // _FILE forms exist for secrets only.
    CHECK(AnyContains(warnings, "unknown environment variable 'CRM_API_URL_FILE'"));
    CHECK(settings.GetInt("server.port") == 8080);
  }

  TEST_CASE("keys of the chosen plugin are kept and handed to it without warnings") {
    TempDir dir;
    const std::string file = dir.File("c.properties");
    WriteFile(file, "crm.mock-crm.latency_ms = 5\ncrm.mock-crm.fault.create = 503\n");
    LoadOptions options;
    options.config_file = file;
    options.overrides = {"crm.mock-crm.latency_ms=7"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    REQUIRE(settings.Find("crm.mock-crm.latency_ms") != nullptr);
    CHECK(settings.Find("crm.mock-crm.latency_ms")->value == "7");
    CHECK(settings.Find("crm.mock-crm.latency_ms")->source == "--set");
    CHECK(settings.Find("crm.mock-crm.fault.create")->source == "file " + file);
    CHECK(settings.IsSet("crm.mock-crm.latency_ms"));

    PluginConfig config = settings.PluginConfigFor("mock-crm");
    CHECK(config.Get("latency_ms") == "7");
    CHECK(config.Get("fault.create") == "503");

    bool listed = false;
    for (const auto& [key, value] : settings.Effective(false)) {
      if (key == "crm.mock-crm.latency_ms") listed = value.value == "7";
    }
    CHECK(listed);
  }

  TEST_CASE("keys for another plugin warn and the chosen plugin may come from any layer") {
    TempDir dir;
    const std::string file = dir.File("c.properties");
    WriteFile(file,
              "crm.plugin = mock-crm\n"
              "crm.generic-rest-crm.auth_header = X-Key\n"
              "crm.mock-crm.latency_ms = 5\n");
    LoadOptions options;
    options.config_file = file;
    options.overrides = {"crm.plugin=generic-rest-crm"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(Errors(diagnostics).empty());
    const std::vector<std::string> warnings = Warnings(diagnostics);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] ==
          "unknown key 'crm.mock-crm.latency_ms' (from file " + file + "); it is ignored");
    CHECK(settings.Find("crm.generic-rest-crm.auth_header")->value == "X-Key");
    CHECK(settings.PluginConfigFor("generic-rest-crm").Get("auth_header") == "X-Key");
    CHECK_FALSE(settings.PluginConfigFor("generic-rest-crm").Has("latency_ms"));
  }

  TEST_CASE("a key named only by the plugin prefix is unknown") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.mock-crm.=1", "crm.mock-crm=1"};
    std::vector<Diagnostic> diagnostics;
    LoadIn(dir.path(), options, &diagnostics);
    CHECK(Warnings(diagnostics).size() == 2);
  }

  TEST_CASE("a secret may come from a file named in the properties file") {
    TempDir dir;
    WriteFile(dir.File("api_key"), "file-key-789\n\n");
    WriteFile(dir.File("c.properties"), "crm.api.key.file = api_key\n");
    LoadOptions options;
    options.config_file = dir.File("c.properties");
    std::vector<Diagnostic> diagnostics;
    TempDir elsewhere;  // Relative secret paths in the file are read against its folder.
    Settings settings = LoadIn(elsewhere.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    CHECK(settings.GetString("crm.api.key") == "file-key-789");
    CHECK(settings.Find("crm.api.key")->source == "file " + dir.File("api_key") + " (secret file)");
    CHECK(settings.Find("crm.api.key.file") == nullptr);
  }

  TEST_CASE("a secret may come from a file named in the environment or by --set") {
    TempDir dir;
    WriteFile(dir.File("webhook"), "whsec_fromfile\r\n");
    WriteFile(dir.File("admin"), "admin-secret");
    WriteFile(dir.File("intake"), "intake-secret\n");
    WriteFile(dir.File("extra"), "whsec_a, whsec_b\n");
    LoadOptions options;
    options.environment = {{"CRM_WEBHOOK_SECRET_FILE", dir.File("webhook")},
                           {"CRMSYNC_ADMIN_TOKEN_FILE", "admin"},  // Relative: current folder.
                           {"CRMSYNC_WEBHOOK_SECRETS_FILE", dir.File("extra")}};
    options.overrides = {"intake.token.file=" + dir.File("intake")};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    CHECK(settings.GetString("crm.webhook.secret") == "whsec_fromfile");
    CHECK(settings.Find("crm.webhook.secret")->source ==
          "file " + dir.File("webhook") + " (secret file)");
    CHECK(settings.GetString("admin.token") == "admin-secret");
    CHECK(settings.Find("admin.token")->source == "file " + dir.File("admin") + " (secret file)");
    CHECK(settings.GetString("intake.token") == "intake-secret");
    CHECK(settings.GetList("webhook.secrets") == std::vector<std::string>{"whsec_a", "whsec_b"});
  }

  TEST_CASE("a secret file given later wins over a plain value given earlier and vice versa") {
    TempDir dir;
    WriteFile(dir.File("key"), "from-file");
    LoadOptions options;
    options.environment = {{"CRM_API_KEY", "from-env"}, {"CRM_API_KEY_FILE", dir.File("key")}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(settings.GetString("crm.api.key") == "from-file");  // <ENV>_FILE is read after <ENV>.

    options.overrides = {"crm.api.key=from-set"};
    settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(settings.GetString("crm.api.key") == "from-set");
    CHECK(diagnostics.empty());
  }

  TEST_CASE("an unreadable secret file is an error naming the key and the path") {
    TempDir dir;
    const std::string missing = dir.File("missing");
    LoadOptions options;
    options.environment = {{"CRM_API_SECRET_FILE", missing}};
    options.overrides = {"admin.token.file=" + dir.path()};  // A folder cannot be read.
    WriteFile(dir.File("c.properties"), "intake.token.file = nothere\n");
    options.config_file = dir.File("c.properties");
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> errors = Errors(diagnostics);
    INFO(Dump(diagnostics));
    REQUIRE(errors.size() == 3);
    CHECK(AnyContains(errors, "crm.api.secret: cannot read secret file '" + missing +
                                  "' (from env CRM_API_SECRET_FILE)"));
    CHECK(AnyContains(errors,
                      "admin.token: cannot read secret file '" + dir.path() + "' (from --set)"));
    CHECK(AnyContains(errors, "intake.token: cannot read secret file '" + dir.File("nothere") +
                                  "' (from file " + dir.File("c.properties") + ")"));
    CHECK(settings.GetString("crm.api.secret").empty());
    CHECK_FALSE(settings.IsSet("crm.api.secret"));
  }

  TEST_CASE(".file is only for secrets") {
    TempDir dir;
    WriteFile(dir.File("url"), "https://x");
    LoadOptions options;
    options.overrides = {"crm.api.url.file=" + dir.File("url")};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(Warnings(diagnostics).size() == 1);
    CHECK(Warnings(diagnostics)[0] == "unknown key 'crm.api.url.file' (from --set); it is ignored");
    CHECK(settings.GetString("crm.api.url").empty());
  }

  TEST_CASE("secrets are redacted in Effective and never appear in messages") {
    TempDir dir;
    WriteFile(dir.File("token"), "TOPSECRET-file\n");
    const std::string file = dir.File("c.properties");
    WriteFile(file,
              "crm.api.secret = TOPSECRET-api\n"
              "crm.mock-crm.auth_token = TOPSECRET-plugin\n"
              "crm.mock-crm.latency_ms = 5\n"
              "admin.token.file = token\n"
              "bogus.secret = TOPSECRET-unknown\n"
              "server.port = nope\n");
    LoadOptions options;
    options.config_file = file;
    options.environment = {{"CRM_API_KEY", "TOPSECRET-key"},
                           {"CRMSYNC_WEBHOOK_SECRETS", "TOPSECRET-1,TOPSECRET-2"},
                           {"CRMSYNC_UNKNOWN_THING", "TOPSECRET-env"}};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(Errors(diagnostics).size() == 1);  // server.port only.
    CHECK(Warnings(diagnostics).size() == 2);
    CHECK_FALSE(AnyDiagnosticContains(diagnostics, "TOPSECRET"));

    std::map<std::string, SettingValue> redacted;
    for (const auto& [key, value] : settings.Effective(true)) redacted[key] = value;
    for (const KeySpec& spec : Schema()) CHECK(redacted.count(spec.key) == 1);
    CHECK(redacted["crm.api.secret"].value == "<redacted>");
    CHECK(redacted["crm.api.secret"].source == "file " + file);
    CHECK(redacted["crm.api.key"].value == "<redacted>");
    CHECK(redacted["admin.token"].value == "<redacted>");
    CHECK(redacted["webhook.secrets"].value == "<redacted>");
    CHECK(redacted["crm.mock-crm.auth_token"].value == "<redacted>");
    CHECK(redacted["crm.mock-crm.latency_ms"].value == "5");
    CHECK(redacted["intake.token"].value == "");  // Unset.
    CHECK(redacted["crm.webhook.secret"].value == "");
    CHECK(redacted["server.host"].value == "127.0.0.1");
    for (const auto& [key, value] : redacted) {
      CAPTURE(key);
      CHECK(value.value.find("TOPSECRET") == std::string::npos);
    }

    std::map<std::string, SettingValue> plain;
    for (const auto& [key, value] : settings.Effective(false)) plain[key] = value;
    CHECK(plain["crm.api.secret"].value == "TOPSECRET-api");
    CHECK(plain["admin.token"].value == "TOPSECRET-file");
    CHECK(plain.size() == redacted.size());
  }

  TEST_CASE("a malformed --set is an error naming it") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"server.port", "=9000", "server.threads=4"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> errors = Errors(diagnostics);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "--set 'server.port': expected key=value");
    CHECK(errors[1] == "--set '=9000': expected key=value");
    CHECK(settings.GetInt("server.threads") == 4);
  }

  TEST_CASE("a --set with an empty value sets the empty value") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.mapping="};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.IsSet("crm.mapping"));
    CHECK(settings.GetString("crm.mapping").empty());
  }

  TEST_CASE("an explicitly named config file that does not exist is an error naming the path") {
    TempDir dir;
    LoadOptions options;
    options.config_file = dir.File("nope.properties");
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].level == Diagnostic::Level::kError);
    CHECK(diagnostics[0].message ==
          "config file '" + dir.File("nope.properties") + "' does not exist");
    CHECK(settings.config_file().empty());
  }

  TEST_CASE("a relative explicit config file is read from the current folder") {
    TempDir dir;
    WriteFile(dir.File("mine.properties"), "server.port = 7000\n");
    LoadOptions options;
    options.config_file = "mine.properties";
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetInt("server.port") == 7000);
    CHECK(settings.config_file() == dir.File("mine.properties"));
    CHECK(settings.config_dir() == dir.path());

    options.config_file = "missing.properties";
    diagnostics.clear();
    LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(Errors(diagnostics).size() == 1);
    CHECK(AnyContains(Errors(diagnostics), dir.File("missing.properties")));
  }

  TEST_CASE("a config file that cannot be read is an error naming the path") {
    TempDir dir;
    LoadOptions options;
    options.config_file = dir.path();  // A folder.
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message == "config file '" + dir.path() + "' cannot be read");
  }

  TEST_CASE("a config file line that is not key = value is an error naming the path and line") {
    TempDir dir;
    const std::string file = dir.File("c.properties");
    WriteFile(file,
              "\xEF\xBB\xBF# comment\r\n"
              "  # indented comment\n"
              "server.port = 9000\r\n"
              "just some words with a SECRET\n"
              " = 5\n"
              "crm.api.url = https://x/#frag\n");
    LoadOptions options;
    options.config_file = file;
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    const std::vector<std::string> errors = Errors(diagnostics);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "config file '" + file + "', line 4: expected 'key = value'");
    CHECK(errors[1] == "config file '" + file + "', line 5: expected 'key = value'");
    CHECK_FALSE(AnyDiagnosticContains(diagnostics, "SECRET"));
    // The good lines still count.
    CHECK(settings.GetInt("server.port") == 9000);
    CHECK(settings.GetString("crm.api.url") == "https://x/#frag");
  }

  TEST_CASE("without --config the file config/crmsync.properties under the current folder is used") {
    TempDir dir;
    REQUIRE(std::system(("mkdir -p '" + dir.File("config") + "'").c_str()) == 0);
    WriteFile(dir.File("config/crmsync.properties"), "server.port = 8181\n");
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), LoadOptions{}, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.GetInt("server.port") == 8181);
    CHECK(settings.config_file() == dir.File("config/crmsync.properties"));
    CHECK(settings.config_dir() == dir.File("config"));
    CHECK(settings.Find("server.port")->source == "file " + dir.File("config/crmsync.properties"));
  }

  TEST_CASE("without --config and without the default file only the other layers count") {
    TempDir dir;
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), LoadOptions{}, &diagnostics);
    CHECK(diagnostics.empty());
    CHECK(settings.config_file().empty());
    CHECK(settings.config_dir() == dir.path());
    CHECK(settings.GetInt("server.port") == 8080);
  }

  TEST_CASE("PluginConfigFor hands over the well-known keys with paths resolved") {
    TempDir dir;
    const std::string file = dir.File("c.properties");
    WriteFile(file,
              "crm.plugin = generic-rest-crm\n"
              "crm.mapping = mappings/hubspot.json\n"
              "crm.ca_file = certs/ca.pem\n"
              "crm.allow_insecure_http = yes\n"
              "crm.generic-rest-crm.page_size = 50\n");
    LoadOptions options;
    options.config_file = file;
    options.environment = {{"CRM_API_URL", "https://crm.example.com"},
                           {"CRM_API_KEY", "k"},
                           {"CRM_API_SECRET", "s"},
                           {"CRM_TIMEOUT", "1234"},
                           {"CRM_WEBHOOK_URL", "https://me/webhook"},
                           {"CRM_WEBHOOK_SECRET", "whsec_x"}};
    std::vector<Diagnostic> diagnostics;
    TempDir elsewhere;
    Settings settings = LoadIn(elsewhere.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(diagnostics.empty());
    PluginConfig config = settings.PluginConfigFor("generic-rest-crm");
    CHECK(config.Get("api_url") == "https://crm.example.com");
    CHECK(config.Get("api_key") == "k");
    CHECK(config.Get("api_secret") == "s");
    CHECK(config.Get("timeout_ms") == "1234");
    CHECK(config.Get("webhook_url") == "https://me/webhook");
    CHECK(config.Get("webhook_secret") == "whsec_x");
    CHECK(config.Get("webhook_secrets") == "whsec_x");
    CHECK(config.Get("mapping") == dir.File("mappings/hubspot.json"));
    CHECK(config.Get("ca_file") == dir.File("certs/ca.pem"));
    CHECK(config.Get("config_dir") == dir.path());
    CHECK(config.Get("allow_insecure_http") == "true");
    CHECK(config.Get("page_size") == "50");
    CHECK(config.values().size() == 12);
    // Not the keys of another plugin name.
    CHECK_FALSE(settings.PluginConfigFor("mock-crm").Has("page_size"));
  }

  TEST_CASE("PluginConfigFor keeps absolute paths and leaves out empty ones and lets plugin keys win") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"crm.mapping=/etc/crmsync/mapping.json", "crm.mock-crm.timeout_ms=5"};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(diagnostics.empty());
    PluginConfig config = settings.PluginConfigFor("mock-crm");
    CHECK(config.Get("mapping") == "/etc/crmsync/mapping.json");
    CHECK(config.Get("config_dir") == dir.path());  // No file: the current folder.
    CHECK(config.Get("timeout_ms") == "5");
    CHECK(config.Get("allow_insecure_http") == "false");
    for (const char* key :
         {"api_url", "api_key", "api_secret", "webhook_url", "webhook_secret", "webhook_secrets",
          "ca_file"}) {
      CAPTURE(key);
      CHECK_FALSE(config.Has(key));
    }
  }

  TEST_CASE("PluginConfigFor hands over every accepted webhook secret, newest first") {
    TempDir dir;
    LoadOptions options;
    options.environment = {{"CRM_WEBHOOK_SECRET", "secret-new"}};
    options.overrides = {"webhook.secrets=secret-old,whsec_b2xkZXI="};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    INFO(Dump(diagnostics));
    CHECK(Errors(diagnostics).empty());
    PluginConfig config = settings.PluginConfigFor("mock-crm");
    CHECK(config.Get("webhook_secret") == "secret-new");
    CHECK(config.Get("webhook_secrets") == "secret-new\nsecret-old\nwhsec_b2xkZXI=");

    // Rotation lists alone, without crm.webhook.secret.
    options.environment.clear();
    Settings rotated = LoadIn(dir.path(), options, &diagnostics);
    CHECK_FALSE(rotated.PluginConfigFor("mock-crm").Has("webhook_secret"));
    CHECK(rotated.PluginConfigFor("mock-crm").Get("webhook_secrets") ==
          "secret-old\nwhsec_b2xkZXI=");
  }

  TEST_CASE("PluginConfigFor on default settings") {
    Settings settings;
    PluginConfig config = settings.PluginConfigFor("mock-crm");
    CHECK(config.Get("timeout_ms") == "30000");
    CHECK(config.Get("allow_insecure_http") == "false");
    CHECK(config.Get("config_dir") == settings.config_dir());
    CHECK_FALSE(config.Has("mapping"));
  }

  TEST_CASE("GetList splits and trims and drops empty items") {
    TempDir dir;
    LoadOptions options;
    options.overrides = {"webhook.secrets= whsec_a ,,whsec_b , "};
    std::vector<Diagnostic> diagnostics;
    Settings settings = LoadIn(dir.path(), options, &diagnostics);
    CHECK(settings.GetList("webhook.secrets") == std::vector<std::string>{"whsec_a", "whsec_b"});
  }

  TEST_CASE("queue.backend=redis is refused without the PostgreSQL store or a Redis URL") {
    TempDir dir;
    auto errors = [&](std::vector<std::string> overrides) {
      LoadOptions options;
      options.overrides = std::move(overrides);
      std::vector<Diagnostic> diagnostics;
      LoadIn(dir.path(), options, &diagnostics);
      return Errors(diagnostics);
    };
    std::vector<std::string> sqlite = errors({"queue.backend=redis", "queue.redis_url=redis://h"});
    REQUIRE(sqlite.size() == 1u);
    CHECK(sqlite[0].find("queue.backend=redis (from --set) needs store.backend=postgres") !=
          std::string::npos);
    CHECK(sqlite[0].find("store.backend is 'sqlite' (from default)") != std::string::npos);
    std::vector<std::string> no_url =
        errors({"queue.backend=redis", "store.backend=postgres", "store.url=host=h"});
    REQUIRE(no_url.size() == 1u);
    CHECK(no_url[0].find("needs queue.redis_url") != std::string::npos);
    CHECK(errors({"queue.backend=redis", "store.backend=postgres", "store.url=host=h",
                  "queue.redis_url=redis://:pw@h:6379"})
              .empty());
    CHECK(errors({"queue.backend=store"}).empty());
  }

  TEST_CASE("ProcessEnvironment reads this process's environment") {
    REQUIRE(setenv("CRMSYNC_CONFIG_TEST_PROBE", "a=b", 1) == 0);
    std::map<std::string, std::string> environment = ProcessEnvironment();
    unsetenv("CRMSYNC_CONFIG_TEST_PROBE");
    REQUIRE(environment.count("CRMSYNC_CONFIG_TEST_PROBE") == 1);
    CHECK(environment["CRMSYNC_CONFIG_TEST_PROBE"] == "a=b");
  }

}  // TEST_SUITE

}  // namespace
}  // namespace crmsync::config
