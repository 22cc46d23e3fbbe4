// store/group_commit.h: one writer thread that runs every write of the store
// in shared transactions (group commit): whatever writes are waiting when a
// transaction starts go into it, so one fsync serves many callers.
//
// Each write runs inside its own SAVEPOINT: a write that throws is rolled back
// alone and its caller gets the error; a failed COMMIT fails every write of the
// group and nothing of them is kept. Submit() is thread-safe and blocks until
// the caller's write is durable (or failed).
#ifndef CRMSYNC_ENGINE_STORE_GROUP_COMMIT_H_
#define CRMSYNC_ENGINE_STORE_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "store/sqlite_db.h"
#include "store/store_health.h"

namespace crmsync::engine {

class GroupCommitter {
 public:
  /// Runs writes on `db`, which the committer then owns exclusively.
  explicit GroupCommitter(Db* db);
  /// Finishes the writes already submitted, then stops the thread.
  ~GroupCommitter();
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  /// Runs `write` in the next group and waits for its commit. Rethrows what
  /// `write` threw, or StoreError when the group's commit failed.
  void Submit(const std::function<void(Db&)>& write);
  /// Runs `write` in the next group without waiting: `done` runs on the
  /// committer's thread after the commit, with what `write` threw or the
  /// group's commit error (nullptr when durable). Refused at once (done with
  /// StoreError) while the committer is closing.
  void SubmitAsync(std::function<void(Db&)> write, std::function<void(std::exception_ptr)> done);

  /// Groups committed so far, and writes in them (for tests and benchmarks).
  int64_t groups() const;
  int64_t writes() const;

  /// The outcome of the latest group that failed or wrote a page
  /// (WriteOutcome::count counts those groups): a group that wrote nothing
  /// commits even on a full disk, so it is no evidence. A group fails when
  /// BEGIN or COMMIT fails, or when one of its writes failed for a reason of
  /// the storage itself (full disk, I/O error, read-only or corrupt file),
  /// not for its own (a constraint, a conflict).
  WriteOutcome last_outcome() const;

  /// Test hook: makes the next COMMIT fail (as a full disk would).
  void FailNextCommitForTesting();

 private:
  // One caller's write; its own condition variable, so finishing a group wakes
  // exactly its callers.
  // An asynchronous one owns its write and has `on_done` instead of a waiter.
  struct Pending {
    const std::function<void(Db&)>* write = nullptr;
    std::exception_ptr error;
    bool done = false;
    std::condition_variable cv;
    std::function<void(Db&)> owned_write;
    std::function<void(std::exception_ptr)> on_done;
  };
  void Run();

  Db* db_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  bool fail_next_commit_ = false;
  int64_t groups_ = 0;
  int64_t writes_ = 0;
  WriteOutcome last_outcome_;
  std::thread thread_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_STORE_GROUP_COMMIT_H_
