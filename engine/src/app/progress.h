// app/progress.h: the progress line of the long commands (backfill,
// reconcile, resync): done of total, rate and ETA.
//
// On a terminal it redraws one line in place ("\r"), at most five times a
// second:
//   [##########----------]  42%  210,000/500,000 lines  8,400/s  ETA 0:35
// Off a terminal (a log, CI) it prints a plain line at most every 10 s, so a
// captured run stays readable. The clock is injected, for tests.
//
// Used from one thread.
#ifndef CRMSYNC_ENGINE_APP_PROGRESS_H_
#define CRMSYNC_ENGINE_APP_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace crmsync::engine {

class ProgressBar {
 public:
  /// `unit` names what is counted ("lines", "records"); `tty` chooses the
  /// in-place form; `now_ms` is the clock (milliseconds, any origin).
  ProgressBar(std::ostream& out, std::string unit, bool tty, std::function<int64_t()> now_ms);

  /// Records progress and prints when it is time to. `total` 0 means not
  /// known: no bar, no percentage, no ETA.
  void Update(int64_t done, int64_t total);

  /// Prints the final state once (and ends the terminal's line).
  void Finish(int64_t done, int64_t total);

  /// The line as it would print now (no "\r", no newline).
  std::string Line(int64_t done, int64_t total) const;

 private:
  std::ostream& out_;
  std::string unit_;
  bool tty_;
  std::function<int64_t()> now_ms_;
  int64_t start_ms_;
  int64_t start_done_ = -1;
  int64_t last_print_ms_ = -1;
  bool finished_ = false;
};

/// True when standard error is a terminal.
bool StderrIsTerminal();

/// Seconds as "M:SS" or "H:MM:SS".
std::string Duration(int64_t seconds);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_APP_PROGRESS_H_
