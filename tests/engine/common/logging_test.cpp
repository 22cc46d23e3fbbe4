// logging_test.cpp: identical warnings and errors are written once per window
// and summarised with their count (RepeatFilterChannel, common/logging.h).
// Time is a ManualClock: moving it ends windows at once, nothing sleeps.
#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Message.h>

#include "common/clock.h"
#include "common/logging.h"
#include "test_support.h"

namespace crmsync::engine {
namespace {

// The channel behind the filter: keeps what it is given.
class Recorder : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(std::string(msg.getSource()) + " " +
                     std::to_string(static_cast<int>(msg.getPriority())) + " " + msg.getText());
    std::string fields;
    for (const char* name : {"job_id", "request_id"}) {
      if (msg.has(name)) fields += std::string(fields.empty() ? "" : " ") + name + "=" + msg.get(name);
    }
    fields_.push_back(fields);
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // Per line, its job_id and request_id fields as "name=value" ("" for none).
  std::vector<std::string> fields() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fields_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> fields_;
};

Poco::Message Error(const std::string& text, const std::string& request_id = "") {
  Poco::Message msg("crmsync.intake", text, Poco::Message::PRIO_ERROR);
  if (!request_id.empty()) msg.set("request_id", request_id);
  return msg;
}

const std::string kFull = "could not store 1 event(s): database or disk is full";

TEST_SUITE("engine.common.logging") {
  TEST_CASE("the first of identical errors is written at once, the repeats summed at window end") {
    ManualClock clock;
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(new RepeatFilterChannel(recorder, &clock, 60'000));
    // Each refused request has its own request id; the text is the same.
    for (int i = 0; i < 49'771; ++i) filter->log(Error(kFull, "r-" + std::to_string(i)));
    REQUIRE(recorder->lines().size() == 1);
    CHECK(recorder->lines()[0] == "crmsync.intake 3 " + kFull);
    CHECK(filter->pending() == 49'770);

    clock.Advance(59'999);  // still inside the window
    CHECK(recorder->lines().size() == 1);
    clock.Advance(1);  // the window ends: the summary is written without another message
    REQUIRE(recorder->lines().size() == 2);
    CHECK(recorder->lines()[1] ==
          "crmsync.intake 3 " + kFull + " (repeated 49,770 times in the last 60 s)");
    CHECK(filter->pending() == 0);

    // The next occurrence starts a new window and is written at once.
    filter->log(Error(kFull));
    CHECK(recorder->lines().size() == 3);
  }

  TEST_CASE("a different message is written at once and counted on its own") {
    ManualClock clock;
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(new RepeatFilterChannel(recorder, &clock, 60'000));
    filter->log(Error("a"));
    filter->log(Error("b"));
    filter->log(Error("a"));
    filter->log(Error("b"));
    filter->log(Error("b"));
    // Same text at another level or from another component is another message.
    filter->log(Poco::Message("crmsync.intake", "a", Poco::Message::PRIO_WARNING));
    filter->log(Poco::Message("crmsync.dispatch", "a", Poco::Message::PRIO_ERROR));
    CHECK(recorder->lines() == std::vector<std::string>{"crmsync.intake 3 a", "crmsync.intake 3 b",
                                                        "crmsync.intake 4 a",
                                                        "crmsync.dispatch 3 a"});
    clock.Advance(60'000);
    std::vector<std::string> lines = recorder->lines();
    REQUIRE(lines.size() == 6);
    CHECK(lines[4] == "crmsync.intake 3 a (repeated 1 time in the last 60 s)");
    CHECK(lines[5] == "crmsync.intake 3 b (repeated 2 times in the last 60 s)");
  }

  TEST_CASE("fields other than request_id tell messages apart and go on the summary") {
    ManualClock clock;
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(new RepeatFilterChannel(recorder, &clock, 60'000));
    auto dead = [](const std::string& job_id) {
      Poco::Message msg("crmsync.dispatch", "dead-lettered: invalid record",
                        Poco::Message::PRIO_WARNING);
      msg.set("job_id", job_id);
      return msg;
    };
    filter->log(dead("1"));
    filter->log(dead("2"));  // another job: its own line
    filter->log(dead("2"));
    CHECK(recorder->lines().size() == 2);
    CHECK(recorder->fields().back() == "job_id=2");
    clock.Advance(60'000);
    REQUIRE(recorder->lines().size() == 3);
    CHECK(recorder->lines()[2] ==
          "crmsync.dispatch 4 dead-lettered: invalid record (repeated 1 time in the last 60 s)");
    CHECK(recorder->fields()[2] == "job_id=2");
    // The summary of refused requests does not carry the first request's id.
    filter->log(Error(kFull, "r-1"));
    filter->log(Error(kFull, "r-2"));
    filter->close();
    REQUIRE(recorder->lines().size() == 5);
    CHECK(recorder->fields()[3] == "request_id=r-1");
    CHECK(recorder->fields()[4] == "");
  }

  TEST_CASE("a message seen once has no summary, and info lines are never filtered") {
    ManualClock clock;
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(new RepeatFilterChannel(recorder, &clock, 60'000));
    filter->log(Error("once"));
    for (int i = 0; i < 3; ++i) {
      filter->log(Poco::Message("crmsync.http", "listening", Poco::Message::PRIO_INFORMATION));
    }
    clock.Advance(120'000);
    CHECK(recorder->lines().size() == 4);
  }

  TEST_CASE("close() writes the counts still open, before their window ends") {
    ManualClock clock;
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(new RepeatFilterChannel(recorder, &clock, 60'000));
    filter->log(Error(kFull));
    filter->log(Error(kFull));
    filter->log(Error(kFull));
    filter->close();
    REQUIRE(recorder->lines().size() == 2);
    CHECK(recorder->lines()[1] == "crmsync.intake 3 " + kFull + " (repeated 2 times in the last 60 s)");
  }

  TEST_CASE("the system clock ends a window on its own (the channel's thread)") {
    Poco::AutoPtr<Recorder> recorder(new Recorder());
    Poco::AutoPtr<RepeatFilterChannel> filter(
        new RepeatFilterChannel(recorder, &SystemClock::Instance(), 50));
    filter->log(Error("x"));
    filter->log(Error("x"));
    // Waits for the event (the summary), not for a fixed time.
    REQUIRE(crmsync::testing::WaitUntil([&] { return recorder->lines().size() == 2; }));
    std::vector<std::string> lines = recorder->lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[1] == "crmsync.intake 3 x (repeated 1 time in the last 50 ms)");
  }

  TEST_CASE("counts are written with thousands separators") {
    CHECK(GroupThousands(0) == "0");
    CHECK(GroupThousands(999) == "999");
    CHECK(GroupThousands(1000) == "1,000");
    CHECK(GroupThousands(49770) == "49,770");
    CHECK(GroupThousands(1234567) == "1,234,567");
  }
}

}  // namespace
}  // namespace crmsync::engine
