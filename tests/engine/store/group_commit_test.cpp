// group_commit_test.cpp: the GroupCommitter on its own, over a real SQLite file:
// writes are durable when Submit returns, a write that throws is rolled back
// alone (its SAVEPOINT), a failed COMMIT fails every write of its group, and
// concurrent callers share groups.
//
// To put several writes in one group the tests hold the writer thread inside a
// "blocker" write until every caller has started, then let go; each write
// records groups() as it runs, which is the same number for every write of one
// group, so a test can check which writes shared a group instead of assuming it.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/group_commit.h"
#include "store/sqlite_db.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

using crmsync::testing::TempDir;
using Write = std::function<void(Db&)>;

// A database file with one table, a writer connection owned by a committer and
// a reader connection for checks.
class Fixture {
 public:
  Fixture() : path_(dir_.File("gc.db")) {
    writer_ = std::make_unique<Db>(path_, true);
    writer_->Exec("PRAGMA journal_mode=WAL");
    writer_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
    committer_ = std::make_unique<GroupCommitter>(writer_.get());
    reader_ = std::make_unique<Db>(path_, false);
  }
  ~Fixture() {
    committer_.reset();
    reader_.reset();
    writer_.reset();
  }

  GroupCommitter& committer() { return *committer_; }

  bool Has(const std::string& key) {
    auto stmt = reader_->Prepare("SELECT 1 FROM t WHERE k = ?1");
    stmt->Bind(1, key);
    return stmt->Step();
  }
  int64_t Rows() {
    auto stmt = reader_->Prepare("SELECT count(*) FROM t");
    return stmt->Step() ? stmt->ColumnInt(0) : -1;
  }

 private:
  TempDir dir_;
  std::string path_;
  std::unique_ptr<Db> writer_;
  std::unique_ptr<GroupCommitter> committer_;
  std::unique_ptr<Db> reader_;
};

void Insert(Db& db, const std::string& key) {
  auto stmt = db.Prepare("INSERT INTO t (k) VALUES (?1)");
  stmt->Bind(1, key).Run();
}

Write InsertWrite(const std::string& key) {
  return [key](Db& db) { Insert(db, key); };
}

struct WriteResult {
  int64_t group = -1;  ///< groups() seen while the write ran; -1 when it never ran.
  bool ok = false;
  std::string error;
};

// Submits each write from its own thread while the writer is held in a blocker
// write, so they queue up together. When `fail_commit`, the blocker arms the
// commit failure for the group that follows it.
std::vector<WriteResult> SubmitTogether(GroupCommitter& committer, const std::vector<Write>& writes,
                                        bool fail_commit) {
  const int n = static_cast<int>(writes.size());
  std::atomic<bool> holding{false};
  std::atomic<int> started{0};
  std::vector<WriteResult> results(writes.size());
  std::thread blocker([&] {
    committer.Submit([&](Db&) {
      holding = true;
      while (started.load() < n) std::this_thread::yield();
      if (fail_commit) committer.FailNextCommitForTesting();
    });
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      while (!holding.load()) std::this_thread::yield();
      ++started;
      try {
        committer.Submit([&, i](Db& db) {
          results[i].group = committer.groups();
          writes[i](db);
        });
        results[i].ok = true;
      } catch (const std::exception& e) {
        results[i].error = e.what();
      }
    });
  }
  blocker.join();
  for (std::thread& t : threads) t.join();
  return results;
}

bool OneGroup(const std::vector<WriteResult>& results) {
  std::set<int64_t> groups;
  for (const WriteResult& r : results) groups.insert(r.group);
  return groups.size() == 1 && *groups.begin() >= 0;
}

}  // namespace

