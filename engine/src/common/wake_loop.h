// common/wake_loop.h: a background thread that runs a pass, then waits until
// it is woken or an interval passes, until stopped. The plumbing the inbound
// worker and the change-feed callback sender share.
//
// A pass that throws is reported to `on_error` and the loop goes on (the next
// pass tries again). Start/Stop from one thread; Wake() from any thread.
#ifndef CRMSYNC_ENGINE_COMMON_WAKE_LOOP_H_
#define CRMSYNC_ENGINE_COMMON_WAKE_LOOP_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace crmsync::engine {

class WakeLoop {
 public:
  WakeLoop() = default;
  ~WakeLoop() { Stop(); }
  WakeLoop(const WakeLoop&) = delete;
  WakeLoop& operator=(const WakeLoop&) = delete;

  /// Starts the thread: `pass` runs at once, then after each Wake() or when
  /// `interval` passed without one.
  void Start(std::chrono::milliseconds interval, std::function<void()> pass,
             std::function<void(const std::string&)> on_error) {
    interval_ = interval;
    pass_ = std::move(pass);
    on_error_ = std::move(on_error);
    thread_ = std::thread([this] { Run(); });
  }

  /// Another pass is wanted.
  void Wake() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }

  /// Lets the pass in hand finish and joins the thread. Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    while (true) {
      uint64_t seen = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;
        seen = generation_;
      }
      try {
        pass_();
      } catch (const std::exception& e) {
        on_error_(e.what());
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, interval_, [&] { return stopping_ || generation_ != seen; });
    }
  }

  std::chrono::milliseconds interval_{1000};
  std::function<void()> pass_;
  std::function<void(const std::string&)> on_error_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_WAKE_LOOP_H_
