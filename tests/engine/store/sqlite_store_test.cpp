// sqlite_store_test.cpp: the SQLite store against real database files: opening
// and migrations, intake (mirror rows, jobs, duplicates, coalescing), the queue
// rules of docs/design.md §4 (per-entity order, priorities, leases, retries), dead
// letters, and group commit seen through the store.
//
// Time is always passed in explicitly (the store never reads a clock for queue
// decisions), so no test sleeps. Each case opens its own store in a fresh
// TempDir.
#include <doctest/doctest.h>

#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crmsync/entities.h"
#include "store/sqlite_db.h"
#include "store/sqlite_schema.h"
#include "store/sqlite_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::TempDir;
using crmsync::testing::WriteFile;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kLeaseMs = 30'000;
const char kPlugin[] = "hubspot";

int LatestVersion() { return SqliteMigrations().back().version; }

std::unique_ptr<SqliteStore> OpenAt(const std::string& path,
                                    const std::string& synchronous = "FULL") {
  SqliteOptions options;
  options.path = path;
  options.synchronous = synchronous;
  return SqliteStore::Open(options);
}

// The message Open() throws for `options`, or "" when it opens.
std::string OpenError(const SqliteOptions& options) {
  try {
    SqliteStore::Open(options);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

std::string OpenError(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return OpenError(options);
}

// --- events, built with the SDK encoders as intake builds them ---------------

#include "store_test_helpers.inc"

// A fresh SQLite store in a folder of its own (store_cases.inc).
struct StoreUnderTest {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenAt(dir.File("store.db"));
  /// Closes the store and opens its file again (a restart).
  void Reopen() {
    store.reset();
    store = OpenAt(dir.File("store.db"));
  }
};

}  // namespace

TEST_SUITE("engine.store") {
#include "store_cases.inc"

  // --- open --------------------------------------------------------------------

  TEST_CASE("open creates the folder and the file in WAL mode at the latest schema version") {
    TempDir dir;
    std::string path = dir.File("deep/er/folder/crmsync.db");
    auto store = OpenAt(path);
    CHECK(Poco::File(path).exists());
    CHECK(store->SchemaVersion() == LatestVersion());
    CHECK(store->Describe().find("crmsync.db (WAL, synchronous=FULL)") != std::string::npos);
    std::string why;
    CHECK(store->Check(&why));
    CHECK(why.empty());

    Db db(path, false);
    auto mode = db.Prepare("PRAGMA journal_mode");
    REQUIRE(mode->Step());
    CHECK(mode->ColumnText(0) == "wal");
    auto app = db.Prepare("PRAGMA application_id");
    REQUIRE(app->Step());
    CHECK(app->ColumnInt(0) == kSqliteApplicationId);
    auto version = db.Prepare("PRAGMA user_version");
    REQUIRE(version->Step());
    CHECK(version->ColumnInt(0) == LatestVersion());
  }

  TEST_CASE("synchronous NORMAL is accepted and described") {
    TempDir dir;
    auto store = OpenAt(dir.File("n.db"), "NORMAL");
    CHECK(store->Describe().find("synchronous=NORMAL") != std::string::npos);
    AcceptOne(*store, LeadEvent("e1", "lead-1", "Asha"), kT0);
    CHECK(store->Stats().events_total == 1);
  }

  TEST_CASE("reopening keeps events, mirrors, jobs, dead letters and sync state") {
    TempDir dir;
    std::string path = dir.File("crmsync.db");
    int64_t job2 = 0;
    {
      auto store = OpenAt(path);
      AcceptOne(*store, LeadEvent("e1", "lead-1", "Asha"), kT0);
      DeadLetterOnly(*store, kT0 + 1);
      job2 = AcceptOne(*store, PropertyEvent("e2", "prop-1", "2BHK"), kT0 + 2);
      store->SetSyncState("salesforce", false, "401 from CRM: bad token");
    }
    auto store = OpenAt(path);
    CHECK(store->SchemaVersion() == LatestVersion());
    CHECK(MirrorLead(*store, "lead-1").name == std::optional<std::string>("Asha"));
    CHECK(store->GetMirror(EntityKind::kProperty, "prop-1").has_value());
    QueueStats s = store->Stats();
    CHECK(s.events_total == 2);
    CHECK(s.ready == 1);
    CHECK(s.dead == 1);
    SyncState sync = store->GetSyncState("salesforce");
    CHECK_FALSE(sync.enabled);
    CHECK(sync.reason == "401 from CRM: bad token");
    CHECK_FALSE(sync.changed_at.empty());
    // The duplicate check survives too.
    AcceptResult again;
    AcceptOne(*store, PropertyEvent("e2", "prop-1", "2BHK"), kT0 + 3, &again);
    CHECK(again.duplicate);
    CHECK(again.job_id == job2);
  }

  TEST_CASE("open refuses a file written by a newer schema version") {
    TempDir dir;
    std::string path = dir.File("newer.db");
    const int future = LatestVersion() + 7;
    {
      Db db(path, true);
      db.Exec("PRAGMA application_id=" + std::to_string(kSqliteApplicationId));
      db.Exec("PRAGMA user_version=" + std::to_string(future));
    }
    std::string error = OpenError(path);
    INFO(error);
    CHECK(error.find(path) != std::string::npos);
    CHECK(error.find("schema version " + std::to_string(future)) != std::string::npos);
    CHECK(error.find("knows up to " + std::to_string(LatestVersion())) != std::string::npos);
    // Refused without touching it.
    Db db(path, false);
    auto version = db.Prepare("PRAGMA user_version");
    REQUIRE(version->Step());
    CHECK(version->ColumnInt(0) == future);
  }

  TEST_CASE("open refuses a SQLite file of another application") {
    TempDir dir;
    std::string path = dir.File("other.db");
    {
      Db db(path, true);
      db.Exec("PRAGMA application_id=1234567");
      db.Exec("CREATE TABLE songs (id INTEGER PRIMARY KEY, title TEXT)");
    }
    std::string error = OpenError(path);
    INFO(error);
    CHECK(error.find("another application") != std::string::npos);
    CHECK(error.find("1234567") != std::string::npos);
    CHECK(error.find(path) != std::string::npos);
  }

  TEST_CASE("open refuses a file that is not a SQLite database") {
    TempDir dir;
    std::string path = dir.File("notes.db");
    std::string text;
    for (int i = 0; i < 200; ++i) text += "these are plain notes, not a database\n";
    WriteFile(path, text);
    std::string error = OpenError(path);
    INFO(error);
    CHECK(error.find("not a usable SQLite database") != std::string::npos);
    CHECK(error.find(path) != std::string::npos);
    CHECK(crmsync::testing::ReadFile(path) == text);
  }

  TEST_CASE("open refuses a bad synchronous value and an empty path") {
    TempDir dir;
    SqliteOptions options;
    options.path = dir.File("sub/x.db");
    options.synchronous = "SOMETIMES";
    std::string error = OpenError(options);
    INFO(error);
    CHECK(error.find("store.synchronous") != std::string::npos);
    CHECK(error.find("'SOMETIMES'") != std::string::npos);
    CHECK_FALSE(Poco::File(options.path).exists());

    SqliteOptions empty;
    CHECK(OpenError(empty).find("store.path is empty") != std::string::npos);
  }

  TEST_CASE("open migrates a file at an older schema version and keeps its data") {
    TempDir dir;
    std::string path = dir.File("old.db");
    {
      Db db(path, true);
      db.Exec("PRAGMA journal_mode=WAL");
      db.Exec(SqliteMigrations()[0].sql);
      db.Exec("PRAGMA user_version=1");
      db.Exec("PRAGMA application_id=" + std::to_string(kSqliteApplicationId));
      db.Exec(
          "INSERT INTO plugin_state (plugin, enabled, reason, changed_at) "
          "VALUES ('hubspot', 0, 'by admin', '2024-01-01T00:00:00Z')");
    }
    auto store = OpenAt(path);
    CHECK(store->SchemaVersion() == LatestVersion());
    SyncState state = store->GetSyncState("hubspot");
    CHECK_FALSE(state.enabled);
    CHECK(state.reason == "by admin");
    AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    CHECK(store->Stats().ready == 1);
  }

  TEST_CASE("a migration that fails is rolled back and named") {
    TempDir dir;
    std::string path = dir.File("clash.db");
    {
      Db db(path, true);
      db.Exec("PRAGMA journal_mode=WAL");
      db.Exec(SqliteMigrations()[0].sql);
      db.Exec("PRAGMA user_version=1");
      db.Exec("PRAGMA application_id=" + std::to_string(kSqliteApplicationId));
      db.Exec("CREATE TABLE leads (something TEXT)");  // in the way of migration 2
    }
    std::string error = OpenError(path);
    INFO(error);
    CHECK(error.find("migration 2") != std::string::npos);
    CHECK(error.find(path) != std::string::npos);
    Db db(path, false);
    auto version = db.Prepare("PRAGMA user_version");
    REQUIRE(version->Step());
    CHECK(version->ColumnInt(0) == 1);
    auto events = db.Prepare("SELECT count(*) FROM sqlite_master WHERE name = 'events'");
    REQUIRE(events->Step());
    CHECK(events->ColumnInt(0) == 0);
  }

  // --- accept ------------------------------------------------------------------

  // --- ordering ----------------------------------------------------------------

  // --- coalescing --------------------------------------------------------------

  // --- leases ------------------------------------------------------------------

  TEST_CASE("release all leases returns every leased job in doubt") {
    TempDir dir;
    std::string path = dir.File("r.db");
    std::set<int64_t> leased_ids;
    {
      auto store = OpenAt(path);
      store->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b"),
                     PropertyEvent("e3", "prop-1", "c")},
                    kT0);
      for (const LeasedJob& j : store->Lease(kPlugin, 2, kT0, kLeaseMs)) leased_ids.insert(j.id);
      REQUIRE(leased_ids.size() == 2u);
    }
    // A new process: the leases of the old one are returned at start-up.
    auto store = OpenAt(path);
    CHECK(store->Stats().leased == 2);
    CHECK(store->ReleaseAllLeases() == 2);
    CHECK(store->ReleaseAllLeases() == 0);
    QueueStats s = store->Stats();
    CHECK(s.leased == 0);
    CHECK(s.ready == 3);
    std::vector<LeasedJob> jobs = LeaseAll(*store, kT0 + 1);
    REQUIRE(jobs.size() == 3u);
    for (const LeasedJob& j : jobs) CHECK(j.in_doubt == (leased_ids.count(j.id) == 1));
  }

  // --- dead letters ------------------------------------------------------------

  // --- group commit through the store -----------------------------------------

  TEST_CASE("concurrent accepts share commits") {
    TempDir dir;
    auto store = OpenAt(dir.File("gc.db"));
    const int kThreads = 8;
    const int kPerThread = 200;
    std::atomic<int> failures{0};
    std::atomic<int> bad_results{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          try {
            std::vector<AcceptResult> r =
                store->Accept({LeadEvent(id, "lead-" + id, "n", false)}, kT0 + i);
            if (r.size() != 1 || r[0].duplicate || r[0].coalesced || r[0].job_id <= 0) {
              ++bad_results;
            }
          } catch (const StoreError&) {
            ++failures;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    CHECK(failures.load() == 0);
    CHECK(bad_results.load() == 0);
    QueueStats s = store->Stats();
    CHECK(s.events_total == kThreads * kPerThread);
    CHECK(s.ready == kThreads * kPerThread);
    GroupCommitter& committer = store->committer();
    INFO("groups ", committer.groups(), " writes ", committer.writes());
    CHECK(committer.writes() >= kThreads * kPerThread);
    CHECK(committer.groups() < committer.writes());
  }

  TEST_CASE("an injected commit failure loses that call only") {
    TempDir dir;
    auto store = OpenAt(dir.File("fc.db"));
    AcceptOne(*store, LeadEvent("e0", "lead-0", "kept"), kT0);
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS_AS(
        store->Accept({LeadEvent("e1", "lead-1", "lost"), PropertyEvent("e2", "prop-1", "t")},
                      kT0 + 1),
        StoreError);
    CHECK_FALSE(store->GetMirror(EntityKind::kLead, "lead-1").has_value());
    CHECK_FALSE(store->GetMirror(EntityKind::kProperty, "prop-1").has_value());
    QueueStats s = store->Stats();
    CHECK(s.events_total == 1);
    CHECK(s.ready == 1);

    // A lost coalescing leaves the pending job and the counter as they were.
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS_AS(store->Accept({LeadEvent("e0b", "lead-0", "newer")}, kT0 + 1), StoreError);
    CHECK(store->Stats().coalesced_total == 0);
    CHECK(Jobs(*store, "lead-0")[0].coalesced == 0);
    CHECK(MirrorLead(*store, "lead-0").name == std::optional<std::string>("kept"));

    // The hook is one-shot, and the same events can be sent again.
    std::vector<AcceptResult> r = store->Accept(
        {LeadEvent("e1", "lead-1", "lost"), PropertyEvent("e2", "prop-1", "t")}, kT0 + 2);
    REQUIRE(r.size() == 2u);
    CHECK_FALSE(r[0].duplicate);
    CHECK_FALSE(r[1].duplicate);
    CHECK(store->Stats().events_total == 3);
  }

  TEST_CASE("a failed commit fails every caller of its group and keeps nothing of them") {
    TempDir dir;
    auto store = OpenAt(dir.File("fg.db"));
    GroupCommitter& committer = store->committer();
    const int kThreads = 6;
    std::atomic<bool> holding{false};
    std::atomic<int> started{0};
    std::vector<int> failed(kThreads, 0);
    std::vector<std::thread> threads;
    // Hold the writer in a group of its own while the callers line up; the
    // failure is armed for the group that follows it.
    std::thread blocker([&] {
      committer.Submit([&](Db&) {
        holding = true;
        while (started.load() < kThreads) std::this_thread::yield();
        committer.FailNextCommitForTesting();
      });
    });
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::string id = "e" + std::to_string(t);
        std::vector<IncomingEvent> events = {LeadEvent(id, "lead-" + id, "n"),
                                             PropertyEvent(id + "p", "prop-" + id, "t")};
        while (!holding.load()) std::this_thread::yield();
        ++started;
        try {
          store->Accept(events, kT0);
        } catch (const StoreError& e) {
          CHECK(std::string(e.what()).find("COMMIT failed") != std::string::npos);
          failed[t] = 1;
        }
      });
    }
    blocker.join();
    for (std::thread& t : threads) t.join();

    int failures = 0;
    for (int t = 0; t < kThreads; ++t) {
      std::string id = "e" + std::to_string(t);
      bool present = store->GetMirror(EntityKind::kLead, "lead-" + id).has_value();
      CHECK(present == (failed[t] == 0));
      CHECK(store->GetMirror(EntityKind::kProperty, "prop-" + id).has_value() == present);
      failures += failed[t];
    }
    CHECK(failures >= 1);
    WARN_MESSAGE(failures >= 2, "the failed group held one caller only");
    QueueStats s = store->Stats();
    CHECK(s.events_total == 2 * (kThreads - failures));
    CHECK(s.ready == 2 * (kThreads - failures));
  }

  TEST_CASE("a failed commit of a lease or a completion changes nothing") {
    TempDir dir;
    auto store = OpenAt(dir.File("fl.db"));
    int64_t job_id = AcceptOne(*store, LeadEvent("e1", "lead-1", "v1"), kT0);
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS_AS(LeaseAll(*store, kT0), StoreError);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "ready");
    LeasedJob job = LeaseOnly(*store, kT0 + 1);
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS_AS(Complete(*store, Dead(job, "INVALID_RECORD", "r", kT0 + 2), kT0 + 2),
                    StoreError);
    CHECK(StateOf(*store, EntityKind::kLead, "lead-1", job_id) == "leased");
    CHECK(store->ListDeadLetters({}).empty());
    // The lease is still current: the worker can record its outcome again.
    Complete(*store, Dead(job, "INVALID_RECORD", "r", kT0 + 3), kT0 + 3);
    CHECK(store->ListDeadLetters({}).size() == 1u);
  }

  // --- inspection --------------------------------------------------------------

}

}  // namespace crmsync::engine
