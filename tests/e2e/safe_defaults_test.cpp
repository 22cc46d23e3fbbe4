// Safe defaults (issue 16), on the real binary: development tokens stay on
// loopback, check-config refuses whatever serve refuses before it listens,
// /readyz is 503 while the store cannot write and shows no path to anyone
// without the admin token, and a flood of identical errors is one log line.
//
// The full-disk and read-only cases mount a small tmpfs (root only); where
// mounting is not permitted they say so and stop.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "small_tmpfs.h"
#include "test_support.h"

namespace t = crmsync::testing;

namespace {

const std::string kBinary = CRMSYNC_BINARY;
const std::string kShippedConfig = CRMSYNC_SOURCE_DIR "/config/crmsync.properties";
const std::string kIntake = "0123456789abcdef0123456789abcdef-intake";
const std::string kAdmin = "fedcba9876543210fedcba9876543210-admin";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}
size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// `crmsync <command> --config <config> --set ...` with plugins.dir, a store in
// `dir` and a free port, plus `extra`; returns the exit code, fills `output`.
int Run(const std::string& command, const t::TempDir& dir, std::vector<std::string> extra,
        std::string* output, const std::string& config = kShippedConfig) {
  std::vector<std::string> args = {command,
                                   "--config", config,
                                   "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
                                   "--set", "store.path=" + dir.File("var/crmsync.db"),
                                   "--set", "server.port=" + std::to_string(t::FreePort())};
  for (const std::string& e : extra) {
    args.push_back("--set");
    args.push_back(e);
  }
  return t::RunCommand(kBinary, args, output);
}

using t::SmallTmpfs;

// `crmsync <command>` on the shipped config with plugins.dir, `store_path`
// and `port`.
std::vector<std::string> Shipped(const std::string& command, const std::string& store_path,
                                 int port) {
  return {command, "--config", kShippedConfig, "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR,
          "--set", "store.path=" + store_path, "--set", "server.port=" + std::to_string(port)};
}


// {"events":[...]} of `n` lead.created events with ids `<prefix>-<i>`.
std::string Batch(const std::string& prefix, int n) {
  std::string body = R"({"events":[)";
  for (int i = 0; i < n; ++i) {
    if (i > 0) body += ",";
    body += R"({"eventId":")" + prefix + "-" + std::to_string(i) +
            R"(","type":"lead.created","occurredAt":"2026-11-23T10:15:00Z","data":{"id":")" +
            prefix + "-L" + std::to_string(i) + R"(","name":")" + std::string(200, 'n') +
            R"(","status":"NEW"}})";
  }
  return body + "]}";
}

}  // namespace

