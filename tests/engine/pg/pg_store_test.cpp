// pg_store_test.cpp: the PostgreSQL store against a real server (pg_server.h):
// opening and migrations, and the store cases of
// tests/engine/store/sqlite_store_test.cpp that do not depend on SQLite (intake,
// the queue rules of docs/design.md §4, leases, retries, dead letters, inspection),
// run unchanged against PgStore; plus what only a shared server has: two
// stores (two engine processes) leasing from one database at once.
//
// Time is always passed in explicitly, so no test sleeps. Each case gets its
// own database.
#include <doctest/doctest.h>

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
#include "crmsync/entities_json.h"
#include "pg_server.h"
#include "store/pg_db.h"
#include "store/pg_schema.h"
#include "store/pg_store.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::PgExec;
using crmsync::testing::PgRig;

constexpr int64_t kT0 = 1'700'000'000'000;
constexpr int64_t kLeaseMs = 30'000;
const char kPlugin[] = "hubspot";

int LatestVersion() { return PgMigrations().back().version; }

std::string OpenError(const std::string& url) {
  try {
    PgOptions options;
    options.url = url;
    PgStore::Open(options);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "";
}

// --- events, built with the SDK encoders as intake builds them ---------------

#include "../store/store_test_helpers.inc"

// A fresh PostgreSQL store on a database of its own (store_cases.inc).
struct StoreUnderTest {
  PgRig rig;
  std::unique_ptr<PgStore>& store = rig.store;
  /// Closes the store and opens the same database again (a restart).
  void Reopen() {
    store.reset();
    store = rig.OpenAnother();
  }
};

}  // namespace

