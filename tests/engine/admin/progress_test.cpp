// Tests of the long commands' progress line (app/progress.h), on a manual
// clock: the bar, the rate since the bar started, the ETA, and how often it
// prints on a terminal and off one.
#include "app/progress.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <sstream>
#include <string>

namespace crmsync::engine {
namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("progress: bar, percentage, counts with separators, rate and ETA") {
  int64_t now = 0;
  std::ostringstream out;
  ProgressBar bar(out, "lines", true, [&] { return now; });
  bar.Update(0, 500000);
  now = 10000;
  CHECK(bar.Line(210000, 500000) == "[########------------]  42%  210,000/500,000 lines  21,000/s  ETA 0:13");
  CHECK(bar.Line(500000, 500000) == "[####################] 100%  500,000/500,000 lines  50,000/s");
}

TEST_CASE("progress: a resumed run's rate counts only this run's work") {
  int64_t now = 0;
  std::ostringstream out;
  ProgressBar bar(out, "lines", false, [&] { return now; });
  bar.Update(400000, 500000);  // resumed at 400,000
  now = 2000;
  CHECK(bar.Line(410000, 500000) == "[################----]  82%  410,000/500,000 lines  5,000/s  ETA 0:18");
}

TEST_CASE("progress: unknown total, nothing done yet, and durations") {
  int64_t now = 0;
  std::ostringstream out;
  ProgressBar bar(out, "records", true, [&] { return now; });
  bar.Update(0, 0);
  CHECK(bar.Line(0, 0) == "0 records");
  now = 5000;
  CHECK(bar.Line(1234567, 0) == "1,234,567 records  246,913/s");
  CHECK(bar.Line(0, 10) == "[--------------------]   0%  0/10 records  0/s  ETA --:--");
  CHECK(Duration(3725) == "1:02:05");
  CHECK(Duration(-3) == "0:00");
}

TEST_CASE("progress: a terminal redraws in place at most 5 times a second, a log gets a line per 10 s") {
  int64_t now = 0;
  std::ostringstream tty_out;
  ProgressBar tty(tty_out, "lines", true, [&] { return now; });
  for (int i = 0; i < 100; ++i, now += 10) tty.Update(i, 100);  // 1 s of updates
  CHECK(Count(tty_out.str(), "\r") == 5);
  CHECK(Count(tty_out.str(), "\n") == 0);
  tty.Finish(100, 100);
  CHECK(tty_out.str().back() == '\n');
  tty.Finish(100, 100);  // once only
  CHECK(Count(tty_out.str(), "\n") == 1);

  now = 0;
  std::ostringstream log_out;
  ProgressBar log(log_out, "lines", false, [&] { return now; });
  for (int i = 0; i < 300; ++i, now += 100) log.Update(i, 300);  // 30 s
  CHECK(Count(log_out.str(), "\n") == 3);
  CHECK(Count(log_out.str(), "\r") == 0);
}

}  // namespace
}  // namespace crmsync::engine
