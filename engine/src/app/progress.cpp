// The progress line of the long commands; see progress.h.
#include "app/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "common/logging.h"

namespace crmsync::engine {

namespace {

constexpr int kBarWidth = 20;
constexpr int64_t kTtyEveryMs = 200;
constexpr int64_t kPlainEveryMs = 10000;

}  // namespace

std::string Duration(int64_t seconds) {
  seconds = std::max<int64_t>(0, seconds);
  char buf[32];
  if (seconds >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(seconds / 60),
                  static_cast<long long>(seconds % 60));
  }
  return buf;
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::ostream& out, std::string unit, bool tty,
                         std::function<int64_t()> now_ms)
    : out_(out), unit_(std::move(unit)), tty_(tty), now_ms_(std::move(now_ms)),
      start_ms_(now_ms_()) {}

std::string ProgressBar::Line(int64_t done, int64_t total) const {
  std::string line;
  if (total > 0) {
    const int64_t shown = std::clamp<int64_t>(done, 0, total);
    const int filled = static_cast<int>(shown * kBarWidth / total);
    line = "[" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(kBarWidth - filled), '-') + "] ";
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(shown * 100 / total));
    line += pct;
    line += "  " + GroupThousands(done) + "/" + GroupThousands(total) + " " + unit_;
  } else {
    line = GroupThousands(done) + " " + unit_;
  }
  // The rate counts what was done since this bar started (a resumed run's
  // earlier progress is not this run's speed).
  const int64_t elapsed_ms = now_ms_() - start_ms_;
  const int64_t base = start_done_ < 0 ? done : start_done_;
  if (elapsed_ms >= 1000) {
    const double rate = static_cast<double>(done - base) * 1000.0 / static_cast<double>(elapsed_ms);
    line += "  " + GroupThousands(static_cast<int64_t>(rate)) + "/s";
    if (total > 0 && done < total) {
      line += rate > 0 ? "  ETA " + Duration(static_cast<int64_t>((total - done) / rate))
                       : std::string("  ETA --:--");
    }
  }
  return line;
}

void ProgressBar::Update(int64_t done, int64_t total) {
  if (finished_) return;
  if (start_done_ < 0) start_done_ = done;
  const int64_t now = now_ms_();
  const int64_t every = tty_ ? kTtyEveryMs : kPlainEveryMs;
  if (last_print_ms_ >= 0 && now - last_print_ms_ < every) return;
  last_print_ms_ = now;
  if (tty_) {
    out_ << "\r" << Line(done, total) << "\x1b[K" << std::flush;
  } else {
    out_ << Line(done, total) << "\n" << std::flush;
  }
}

void ProgressBar::Finish(int64_t done, int64_t total) {
  if (finished_) return;
  if (start_done_ < 0) start_done_ = done;
  finished_ = true;
  if (tty_) {
    out_ << "\r" << Line(done, total) << "\x1b[K\n" << std::flush;
  } else {
    out_ << Line(done, total) << "\n" << std::flush;
  }
}

}  // namespace crmsync::engine
