// store_plugin_host_test.cpp: the engine's PluginHost (plugin_host/
// store_plugin_host.h) over real SQLite store files: values round trip and
// survive a restart, every bad key and a value over 64 KiB are refused naming
// the problem and never the value, a store that cannot write is kRetryable
// with its reason; the read-only host of check-config and render
// (app/plugin_hosts.h) loads but saves nothing; and a loaded plugin is
// attached to its host once, before Configure(), with a throwing Attach()
// caught (test plugins stateful_plugin and throws_in_attach).
#include <doctest/doctest.h>

#include <Poco/File.h>

#include <optional>
#include <string>
#include <vector>

#include "app/plugin_hosts.h"
#include "common/clock.h"
#include "config/settings.h"
#include "plugin_host/plugin_loader.h"
#include "plugin_host/store_plugin_host.h"
#include "store/memory_plugin_states.h"
#include "store/sqlite_db.h"
#include "store/sqlite_state_reader.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::ReadFile;
using crmsync::testing::TempDir;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::unique_ptr<SqliteStore> OpenAt(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return SqliteStore::Open(options);
}

// One row of plugin_kv read straight from the file: (value as stored, updated_ms).
std::pair<std::string, int64_t> RawRow(const std::string& path, const std::string& plugin,
                                       const std::string& key) {
  Db db(path, false, true);
  auto stmt = db.Prepare("SELECT value, updated_ms FROM plugin_kv WHERE plugin = ?1 AND key = ?2");
  stmt->Bind(1, plugin).Bind(2, key);
  REQUIRE(stmt->Step());
  return {stmt->ColumnText(0), stmt->ColumnInt(1)};
}

config::Settings SettingsWith(const std::vector<std::string>& overrides) {
  config::LoadOptions load;
  load.overrides = overrides;
  std::vector<config::Diagnostic> diagnostics;
  config::Settings settings = config::Settings::Load(load, &diagnostics);
  for (const config::Diagnostic& d : diagnostics) {
    REQUIRE_MESSAGE(d.level != config::Diagnostic::Level::kError, d.message);
  }
  return settings;
}

// A SQLite store with a host for plugin "generic-rest-crm" over it.
struct HostRig {
  TempDir dir;
  std::string path = dir.File("crmsync.db");
  std::unique_ptr<SqliteStore> store = OpenAt(path);
  ManualClock clock;
  StorePluginHost host{"generic-rest-crm", store.get(), &clock};
};

// The test plugin stateful_plugin, loaded, with a host of its own on a store.
struct StatefulRig : HostRig {
  StorePluginHost stateful{"stateful_plugin", store.get(), &clock};
  std::string error;
  std::unique_ptr<LoadedPlugin> plugin =
      LoadedPlugin::Load(CRMSYNC_TEST_PLUGIN_DIR, "stateful_plugin", &error);
  StatefulRig() { REQUIRE_MESSAGE(plugin, error); }
};

}  // namespace

