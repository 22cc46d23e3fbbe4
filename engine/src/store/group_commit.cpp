// The group-commit writer; see group_commit.h.
#include "store/group_commit.h"

#include <sqlite3.h>

#include <memory>
#include <vector>

namespace crmsync::engine {
namespace {

// Pages this connection has written to the database or its WAL so far.
int64_t PagesWritten(sqlite3* db) {
  int current = 0;
  int highwater = 0;
  if (sqlite3_db_status(db, SQLITE_DBSTATUS_CACHE_WRITE, &current, &highwater, 0) != SQLITE_OK) {
    return -1;
  }
  return current;
}

// True when the connection's latest error is the storage's, not the write's.
bool IsStorageFailure(sqlite3* db) {
  switch (sqlite3_errcode(db) & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
      return true;
    default:
      return false;
  }
}

std::string WhatOf(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

GroupCommitter::GroupCommitter(Db* db) : db_(db) { thread_ = std::thread([this] { Run(); }); }

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

void GroupCommitter::Submit(const std::function<void(Db&)>& write) {
  Pending pending;
  pending.write = &write;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) throw StoreError("the store is closing; write refused");
  queue_.push_back(&pending);
  work_cv_.notify_one();
  pending.cv.wait(lock, [&] { return pending.done; });
  if (pending.error) std::rethrow_exception(pending.error);
}

void GroupCommitter::SubmitAsync(std::function<void(Db&)> write,
                                 std::function<void(std::exception_ptr)> done) {
  auto pending = std::make_unique<Pending>();
  pending->owned_write = std::move(write);
  pending->write = &pending->owned_write;
  pending->on_done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(pending.release());
      work_cv_.notify_one();
      return;
    }
  }
  pending->on_done(std::make_exception_ptr(StoreError("the store is closing; write refused")));
}

int64_t GroupCommitter::groups() const {
  std::lock_guard<std::mutex> lock(mu_);
  return groups_;
}

int64_t GroupCommitter::writes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writes_;
}

WriteOutcome GroupCommitter::last_outcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_outcome_;
}

void GroupCommitter::FailNextCommitForTesting() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_next_commit_ = true;
}

void GroupCommitter::Run() {
  std::vector<Pending*> group;
  while (true) {
    bool fail_commit = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to do
      group.assign(queue_.begin(), queue_.end());
      queue_.clear();
      fail_commit = fail_next_commit_;
      fail_next_commit_ = false;
    }
    std::exception_ptr group_error;
    std::exception_ptr storage_error;  // a write's own failure that was the storage's
    const int64_t pages_before = PagesWritten(db_->handle());
    try {
      db_->Exec("BEGIN IMMEDIATE");
    } catch (...) {
      group_error = std::current_exception();
    }
    if (!group_error) {
      for (Pending* p : group) {
        try {
          db_->Exec("SAVEPOINT w");
          (*p->write)(*db_);
          db_->Exec("RELEASE w");
        } catch (...) {
          p->error = std::current_exception();
          if (!storage_error && IsStorageFailure(db_->handle())) storage_error = p->error;
          try {
            db_->Exec("ROLLBACK TO w");
            db_->Exec("RELEASE w");
          } catch (...) {
            group_error = std::current_exception();
            break;
          }
        }
      }
      try {
        if (group_error) throw StoreError("rollback of a failed write failed");
        if (fail_commit) throw StoreError("COMMIT failed (injected by a test)");
        db_->Exec("COMMIT");
      } catch (...) {
        group_error = std::current_exception();
        try {
          db_->Exec("ROLLBACK");
        } catch (...) {
        }
      }
    }
    std::vector<std::unique_ptr<Pending>> callbacks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Pending* p : group) {
        if (group_error) p->error = group_error;
        if (p->on_done) {
          callbacks.emplace_back(p);
          continue;
        }
        p->done = true;
        p->cv.notify_one();  // under the lock: the waiter owns `p` and may return at once
      }
      ++groups_;
      writes_ += static_cast<int64_t>(group.size());
      const std::exception_ptr failure = group_error ? group_error : storage_error;
      // A group that wrote no page (a lease or a promotion that found
      // nothing, writes that all rolled back) commits even on a full disk:
      // it says nothing of whether the store can write.
      if (failure || PagesWritten(db_->handle()) != pages_before) {
        ++last_outcome_.count;
        last_outcome_.ok = !failure;
        last_outcome_.error = failure ? WhatOf(failure) : "";
      }
    }
    for (auto& p : callbacks) {
      try {
        p->on_done(p->error);
      } catch (...) {
        // A callback's failure is its own; the committer goes on.
      }
    }
  }
}

}  // namespace crmsync::engine