TEST_SUITE("engine.store") {
  TEST_CASE("group commit makes a write durable when Submit returns") {
    Fixture f;
    f.committer().Submit(InsertWrite("a"));
    CHECK(f.Has("a"));
    f.committer().Submit(InsertWrite("b"));
    CHECK(f.Rows() == 2);
    CHECK(f.committer().groups() == 2);
    CHECK(f.committer().writes() == 2);
  }

  TEST_CASE("group commit rethrows what the write threw and rolls it back") {
    Fixture f;
    struct Custom : std::runtime_error {
      Custom() : std::runtime_error("custom failure") {}
    };
    CHECK_THROWS_AS(f.committer().Submit([](Db& db) {
      Insert(db, "half");
      throw Custom();
    }),
                    Custom);
    CHECK_FALSE(f.Has("half"));
    // A constraint violation inside a write is a StoreError for that write only.
    f.committer().Submit(InsertWrite("k"));
    CHECK_THROWS_AS(f.committer().Submit([](Db& db) {
      Insert(db, "k2");
      Insert(db, "k");
    }),
                    StoreError);
    CHECK_FALSE(f.Has("k2"));
    f.committer().Submit(InsertWrite("after"));
    CHECK(f.Rows() == 2);
  }

  TEST_CASE("a group that cannot begin fails its writes and the next group works") {
    TempDir dir;
    std::string path = dir.File("locked.db");
    Db writer(path, true);
    writer.Exec("PRAGMA journal_mode=WAL");
    writer.Exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
    Db other(path, false);
    {
      GroupCommitter committer(&writer);
      other.Exec("BEGIN IMMEDIATE");  // another process holds the write lock
      bool ran = false;
      CHECK_THROWS_AS(committer.Submit([&](Db& db) {
        ran = true;
        Insert(db, "blocked");
      }),
                      StoreError);
      CHECK_FALSE(ran);
      other.Exec("ROLLBACK");
      committer.Submit(InsertWrite("free"));
    }
    auto stmt = other.Prepare("SELECT group_concat(k) FROM t");
    REQUIRE(stmt->Step());
    CHECK(stmt->ColumnText(0) == "free");
  }

  TEST_CASE("a write that throws fails alone while the rest of its group commits") {
    Fixture f;
    bool shared = false;
    for (int attempt = 0; attempt < 20 && !shared; ++attempt) {
      std::string tag = std::to_string(attempt);
      std::vector<Write> writes = {
          InsertWrite("good1-" + tag),
          [tag](Db& db) {
            Insert(db, "bad-" + tag);
            throw std::runtime_error("write failed on purpose");
          },
          InsertWrite("good2-" + tag),
      };
      std::vector<WriteResult> r = SubmitTogether(f.committer(), writes, false);
      CHECK(r[0].ok);
      CHECK_FALSE(r[1].ok);
      CHECK(r[1].error == "write failed on purpose");
      CHECK(r[2].ok);
      CHECK(f.Has("good1-" + tag));
      CHECK_FALSE(f.Has("bad-" + tag));
      CHECK(f.Has("good2-" + tag));
      shared = OneGroup(r);
    }
    CHECK(shared);  // at least once all three were in one group
  }

  TEST_CASE("a failed commit fails every write of its group and keeps none of them") {
    Fixture f;
    f.committer().Submit(InsertWrite("before"));
    bool shared = false;
    for (int attempt = 0; attempt < 20 && !shared; ++attempt) {
      std::string tag = std::to_string(attempt);
      std::vector<Write> writes;
      for (int i = 0; i < 4; ++i) {
        writes.push_back(InsertWrite("w" + std::to_string(i) + "-" + tag));
      }
      std::vector<WriteResult> r = SubmitTogether(f.committer(), writes, true);
      // The writes that ran in the first group after the blocker failed; any
      // that came later committed.
      int64_t first_group = -1;
      for (const WriteResult& w : r) {
        if (first_group < 0 || w.group < first_group) first_group = w.group;
      }
      int failed = 0;
      for (size_t i = 0; i < r.size(); ++i) {
        std::string key = "w" + std::to_string(i) + "-" + tag;
        INFO("write ", i, " group ", r[i].group, " error ", r[i].error);
        if (r[i].group == first_group) {
          CHECK_FALSE(r[i].ok);
          CHECK(r[i].error.find("COMMIT failed") != std::string::npos);
          CHECK_FALSE(f.Has(key));
          ++failed;
        } else {
          CHECK(r[i].ok);
          CHECK(f.Has(key));
        }
      }
      CHECK(failed >= 1);
      shared = OneGroup(r);
    }
    CHECK(shared);
    CHECK(f.Has("before"));
    // The hook is one-shot: the next write commits.
    f.committer().Submit(InsertWrite("after"));
    CHECK(f.Has("after"));
  }

  TEST_CASE("concurrent submits share groups") {
    Fixture f;
    const int kThreads = 8;
    const int kPerThread = 100;
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          try {
            f.committer().Submit(InsertWrite(std::to_string(t) + ":" + std::to_string(i)));
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    CHECK(errors.load() == 0);
    CHECK(f.Rows() == kThreads * kPerThread);
    CHECK(f.committer().writes() == kThreads * kPerThread);
    INFO("groups ", f.committer().groups());
    CHECK(f.committer().groups() < f.committer().writes());
  }

  TEST_CASE("SubmitAsync: done runs once the write is durable, with its error or the commit's") {
    Fixture f;
    // Durable when done runs: the reader sees the row from inside the callback.
    std::promise<bool> seen;
    f.committer().SubmitAsync(InsertWrite("async"), [&](std::exception_ptr error) {
      seen.set_value(!error && f.Has("async"));
    });
    CHECK(seen.get_future().get());

    // A write that throws fails alone and is rolled back.
    std::promise<std::string> failed;
    f.committer().SubmitAsync(
        [](Db& db) {
          Insert(db, "half");
          throw std::runtime_error("write failed");
        },
        [&](std::exception_ptr error) {
          try {
            if (error) std::rethrow_exception(error);
            failed.set_value("no error");
          } catch (const std::exception& e) {
            failed.set_value(e.what());
          }
        });
    CHECK(failed.get_future().get() == "write failed");
    CHECK_FALSE(f.Has("half"));

    // A failed commit reaches every asynchronous write of its group.
    f.committer().FailNextCommitForTesting();
    std::promise<bool> commit_failed;
    f.committer().SubmitAsync(InsertWrite("lost"), [&](std::exception_ptr error) {
      commit_failed.set_value(error != nullptr);
    });
    CHECK(commit_failed.get_future().get());
    CHECK_FALSE(f.Has("lost"));
  }

  TEST_CASE("SubmitAsync on a closing committer is refused at once, queued writes still finish") {
    TempDir dir;
    Db writer(dir.File("gc.db"), true);
    writer.Exec("PRAGMA journal_mode=WAL");
    writer.Exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
    auto committer = std::make_unique<GroupCommitter>(&writer);
    GroupCommitter* raw = committer.get();
    // The writer is held inside a write, so the destructor waits for it.
    std::atomic<bool> release{false};
    std::atomic<bool> holding{false};
    raw->SubmitAsync(
        [&](Db&) {
          holding = true;
          while (!release.load()) std::this_thread::yield();
        },
        [](std::exception_ptr) {});
    while (!holding.load()) std::this_thread::yield();
    std::thread closer([&] { committer.reset(); });
    std::atomic<int> durable{0};
    std::atomic<int> queued{0};
    std::string refusal;
    while (refusal.empty()) {  // until the closing committer refuses one
      ++queued;
      raw->SubmitAsync(InsertWrite("k" + std::to_string(queued.load())),
                       [&](std::exception_ptr error) {
                         if (!error) {
                           ++durable;
                           return;
                         }
                         try {
                           std::rethrow_exception(error);
                         } catch (const StoreError& e) {
                           refusal = e.what();
                         }
                       });
    }
    release = true;
    closer.join();
    CHECK(refusal.find("closing") != std::string::npos);
    CHECK(durable.load() == queued.load() - 1);  // every write queued before it was done
  }
}

}  // namespace crmsync::engine