TEST_SUITE("engine.plugin_host.state") {
  TEST_CASE("a saved value loads back, is replaced by the next save, and is dated by the clock") {
    HostRig rig;
    std::optional<std::string> value = "stale";
    REQUIRE(rig.host.LoadState("oauth.refresh_token", &value).ok());
    CHECK_FALSE(value.has_value());
    REQUIRE(rig.host.SaveState("oauth.refresh_token", "rt-1").ok());
    REQUIRE(rig.host.LoadState("oauth.refresh_token", &value).ok());
    CHECK(value == std::optional<std::string>("rt-1"));
    rig.clock.Advance(5000);
    REQUIRE(rig.host.SaveState("oauth.refresh_token", "rt-2").ok());
    REQUIRE(rig.host.LoadState("oauth.refresh_token", &value).ok());
    CHECK(value == std::optional<std::string>("rt-2"));
    // Kept as base64 (any bytes fit), dated by the host's clock.
    const auto [stored, updated_ms] = RawRow(rig.path, "generic-rest-crm", "oauth.refresh_token");
    CHECK(stored == "cnQtMg==");
    CHECK(updated_ms == rig.clock.NowMs());
  }

  TEST_CASE("each plugin's host sees only its own values") {
    HostRig rig;
    StorePluginHost other("mock-crm", rig.store.get(), &rig.clock);
    REQUIRE(rig.host.SaveState("token", "mine").ok());
    std::optional<std::string> value;
    REQUIRE(other.LoadState("token", &value).ok());
    CHECK_FALSE(value.has_value());
    REQUIRE(other.SaveState("token", "theirs").ok());
    REQUIRE(rig.host.LoadState("token", &value).ok());
    CHECK(value == std::optional<std::string>("mine"));
  }

  TEST_CASE("a value saved before a restart loads after it") {
    TempDir dir;
    ManualClock clock;
    {
      auto store = OpenAt(dir.File("crmsync.db"));
      StorePluginHost host("generic-rest-crm", store.get(), &clock);
      REQUIRE(host.SaveState("oauth.refresh_token", "rotated").ok());
    }
    auto store = OpenAt(dir.File("crmsync.db"));
    StorePluginHost host("generic-rest-crm", store.get(), &clock);
    std::optional<std::string> value;
    REQUIRE(host.LoadState("oauth.refresh_token", &value).ok());
    CHECK(value == std::optional<std::string>("rotated"));
  }

  TEST_CASE("keys: 1 to 128 of A-Z a-z 0-9 _ . : -, anything else refused naming the problem") {
    HostRig rig;
    const std::string every = "AZaz09_.:-";
    CHECK(rig.host.SaveState(every, "v").ok());
    CHECK(rig.host.SaveState(std::string(128, 'k'), "v").ok());
    struct Case {
      std::string key;
      std::string problem;
    };
    const std::vector<Case> cases = {
        {"", "plugin state key is empty; a key is 1 to 128 bytes"},
        {std::string(129, 'k'), "is 129 bytes long; at most 128"},
        {"refresh token",
         "plugin state key 'refresh token' has 0x20 at byte 8; only A-Z a-z 0-9 "
         "_ . : - are allowed"},
        {"a/b", "has '/' at byte 2"},
        {std::string("nul\0key", 7), "plugin state key 'nul\\x00key' has 0x00 at byte 4"},
        {"caf\xc3\xa9", "plugin state key 'caf\\xC3\\xA9' has 0xC3 at byte 4"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.problem);
      Status saved = rig.host.SaveState(c.key, "secret-value");
      CHECK(saved.code() == StatusCode::kInvalidRecord);
      CHECK_MESSAGE(Contains(saved.message(), c.problem), saved.message());
      CHECK_FALSE(Contains(saved.message(), "secret-value"));
      std::optional<std::string> value;
      Status loaded = rig.host.LoadState(c.key, &value);
      CHECK(loaded.code() == StatusCode::kInvalidRecord);
      CHECK(loaded.message() == saved.message());
    }
    CHECK(StorePluginHost::KeyProblem("oauth:zoho.refresh-token_2").empty());
  }

  TEST_CASE("a value over 64 KiB is refused naming its size, never its content") {
    HostRig rig;
    CHECK(rig.host.SaveState("big", std::string(64 * 1024, 's')).ok());
    Status s = rig.host.SaveState("big", std::string(64 * 1024 + 1, 's'));
    CHECK(s.code() == StatusCode::kInvalidRecord);
    CHECK(s.message() == "plugin state value for key 'big' is 65537 bytes; at most 65536 (64 KiB)");
    std::optional<std::string> value;
    REQUIRE(rig.host.LoadState("big", &value).ok());
    CHECK(value->size() == 64u * 1024u);  // The refused save changed nothing.
  }

  TEST_CASE("LoadState without a place for the value is refused") {
    HostRig rig;
    Status s = rig.host.LoadState("token", nullptr);
    CHECK(s.code() == StatusCode::kInvalidRecord);
    CHECK(s.message() == "LoadState of key 'token' got no place for the value");
  }

  TEST_CASE("a store that cannot write makes the save retryable with its reason, not the value") {
    HostRig rig;
    REQUIRE(rig.host.SaveState("oauth.refresh_token", "rt-old").ok());
    rig.store->committer().FailNextCommitForTesting();
    Status s = rig.host.SaveState("oauth.refresh_token", "rt-new-secret");
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK(s.message() ==
          "cannot save plugin state key 'oauth.refresh_token' of plugin 'generic-rest-crm': "
          "COMMIT failed (injected by a test)");
    std::optional<std::string> value;
    REQUIRE(rig.host.LoadState("oauth.refresh_token", &value).ok());
    CHECK(value == std::optional<std::string>("rt-old"));  // Not committed: not there.
    CHECK(rig.host.SaveState("oauth.refresh_token", "rt-new-secret").ok());
  }

  TEST_CASE("a row that is not crmsync's base64 makes the load retryable naming the row") {
    HostRig rig;
    REQUIRE(rig.host.SaveState("token", "fine").ok());
    rig.store.reset();
    {
      Db db(rig.path, false);
      db.Exec("UPDATE plugin_kv SET value = 'not base64!' WHERE key = 'token'");
    }
    rig.store = OpenAt(rig.path);
    StorePluginHost host("generic-rest-crm", rig.store.get(), &rig.clock);
    std::optional<std::string> value;
    Status s = host.LoadState("token", &value);
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK(s.message() ==
          "cannot load plugin state key 'token' of plugin 'generic-rest-crm': plugin_kv row of "
          "plugin 'generic-rest-crm', key 'token' is not base64; was it written by something "
          "else than crmsync?");
  }

  TEST_CASE("a read-only host loads the existing store and refuses every save, saying why") {
    HostRig rig;
    REQUIRE(rig.host.SaveState("counter", "7").ok());
    rig.store.reset();  // Stopped, as serve would be (or still running: reads only).
    const std::string before = ReadFile(rig.path);
    auto reader = SqlitePluginStateReader::Open(rig.path);
    StorePluginHost host = StorePluginHost::ReadOnly("generic-rest-crm", reader.get(),
                                                     "crmsync check-config does not write");
    std::optional<std::string> value;
    REQUIRE(host.LoadState("counter", &value).ok());
    CHECK(value == std::optional<std::string>("7"));
    Status s = host.SaveState("counter", "8");
    CHECK(s.code() == StatusCode::kPermanent);
    CHECK(s.message() ==
          "plugin state key 'counter' of plugin 'generic-rest-crm' was not saved: crmsync "
          "check-config does not write");
    // The same key and size rules as serve's host.
    CHECK(host.SaveState("bad key", "8").code() == StatusCode::kInvalidRecord);
    CHECK(ReadFile(rig.path) == before);
    // The reader itself refuses a save that bypasses the host.
    const std::string refusal =
        "cannot save key 'k' of plugin 'p': " + rig.path + " is open read only";
    CHECK_THROWS_WITH_AS(reader->SavePluginState("p", "k", "v", 0), refusal.c_str(), StoreError);
  }

  TEST_CASE("the read-only reader: no file, an empty one or an older store reads as nothing") {
    TempDir dir;
    auto missing = SqlitePluginStateReader::Open(dir.File("none.db"));
    CHECK_FALSE(missing->LoadPluginState("p", "k").has_value());
    CHECK_FALSE(Poco::File(dir.File("none.db")).exists());
    crmsync::testing::WriteFile(dir.File("empty.db"), "");
    CHECK_FALSE(
        SqlitePluginStateReader::Open(dir.File("empty.db"))->LoadPluginState("p", "k").has_value());
    {
      // A store at schema version 8, before plugin_kv.
      Db db(dir.File("old.db"), true);
      db.Exec("PRAGMA application_id=1668443507; PRAGMA user_version=8; CREATE TABLE jobs(id)");
    }
    CHECK_FALSE(
        SqlitePluginStateReader::Open(dir.File("old.db"))->LoadPluginState("p", "k").has_value());
    crmsync::testing::WriteFile(dir.File("text.db"), "name,email\nAsha,asha@example.com\n");
    CHECK_THROWS_WITH_AS(SqlitePluginStateReader::Open(dir.File("text.db")),
                         doctest::Contains("is not a usable SQLite database"), StoreError);
  }

  TEST_CASE("check-config's and render's host reads the store lazily and never creates it") {
    TempDir dir;
    const std::string path = dir.File("var/crmsync.db");
    auto fresh = CommandPluginHost::ReadOnly(
        SettingsWith({"store.path=" + path, "crm.plugin=stateful_plugin"}), "crmsync check-config");
    std::optional<std::string> value;
    REQUIRE(fresh->host()->LoadState("counter", &value).ok());
    CHECK_FALSE(value.has_value());
    Status refused = fresh->host()->SaveState("counter", "1");
    CHECK(refused.code() == StatusCode::kPermanent);
    CHECK(refused.message() ==
          "plugin state key 'counter' of plugin 'stateful_plugin' was not saved: crmsync "
          "check-config does not write the store (serve does)");
    CHECK_FALSE(Poco::File(path).exists());
    {
      auto store = OpenAt(path);
      store->SavePluginState("stateful_plugin", "counter", "4", 0);
    }
    auto existing = CommandPluginHost::ReadOnly(
        SettingsWith({"store.path=" + path, "crm.plugin=stateful_plugin"}), "crmsync render");
    REQUIRE(existing->host()->LoadState("counter", &value).ok());
    CHECK(value == std::optional<std::string>("4"));
    // A file that is no store: the load is retryable with the store's words.
    crmsync::testing::WriteFile(dir.File("text.db"), "not a database at all, not even close\n");
    auto broken = CommandPluginHost::ReadOnly(
        SettingsWith({"store.path=" + dir.File("text.db"), "crm.plugin=stateful_plugin"}),
        "crmsync render");
    Status s = broken->host()->LoadState("counter", &value);
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK_MESSAGE(Contains(s.message(), "is not a usable SQLite database"), s.message());
  }

  TEST_CASE("check-connection's host opens the store at the first call and writes it") {
    TempDir dir;
    const std::string path = dir.File("var/crmsync.db");
    auto made = CommandPluginHost::Writable(
        SettingsWith({"store.path=" + path, "crm.plugin=stateful_plugin"}));
    CHECK_FALSE(Poco::File(path).exists());  // Nothing asked yet: nothing opened.
    REQUIRE(made->host()->SaveState("oauth.refresh_token", "rotated-in-check").ok());
    made.reset();
    auto store = OpenAt(path);
    CHECK(store->LoadPluginState("stateful_plugin", "oauth.refresh_token") ==
          std::optional<std::string>("rotated-in-check"));
    // A store it cannot open: retryable naming the store's reason.
    crmsync::testing::WriteFile(dir.File("a-file"), "x");
    auto blocked = CommandPluginHost::Writable(SettingsWith(
        {"store.path=" + dir.File("a-file/crmsync.db"), "crm.plugin=stateful_plugin"}));
    Status s = blocked->host()->SaveState("k", "v");
    CHECK(s.code() == StatusCode::kRetryable);
    CHECK(s.message() ==
          "cannot save plugin state key 'k' of plugin 'stateful_plugin': cannot "
          "open SQLite database " +
              dir.File("a-file/crmsync.db") + ": unable to open database file");
  }

  TEST_CASE("a memory host keeps values for its life only, with the same rules") {
    MemoryPluginStates states;
    StorePluginHost host("under-test", &states, &SystemClock::Instance());
    REQUIRE(host.SaveState("k", "v").ok());
    std::optional<std::string> value;
    REQUIRE(host.LoadState("k", &value).ok());
    CHECK(value == std::optional<std::string>("v"));
    CHECK(host.SaveState("k k", "v").code() == StatusCode::kInvalidRecord);
  }

  // --- a loaded plugin and its host -----------------------------------------

  TEST_CASE("a plugin is attached once, before Configure(), and loads and saves through it") {
    StatefulRig rig;
    LoadedPlugin& plugin = *rig.plugin;
    std::string& error = rig.error;
    REQUIRE_MESSAGE(plugin.Configure(PluginConfig(), &error, &rig.stateful), error);
    CHECK(plugin.adapter().Dump() == "{\"counter\":1,\"attaches\":1,\"warnings\":[]}");
    // Configured again with the same host: not attached twice.
    REQUIRE_MESSAGE(plugin.Configure(PluginConfig(), &error, &rig.stateful), error);
    CHECK(plugin.adapter().Dump() == "{\"counter\":2,\"attaches\":1,\"warnings\":[]}");
    CHECK(rig.store->LoadPluginState("stateful_plugin", "counter") ==
          std::optional<std::string>("2"));
    // Another host would split its state: refused, naming the plugin.
    MemoryPluginStates memory;
    StorePluginHost other("stateful_plugin", &memory, &rig.clock);
    CHECK_FALSE(plugin.Configure(PluginConfig(), &error, &other));
    CHECK(Contains(error, "plugin 'stateful_plugin' is already attached to another PluginHost"));
  }

  TEST_CASE("a key the host refuses makes the plugin refuse its configuration with those words") {
    StatefulRig rig;
    PluginConfig config;
    config.Set("state_key", "my counter");
    std::string& error = rig.error;
    CHECK_FALSE(rig.plugin->Configure(config, &error, &rig.stateful));
    CHECK_MESSAGE(Contains(error,
                           "refused its configuration: state_key: plugin state key "
                           "'my counter' has 0x20 at byte 3"),
                  error);
  }

  TEST_CASE("an Attach() that throws is an error naming the plugin, and nothing is configured") {
    HostRig rig;
    std::string error;
    auto plugin = LoadedPlugin::Load(CRMSYNC_TEST_PLUGIN_DIR, "throws_in_attach", &error);
    REQUIRE_MESSAGE(plugin, error);
    CHECK_FALSE(plugin->Configure(PluginConfig(), &error, &rig.host));
    CHECK(Contains(error, "plugin 'throws_in_attach' threw in Attach: attach exploded"));
    CHECK(plugin->adapter().exceptions() == 1);
  }
}

}  // namespace crmsync::engine