TEST_SUITE("e2e.safe_defaults") {
  TEST_CASE("the shipped config still serves on loopback with its development tokens") {
    t::TempDir dir;
    const int port = t::FreePort();
    t::ChildProcess engine(kBinary, Shipped("serve", dir.File("db"), port));
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        engine.Stderr());
    CHECK(t::HttpCall(port, "POST", "/api/events", Batch("qs", 1),
                      {{"Authorization", "Bearer dev-intake-token"}})
              .status == 202);
    std::string output;
    CHECK(Run("check-config", dir, {}, &output) == 0);
  }

  TEST_CASE("serve and check-config refuse the shipped tokens off loopback, never quoting them") {
    t::TempDir dir;
    std::string serve;
    CHECK(Run("serve", dir, {"server.host=0.0.0.0"}, &serve) == 78);
    std::string check;
    CHECK(Run("check-config", dir, {"server.host=0.0.0.0"}, &check) == 1);
    for (const char* key : {"intake.token", "admin.token"}) {
      CAPTURE(key);
      const std::string reason = std::string(key) + " (from file " + kShippedConfig +
                                 "): is the public development token shipped in "
                                 "config/crmsync.properties while server.host is '0.0.0.0' "
                                 "(not loopback)";
      CHECK_MESSAGE(Contains(serve, "crmsync: cannot start: " + reason), serve);
      CHECK_MESSAGE(Contains(check, "error: " + reason), check);
    }
    CHECK(Contains(check, "2 error(s), 0 warning(s)"));
    for (const std::string& output : {serve, check}) {
      CHECK_FALSE(Contains(output, "dev-intake-token"));
      CHECK_FALSE(Contains(output, "dev-admin-token"));
    }
    CHECK(t::ReadFile(dir.File("var/crmsync.db")).empty());  // refused before the store

    // Short and shared tokens, from --set.
    CHECK(Run("serve", dir,
              {"server.host=0.0.0.0", "intake.token=short-intake", "admin.token=" + kAdmin},
              &serve) == 78);
    CHECK(Contains(serve, "intake.token (from --set): is shorter than 32 characters"));
    CHECK_FALSE(Contains(serve, "short-intake"));
    CHECK(Run("check-config", dir,
              {"server.host=0.0.0.0", "intake.token=" + kAdmin, "admin.token=" + kAdmin},
              &check) == 1);
    CHECK(Contains(check, "error: admin.token (from --set): is the same token as intake.token"));
    CHECK_FALSE(Contains(check, kAdmin));

    // Strong, distinct tokens pass.
    CHECK(Run("check-config", dir,
              {"server.host=0.0.0.0", "intake.token=" + kIntake, "admin.token=" + kAdmin},
              &check) == 0);
  }

  TEST_CASE("check-config refuses whatever serve refuses before it listens, with the same words") {
    t::TempDir dir;
    t::WriteFile(dir.File("a-file"), "not a folder\n");
    // Store files serve would refuse to open, made by Python's sqlite3 module.
    t::WriteFile(dir.File("text.db"), "name,email\nAsha,asha@example.com\n");
    std::string made;
    REQUIRE_MESSAGE(
        t::RunCommand("/usr/bin/python3",
                      {"-c",
                       "import sqlite3, sys\n"
                       "for path, app, version in ((sys.argv[1], 0x63726d73, 99),"
                       " (sys.argv[2], 1234, 1)):\n"
                       "    db = sqlite3.connect(path)\n"
                       "    db.execute('PRAGMA application_id=%d' % app)\n"
                       "    db.execute('PRAGMA user_version=%d' % version)\n"
                       "    db.execute('CREATE TABLE t(x)')\n"
                       "    db.commit()\n",
                       dir.File("newer.db"), dir.File("other.db")},
                      &made) == 0,
        made);
    struct Case {
      std::vector<std::string> set;
      std::string message;
    };
    const std::vector<Case> cases = {
        {{"alerts.webhook_url=http://10.9.9.9/hook"},
         "alerts.webhook_url: api_url: plain http:// is allowed only to a loopback host (10.9.9.9 "
         "is not)"},
        {{"store.path=" + dir.File("a-file/var/crmsync.db")},
         "store.path: cannot create the folder of " + dir.File("a-file/var/crmsync.db") + ": " +
             dir.File("a-file") + " is not a folder"},
        {{"store.path=" + dir.path()}, "store.path: " + dir.path() + " is a folder"},
        {{"crm.plugin=no-such-crm"}, "crm.plugin: "},
        {{"inbound.callback_url=http://198.51.100.7/changes"}, "inbound.callback_url: "},
        {{"inbound.agent_map=agent_1"}, "inbound.agent_map: 'agent_1' is not agent=dealer"},
        {{"inbound.agent_emails=dealer-7"}, "inbound.agent_emails: 'dealer-7' is not dealer=e-mail"},
        {{"webhook.secrets=whsec_%%%%"}, "webhook secret #2 starts with whsec_"},
        {{"store.path=" + dir.File("text.db")},
         "store.path: " + dir.File("text.db") + " is not a usable SQLite database: "},
        {{"store.path=" + dir.File("newer.db")},
         "store.path: " + dir.File("newer.db") +
             " was written by a newer crmsync (schema version 99; this build knows up to "},
        {{"store.path=" + dir.File("other.db")},
         "store.path: " + dir.File("other.db") +
             " belongs to another application (SQLite application_id 1234); refusing to use it"},
        // TEST-NET-1: an address no interface of this machine has.
        {{"server.host=192.0.2.1", "intake.token=" + kIntake, "admin.token=" + kAdmin},
         "server.host: cannot listen on 192.0.2.1:"},
    };
    for (const Case& c : cases) {
      CAPTURE(c.message);
      t::TempDir store;
      std::string check;
      CHECK(Run("check-config", store, c.set, &check) == 1);
      CHECK_MESSAGE(Contains(check, "error: " + c.message), check);
      CHECK(Contains(check, "1 error(s)"));
      std::string serve;
      CHECK(Run("serve", store, c.set, &serve) == 78);
      CHECK_MESSAGE(Contains(serve, "crmsync: cannot start: " + c.message), serve);
    }
  }

  TEST_CASE("check-config reads an existing store without migrating it, and warns of a busy port") {
    t::TempDir dir;
    const std::string store = dir.File("var/crmsync.db");
    const int port = t::FreePort();
    {
      t::ChildProcess engine(kBinary, Shipped("serve", store, port));
      REQUIRE_MESSAGE(
          t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
          engine.Stderr());
      // Beside the running service: its port is busy, which is only a warning.
      std::string output;
      CHECK(t::RunCommand(kBinary, Shipped("check-config", store, port), &output) == 0);
      CHECK_MESSAGE(Contains(output, "warning: server.port: 127.0.0.1:" + std::to_string(port) +
                                         " is in use (is crmsync already running?)"),
                    output);
      CHECK(Contains(output, "store.path: a crmsync store at schema version "));
    }
    // With the service stopped, the same port passes; the store file is
    // byte for byte what the service left (read, not migrated).
    const std::string before = t::ReadFile(store);
    std::string output;
    CHECK(t::RunCommand(kBinary, Shipped("check-config", store, port), &output) == 0);
    CHECK_MESSAGE(Contains(output, "127.0.0.1:" + std::to_string(port) + " can be listened on"),
                  output);
    CHECK(Contains(output, "0 error(s), 0 warning(s)"));
    CHECK(t::ReadFile(store) == before);
  }

  TEST_CASE("a store folder even root cannot write is refused by check-config and serve") {
    SmallTmpfs fs("1m", /*read_only=*/true);
    if (!fs.mounted()) {
      MESSAGE("cannot mount a tmpfs here (" << fs.why() << "): the read-only case is not run");
      return;
    }
    t::TempDir dir;
    const std::string expected =
        "store.path: cannot write in folder " + fs.path() + " (Read-only file system)";
    std::string output;
    CHECK(Run("check-config", dir, {"store.path=" + fs.File("crmsync.db")}, &output) == 1);
    CHECK_MESSAGE(Contains(output, "error: " + expected), output);
    CHECK(Run("serve", dir, {"store.path=" + fs.File("crmsync.db")}, &output) == 78);
    CHECK_MESSAGE(Contains(output, "cannot start: " + expected), output);
    // A folder still to be created, under the read-only one.
    CHECK(Run("check-config", dir, {"store.path=" + fs.File("var/crmsync.db")}, &output) == 1);
    CHECK(Contains(output, "error: store.path: cannot create the folder of " +
                               fs.File("var/crmsync.db") + " under " + fs.path() +
                               " (Read-only file system)"));
  }

  TEST_CASE("as a user without write permission: an existing folder is an error, a missing one a warning") {
    // Root passes every permission bit, so the binary runs as nobody (setpriv).
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0) {
      MESSAGE("not root or no setpriv: the permission case is not run");
      return;
    }
    t::TempDir dir;
    REQUIRE(chmod(dir.path().c_str(), 0755) == 0);  // nobody may look, not write
    auto as_nobody = [&](const std::string& command, const std::string& store_path,
                         std::string* output) {
      return t::RunCommand("/usr/bin/setpriv",
                           {"--reuid=65534", "--regid=65534", "--clear-groups", kBinary, command,
                            "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                            "store.path=" + store_path, "--set",
                            "server.port=" + std::to_string(t::FreePort())},
                           output);
    };
    std::string output;
    CHECK(as_nobody("check-config", dir.File("crmsync.db"), &output) == 1);
    CHECK_MESSAGE(Contains(output, "error: store.path: cannot write in folder " + dir.path() +
                                       " (Permission denied)"),
                  output);
    CHECK(as_nobody("serve", dir.File("crmsync.db"), &output) == 78);
    CHECK_MESSAGE(Contains(output, "cannot start: store.path: cannot write in folder " +
                                       dir.path() + " (Permission denied)"),
                  output);
    // A folder still to be created: another user (systemd's StateDirectory=)
    // may create it before serve starts, so check-config only warns.
    CHECK(as_nobody("check-config", dir.File("var/crmsync.db"), &output) == 0);
    CHECK_MESSAGE(Contains(output, "warning: store.path: cannot create the folder of " +
                                       dir.File("var/crmsync.db") + " under " + dir.path() +
                                       " (Permission denied); serve fails unless the folder "
                                       "exists by then"),
                  output);
  }

  TEST_CASE("check-config prints one problem per line, hints at typos, and counts truly") {
    t::TempDir dir;
    const std::string config = dir.File("c.properties");
    t::WriteFile(config, "sever.port = 1\nlog.levl = debug\nbogus.key = 1\n"
                         "server.host = 0.0.0.0\n");
    std::string output;
    CHECK(t::RunCommand(kBinary,
                        {"check-config", "--config", config, "--set",
                         "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                         "store.path=" + dir.File("db"), "--set", "intake.token=dev-intake-token",
                         "--set", "admin.token=dev-intake-token", "--set",
                         "alerts.webhook_url=http://10.9.9.9/hook"},
                        &output,
                        {{"CRMSYNC_SERVER_PROT", "1"}}) == 1);
    CHECK(Contains(output, "warning: unknown key 'sever.port' (from file " + config +
                               "); it is ignored; did you mean 'server.port'?\n"));
    CHECK(Contains(output, "did you mean 'log.level'?\n"));
    CHECK(Contains(output, "warning: unknown key 'bogus.key' (from file " + config +
                               "); it is ignored\n"));
    CHECK(Contains(output, "warning: unknown environment variable 'CRMSYNC_SERVER_PROT'; it is "
                           "ignored; did you mean 'CRMSYNC_SERVER_PORT'?\n"));
    const size_t errors = t::LinesStartingWith(output, "error: ").size();
    const size_t warnings = t::LinesStartingWith(output, "warning: ").size();
    // intake.token (dev), admin.token (dev), admin.token (shared), the alerts URL.
    CHECK(errors == 4);
    CHECK(warnings == 4);
    CHECK_MESSAGE(Contains(output, std::to_string(errors) + " error(s), " +
                                       std::to_string(warnings) + " warning(s)\n"),
                  output);
    CHECK_FALSE(Contains(output, "dev-intake-token"));
  }

  TEST_CASE("/readyz names no path without the admin token and details them with it") {
    t::TempDir dir;
    const int port = t::FreePort();
    t::ChildProcess engine(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                                     "store.path=" + dir.File("db"), "--set",
                                     "server.port=" + std::to_string(port), "--set",
                                     "admin.token=" + kAdmin, "--set", "intake.token=" + kIntake});
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        engine.Stderr());
    for (const std::string& token : {std::string(), std::string("wrong"), kIntake}) {
      CAPTURE(token);
      std::map<std::string, std::string> headers;
      if (!token.empty()) headers["Authorization"] = "Bearer " + token;
      t::HttpResult ready = t::HttpCall(port, "GET", "/readyz", "", headers);
      CHECK(ready.status == 200);
      CHECK(Contains(ready.body, R"({"name":"store","ok":true,"detail":"reads and writes"})"));
      CHECK(Contains(ready.body, R"({"name":"plugin","ok":true,"detail":"mock-crm 1.0.0"})"));
      CHECK_FALSE(Contains(ready.body, dir.path()));
      CHECK_FALSE(Contains(ready.body, CRMSYNC_PLUGIN_DIR));
      CHECK_FALSE(Contains(ready.body, "/"));  // no path of any kind
    }
    t::HttpResult admin =
        t::HttpCall(port, "GET", "/readyz", "", {{"Authorization", "Bearer " + kAdmin}});
    CHECK(admin.status == 200);
    CHECK(Contains(admin.body, "sqlite " + dir.File("db") + " (WAL"));
    CHECK(Contains(admin.body, "mock-crm 1.0.0 (" CRMSYNC_PLUGIN_DIR));
  }

  TEST_CASE("a full disk: /readyz 503 while the store cannot write, one log line, 200 after") {
    SmallTmpfs fs("2m", /*read_only=*/false);
    if (!fs.mounted()) {
      MESSAGE("cannot mount a tmpfs here (" << fs.why() << "): the full-disk case is not run");
      return;
    }
    const int port = t::FreePort();
    t::ChildProcess engine(kBinary, {"serve", "--set", "plugins.dir=" CRMSYNC_PLUGIN_DIR, "--set",
                                     "store.path=" + fs.File("crmsync.db"), "--set",
                                     "server.port=" + std::to_string(port), "--set",
                                     "admin.token=" + kAdmin, "--set", "intake.token=" + kIntake});
    REQUIRE_MESSAGE(
        t::WaitUntil([&] { return t::HttpCall(port, "GET", "/healthz").status == 200; }),
        engine.Stderr());
    const std::map<std::string, std::string> intake = {{"Authorization", "Bearer " + kIntake}};
    const std::map<std::string, std::string> admin = {{"Authorization", "Bearer " + kAdmin}};
    CHECK(t::HttpCall(port, "GET", "/readyz").status == 200);
    CHECK(t::HttpCall(port, "POST", "/api/events", Batch("before", 10), intake).status == 202);
    // Those jobs finish first: an outcome written after the disk fills (a
    // small commit can still fit) would rightly turn /readyz back to 200.
    REQUIRE_MESSAGE(t::WaitUntil([&] {
                      const std::string status =
                          t::HttpCall(port, "GET", "/api/v1/admin/status", "", admin).body;
                      return Contains(status, R"("ready":0,"queued":0,"delayed":0,"leased":0,"done":10,)");
                    }),
                    t::HttpCall(port, "GET", "/api/v1/admin/status", "", admin).body);

    REQUIRE(fs.Fill("filler"));
    // Every refused request, the same error: 503 each, one log line for all.
    const int kRefused = 30;
    for (int i = 0; i < kRefused; ++i) {
      CAPTURE(i);
      CHECK(t::HttpCall(port, "POST", "/api/events", Batch("full", 300), intake).status == 503);
    }
    t::HttpResult ready = t::HttpCall(port, "GET", "/readyz");
    CHECK(ready.status == 503);
    CHECK(Contains(ready.body, R"({"name":"store","ok":false,"detail":"cannot write"})"));
    CHECK_FALSE(Contains(ready.body, fs.path()));
    t::HttpResult detailed = t::HttpCall(port, "GET", "/readyz", "", admin);
    CHECK(detailed.status == 503);
    CHECK_MESSAGE(Contains(detailed.body, "database or disk is full"), detailed.body);
    const std::string log = engine.Stderr();
    CHECK_MESSAGE(Count(log, "could not store 300 event(s)") == 1, log);

    // Space again: the next write succeeds and readiness follows it.
    REQUIRE(std::remove(fs.File("filler").c_str()) == 0);
    CHECK(t::HttpCall(port, "POST", "/api/events", Batch("after", 300), intake).status == 202);
    CHECK(t::HttpCall(port, "GET", "/readyz").status == 200);

    // Stopping writes the count of the repeats still inside their minute.
    engine.Signal(SIGTERM);
    REQUIRE(engine.WaitExit(std::chrono::seconds(20)));
    CHECK(engine.exit_code() == 0);
    CHECK_MESSAGE(Contains(engine.Stderr(), "(repeated " + std::to_string(kRefused - 1) +
                                                " times in the last 60 s)"),
                  engine.Stderr());
  }
}