TEST_SUITE("engine.pg") {
#include "../store/store_cases.inc"

  // --- open --------------------------------------------------------------------

  TEST_CASE("open migrates an empty database to the latest version and describes it") {
    PgRig rig;
    CHECK(rig.store->SchemaVersion() == LatestVersion());
    CHECK(LatestVersion() == 10);
    std::string why;
    CHECK(rig.store->Check(&why));
    std::string description = rig.store->Describe();
    CHECK(description.find("postgres host=127.0.0.1") == 0);
    CHECK(description.find("SKIP LOCKED") != std::string::npos);
    // A second opening (another engine) finds the schema in place.
    auto again = rig.OpenAnother();
    CHECK(again->SchemaVersion() == LatestVersion());
    CHECK(again->owner_id() != rig.store->owner_id());
    // The same database as a postgresql:// URL.
    size_t port_at = rig.url.find("port=") + 5;
    std::string port = rig.url.substr(port_at, rig.url.find(' ', port_at) - port_at);
    std::string db = rig.url.substr(rig.url.find("dbname=") + 7);
    PgOptions as_url;
    as_url.url = "postgresql://postgres@127.0.0.1:" + port + "/" + db;
    CHECK(PgStore::Open(as_url)->SchemaVersion() == LatestVersion());
  }

  TEST_CASE("a probe write commits a transaction that took an id, and changes no table") {
    PgRig rig;
    PgConn conn(rig.url);
    auto next_xid = [&] { return conn.Exec("SELECT txid_current()").Int(0, 0); };
    const int64_t before = next_xid();
    std::string why;
    CHECK(rig.store->ProbeWrite(&why));
    // Our own two reads took an id each; the probe took one in between.
    CHECK(next_xid() >= before + 2);
    CHECK(rig.store->LastWrite().count == 0);  // untracked: readiness probes
    CHECK(rig.store->Stats().ready == 0);
  }

  TEST_CASE("open refuses a database written by a newer schema version") {
    PgRig rig;
    rig.store.reset();
    PgExec(rig.url, "INSERT INTO schema_migrations (version, description) VALUES (99, 'future')");
    std::string error = OpenError(rig.url);
    CHECK(error.find("newer crmsync") != std::string::npos);
    CHECK(error.find("schema version 99") != std::string::npos);
    CHECK(error.find("refusing") != std::string::npos);
  }

  TEST_CASE("open refuses a database whose jobs table crmsync did not make") {
    std::string url = crmsync::testing::NewPgDatabase();
    PgExec(url, "CREATE TABLE jobs (id integer)");
    CHECK(OpenError(url).find("not made by crmsync") != std::string::npos);
  }

  TEST_CASE("open names the server when it cannot connect, never the password") {
    int port = crmsync::testing::FreePort();
    std::string error = OpenError("host=127.0.0.1 port=" + std::to_string(port) +
                                  " user=u password=hunter2 dbname=x connect_timeout=5");
    CHECK(error.find("cannot connect") != std::string::npos);
    CHECK(error.find("hunter2") == std::string::npos);
    CHECK(OpenError("").find("store.url is empty") != std::string::npos);
  }

  TEST_CASE("a migration that fails is rolled back and named") {
    PgRig rig;
    rig.store.reset();
    // Back to version 6 without the index migration 7 drops: 7 fails.
    PgExec(rig.url, "DELETE FROM schema_migrations WHERE version >= 7");
    PgExec(rig.url, "ALTER TABLE leads DROP COLUMN field_times");
    PgExec(rig.url, "ALTER TABLE properties DROP COLUMN field_times");
    PgExec(rig.url, "DROP INDEX links_external");
    PgExec(rig.url, "DROP TABLE plugin_kv");  // migration 9's
    PgExec(rig.url, "DROP TABLE inbound_events");  // migration 10's
    std::string error = OpenError(rig.url);
    CHECK(error.find("migration 7") != std::string::npos);
    // Remove the obstacle: migrations 7 to 10 apply.
    PgExec(rig.url, "CREATE INDEX links_external ON links(plugin)");
    CHECK(OpenError(rig.url).empty());
  }

  TEST_CASE("release all leases returns the leases of a store that is gone, in doubt") {
    PgRig rig;
    std::set<int64_t> leased_ids;
    {
      auto first = rig.OpenAnother();
      first->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b"),
                     PropertyEvent("e3", "prop-1", "c")},
                    kT0);
      for (const LeasedJob& j : first->Lease(kPlugin, 2, kT0, kLeaseMs)) leased_ids.insert(j.id);
      REQUIRE(leased_ids.size() == 2u);
    }
    // A new process: the leases of the old one (whose session ended) return.
    auto& store = rig.store;
    CHECK(store->Stats().leased == 2);
    // The server ends the old session a moment after its connection closes.
    int64_t released = 0;
    CHECK(crmsync::testing::WaitUntil([&] {
      released += store->ReleaseAllLeases();
      return released >= 2;
    }));
    CHECK(released == 2);
    CHECK(store->ReleaseAllLeases() == 0);
    QueueStats s = store->Stats();
    CHECK(s.leased == 0);
    CHECK(s.ready == 3);
    std::vector<LeasedJob> jobs = LeaseAll(*store, kT0 + 1);
    REQUIRE(jobs.size() == 3u);
    for (const LeasedJob& j : jobs) CHECK(j.in_doubt == (leased_ids.count(j.id) == 1));
  }

  TEST_CASE("release all leases never takes the leases of another live engine") {
    PgRig rig;
    auto other = rig.OpenAnother();
    other->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b")}, kT0);
    REQUIRE(other->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
    REQUIRE(rig.store->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
    CHECK(rig.store->ReleaseAllLeases() == 1);  // its own only
    CHECK(rig.store->Stats().leased == 1);
    CHECK(rig.store->Promote(kT0 + 1) == 0);  // the other's lease is live and unexpired
    other.reset();  // that engine dies: its lease comes back before expiry, in doubt
    int64_t moved = 0;
    CHECK(crmsync::testing::WaitUntil([&] {
      moved += rig.store->Promote(kT0 + 2);
      return moved >= 1;
    }));
    CHECK(moved == 1);
    std::vector<LeasedJob> jobs = LeaseAll(*rig.store, kT0 + 3);
    REQUIRE(jobs.size() == 2u);
    CHECK(std::count_if(jobs.begin(), jobs.end(), [](const LeasedJob& j) { return j.in_doubt; }) ==
          2);
  }

  TEST_CASE("an engine whose liveness session was lost takes it again before leasing more") {
    PgRig rig;
    auto a = rig.OpenAnother();
    auto b = rig.OpenAnother();
    a->Accept({LeadEvent("e1", "lead-1", "a"), LeadEvent("e2", "lead-2", "b")}, kT0);
    REQUIRE(a->Lease(kPlugin, 1, kT0, kLeaseMs).size() == 1u);
    const std::string owner = std::to_string(a->owner_id());
    // The server ends A's liveness session (as a restart would)...
    PgExec(rig.url,
           "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
           "classid = 1668443507 AND objsubid = 2 AND objid = " + owner +
               // The server may be shared with other test processes' databases.
               " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
    REQUIRE(crmsync::testing::WaitUntil([&] { return b->LiveOwners().count(a->owner_id()) == 0; }));
    // ...and someone holds A's owner lock, so A cannot take it again yet.
    PgConn squatter(rig.url);
    squatter.Exec("SELECT pg_advisory_lock(1668443507, " + owner + ")");
    std::string error;
    try {
      a->Promote(kT0 + 1);
    } catch (const StoreError& e) {
      error = e.what();
    }
    CHECK(error.find("lost the session that marks this engine alive") != std::string::npos);
    error.clear();
    try {
      a->Lease(kPlugin, 1, kT0 + 1, kLeaseMs);
    } catch (const StoreError& e) {
      error = e.what();
    }
    CHECK(error.find("not leasing") != std::string::npos);
    // Free again: A's ticker takes its lock back, leases again, and B leaves
    // A's lease alone.
    squatter.Exec("SELECT pg_advisory_unlock(1668443507, " + owner + ")");
    CHECK(a->Promote(kT0 + 2) == 0);
    CHECK(b->LiveOwners().count(a->owner_id()) == 1);
    CHECK(b->Promote(kT0 + 3) == 0);
    CHECK(a->Stats().leased == 1);
    CHECK(a->Lease(kPlugin, 1, kT0 + 4, kLeaseMs).size() == 1u);
  }

  TEST_CASE("two engines leasing from one database never share a job or an entity") {
    PgRig rig;
    auto a = rig.OpenAnother(4);
    auto b = rig.OpenAnother(4);
    // 4 threads, 2 per engine; an empty lease just tries again.
    CheckConcurrentLeasing({a.get(), b.get()}, 4, 40, 4, [](Store&) {});
  }

  TEST_CASE("two engines accepting events of the same entities keep one head each") {
    PgRig rig;
    auto a = rig.OpenAnother(4);
    auto b = rig.OpenAnother(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        PgStore& store = t % 2 ? *a : *b;
        for (int i = 0; i < 20; ++i) {
          std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
          store.Accept({LeadEvent(id + "-x", "lead-" + std::to_string(i % 5), id, false),
                        LeadEvent(id + "-y", "lead-" + std::to_string((i + 2) % 5), id, false)},
                       kT0 + i);
        }
      });
    }
    for (std::thread& th : threads) th.join();
    QueueStats s = rig.store->Stats();
    CHECK(s.ready == 5);  // one head per lead
    CHECK(s.queued == 4 * 20 * 2 - 5);
    CHECK(s.events_total == 160);
  }

  TEST_CASE("coalescing never absorbs into a job another engine leased meanwhile") {
    // Engine A accepts update after update of one lead while engine B leases
    // and completes: the newest state must always reach a lease, never vanish
    // into a job already handed out.
    PgRig rig;
    auto a = rig.OpenAnother(2);
    auto b = rig.OpenAnother(2);
    const int kUpdates = 150;
    std::atomic<bool> accepting{true};
    std::string last_sent;
    std::thread worker([&] {
      while (true) {
        bool was_accepting = accepting.load();
        std::vector<LeasedJob> jobs = b->Lease(kPlugin, 5, kT0 + 1, kLeaseMs);
        for (const LeasedJob& j : jobs) {
          last_sent = PayloadLead(j.payload).name.value_or("");
          b->Complete(kPlugin, {Done(j)}, kT0 + 2);
        }
        if (jobs.empty() && !was_accepting) break;
      }
    });
    for (int i = 0; i < kUpdates; ++i) {
      a->Accept({LeadEvent("u-" + std::to_string(i), "lead-1", "v" + std::to_string(i))}, kT0);
    }
    accepting = false;
    worker.join();
    CHECK(last_sent == "v" + std::to_string(kUpdates - 1));
    QueueStats s = rig.store->Stats();
    CHECK(s.ready + s.queued + s.leased + s.delayed == 0);
    CHECK(s.done + s.coalesced_total == kUpdates);
  }

  // --- ported from sqlite_store_test.cpp ----------------------------------------

}  // TEST_SUITE

}  // namespace crmsync::engine
