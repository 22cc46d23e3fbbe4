// common/conn_pool.h: at most N connections to a server, opened on demand by a
// factory and reused; shared by the PostgreSQL store and the Redis queue.
//
// Conn needs `bool Healthy() const`: a broken connection given back is closed
// instead of kept. Thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_CONN_POOL_H_
#define CRMSYNC_ENGINE_COMMON_CONN_POOL_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace crmsync::engine {

template <typename Conn>
class ConnPool {
 public:
  /// `open` makes one connection (and throws when it cannot).
  ConnPool(std::function<std::unique_ptr<Conn>()> open, int size)
      : open_conn_(std::move(open)), size_(size < 1 ? 1 : size) {}

  /// A connection for the caller alone; waits while all are in use.
  std::unique_ptr<Conn> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
    lock.unlock();
    try {
      return open_conn_();
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
  }

  /// Gives a connection back; a broken one is closed instead.
  void Release(std::unique_ptr<Conn> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (conn && conn->Healthy()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;  // closed when `conn` goes out of scope
    }
    cv_.notify_one();
  }

  int size() const { return size_; }

 private:
  std::function<std::unique_ptr<Conn>()> open_conn_;
  int size_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;
  int open_ = 0;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_CONN_POOL_H_
