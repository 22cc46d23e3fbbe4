// write_probe_test.cpp: whether the SQLite store can write, as /readyz asks
// it (store/write_probe.h): the outcome of the latest real write when there is
// a fresh one, else a probe write at most once per interval (ManualClock).
// The failures are real where the machine allows: a full tmpfs (mounting needs
// root; the case says so and stops without it), and the committer's injected
// COMMIT failure otherwise. (A file system cannot be remounted read-only under
// an open store: Linux refuses while files are open for writing.)
#include <doctest/doctest.h>

#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/clock.h"
#include "store/sqlite_store.h"
#include "store/write_probe.h"
#include "small_tmpfs.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::TempDir;

constexpr int64_t kIntervalMs = 5000;

std::unique_ptr<SqliteStore> OpenAt(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  return SqliteStore::Open(options);
}

using crmsync::testing::SmallTmpfs;

// A store in a scratch folder whose latest write failed (the committer's
// injected COMMIT failure), after a probe that found it writable.
struct FailedWriteRig {
  TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenAt(dir.File("s.db"));
  ManualClock clock;
  WriteProbe probe{store.get(), &clock, kIntervalMs};

  FailedWriteRig() {
    std::string why;
    REQUIRE(probe.Check(&why));
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS_AS(store->SetSyncState("mock-crm", true, ""), StoreError);
  }
};


TEST_SUITE("engine.store.write_probe") {
  TEST_CASE("an idle store is probed at most once per interval") {
    TempDir dir;
    auto store = OpenAt(dir.File("s.db"));
    ManualClock clock;
    WriteProbe probe(store.get(), &clock, kIntervalMs);
    std::string why;
    CHECK(probe.Check(&why));  // the first answer is a probe
    CHECK(probe.probes() == 1);
    for (int i = 0; i < 100; ++i) CHECK(probe.Check(&why));
    clock.Advance(kIntervalMs - 1);
    CHECK(probe.Check(&why));
    CHECK(probe.probes() == 1);
    clock.Advance(1);
    CHECK(probe.Check(&why));
    CHECK(probe.probes() == 2);
  }

  TEST_CASE("a failed real write answers at once and a later probe brings the answer back") {
    FailedWriteRig rig;
    auto& store = rig.store;
    ManualClock& clock = rig.clock;
    WriteProbe& probe = rig.probe;
    std::string why;
    CHECK_FALSE(store->LastWrite().ok);
    CHECK_FALSE(probe.Check(&why));
    CHECK(why == "COMMIT failed (injected by a test)");
    CHECK(probe.probes() == 1);  // the real write answered; no probe was needed

    clock.Advance(kIntervalMs - 1);
    CHECK_FALSE(probe.Check(&why));  // nothing newer yet
    clock.Advance(1);
    CHECK(probe.Check(&why));  // the probe write succeeds
    CHECK(probe.probes() == 2);

    // A successful real write is fresher than the last probe.
    store->committer().FailNextCommitForTesting();
    CHECK_THROWS(store->SetSyncState("mock-crm", true, ""));
    CHECK_FALSE(probe.Check(&why));
    store->SetSyncState("mock-crm", true, "");
    CHECK(probe.Check(&why));
    CHECK(probe.probes() == 2);
  }

  TEST_CASE("a write that fails for its own reason is not a storage failure") {
    TempDir dir;
    auto store = OpenAt(dir.File("s.db"));
    CHECK_THROWS(store->committer().Submit([](Db&) { throw std::runtime_error("bad input"); }));
    CHECK(store->LastWrite().ok);
    CHECK_THROWS(store->committer().Submit([](Db& db) { db.Exec("INSERT INTO no_such_table VALUES (1)"); }));
    CHECK(store->LastWrite().ok);
    CHECK(store->LastWrite().count == 0);  // both rolled back: nothing was written
    store->SetSyncState("mock-crm", true, "");
    CHECK(store->LastWrite().ok);
    CHECK(store->LastWrite().count == 1);
  }

  TEST_CASE("a group that writes no page leaves the last outcome as it was") {
    // On a full disk such a group (a lease or a promotion finding nothing)
    // still commits; it must not turn readiness back to "can write".
    FailedWriteRig rig;
    auto& store = rig.store;
    WriteProbe& probe = rig.probe;
    std::string why;
    const WriteOutcome failed = store->LastWrite();
    CHECK_FALSE(failed.ok);
    store->committer().Submit([](Db& db) { db.Exec("UPDATE jobs SET attempts = 0 WHERE 0"); });
    CHECK(store->LastWrite().count == failed.count);
    CHECK_FALSE(probe.Check(&why));
    CHECK(why == "COMMIT failed (injected by a test)");
    store->SetSyncState("mock-crm", true, "");  // a write of a page: fresh evidence
    CHECK(store->LastWrite().count == failed.count + 1);
    CHECK(probe.Check(&why));
  }

  TEST_CASE("a full disk fails the real write and readiness says so") {
    SmallTmpfs fs("1m");
    if (!fs.mounted()) {
      MESSAGE("cannot mount a tmpfs here (" << fs.why() << "): the full-disk case is not run");
      return;
    }
    auto store = OpenAt(fs.File("s.db"));
    ManualClock clock;
    WriteProbe probe(store.get(), &clock, kIntervalMs);
    std::string why;
    REQUIRE(probe.Check(&why));
    REQUIRE(fs.Fill("filler"));
    // A write larger than anything the WAL already holds needs new blocks.
    CHECK_THROWS_AS(store->SetSyncState("mock-crm", false, std::string(512 * 1024, 'x')),
                    StoreError);
    CHECK_FALSE(store->LastWrite().ok);
    CHECK_FALSE(probe.Check(&why));
    CHECK(why.find("full") != std::string::npos);

    REQUIRE(std::remove(fs.File("filler").c_str()) == 0);
    store->SetSyncState("mock-crm", false, std::string(512 * 1024, 'x'));
    CHECK(probe.Check(&why));
  }
}

}  // namespace
}  // namespace crmsync::engine
