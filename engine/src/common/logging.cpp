// Log set-up and masking; see logging.h.
#include "common/logging.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <vector>

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Formatter.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Timestamp.h>

#include "common/json_writer.h"

namespace crmsync::engine {
namespace {

const char* LevelName(Poco::Message::Priority p) {
  switch (p) {
    case Poco::Message::PRIO_FATAL: return "fatal";
    case Poco::Message::PRIO_CRITICAL: return "critical";
    case Poco::Message::PRIO_ERROR: return "error";
    case Poco::Message::PRIO_WARNING: return "warning";
    case Poco::Message::PRIO_NOTICE: return "notice";
    case Poco::Message::PRIO_INFORMATION: return "info";
    case Poco::Message::PRIO_DEBUG: return "debug";
    case Poco::Message::PRIO_TRACE: return "trace";
  }
  return "info";
}

// Message parameters written as fields (Poco 1.11 cannot list a message's
// parameters, so the known ones are named here).
const char* const kLogFields[] = {"request_id", "event_id", "job_id", "entity",  "plugin",
                                  "route",      "outcome",  "attempt", "status", "delivery_id"};
// The one field that differs for every request, even when nothing else does.
constexpr char kPerRequestField[] = "request_id";

// {"ts":"...","level":"info","component":"crmsync.http","msg":"...", <params>}
class JsonFormatter : public Poco::Formatter {
 public:
  void format(const Poco::Message& msg, std::string& text) override {
    JsonObject line;
    line.Str("ts", Poco::DateTimeFormatter::format(msg.getTime(),
                                                   Poco::DateTimeFormat::ISO8601_FRAC_FORMAT))
        .Str("level", LevelName(msg.getPriority()))
        .Str("component", msg.getSource())
        .Str("msg", msg.getText());
    for (const char* name : kLogFields) {
      if (msg.has(name)) line.Str(name, msg.get(name));
    }
    text = line.Done();
  }
};

}  // namespace

void SetupLogging(const std::string& level, const std::string& format) {
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (format == "text") {
    formatter = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
  } else {
    formatter = new JsonFormatter();
  }
  Poco::AutoPtr<Poco::Channel> console(new Poco::ConsoleChannel(std::cerr));
  Poco::AutoPtr<Poco::FormattingChannel> formatting(
      new Poco::FormattingChannel(formatter, console));
  Poco::AutoPtr<Poco::Channel> channel(
      new RepeatFilterChannel(formatting, &SystemClock::Instance()));
  Poco::Logger::root().setChannel(channel);
  Poco::Logger::root().setLevel(level);
  // Loggers created before this call keep their old channel; update them too.
  std::vector<std::string> names;
  Poco::Logger::names(names);
  for (const std::string& name : names) {
    Poco::Logger::get(name).setChannel(channel);
    Poco::Logger::get(name).setLevel(level);
  }
}

void LogWith(Poco::Logger& logger, Poco::Message::Priority priority, const std::string& text,
             LogFields fields) {
  if (!logger.is(priority)) return;
  Poco::Message message(logger.name(), text, priority);
  for (const auto& [name, value] : fields) message.set(name, value);
  logger.log(message);
}

Poco::Logger& ComponentLogger(const std::string& component) {
  return Poco::Logger::get("crmsync." + component);
}

std::string GroupThousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

RepeatFilterChannel::RepeatFilterChannel(Poco::AutoPtr<Poco::Channel> next, Clock* clock,
                                         int64_t window_ms)
    : next_(std::move(next)), clock_(clock), window_ms_(window_ms) {
  advance_subscription_ = clock_->OnAdvance([this] {
    std::lock_guard<std::mutex> lock(mu_);
    FlushLocked(clock_->NowMs(), false);
  });
  thread_ = std::thread([this] { Run(); });
}

RepeatFilterChannel::~RepeatFilterChannel() {
  clock_->RemoveOnAdvance(advance_subscription_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    FlushLocked(0, true);
  }
  cv_.notify_all();
  thread_.join();
}

void RepeatFilterChannel::log(const Poco::Message& msg) {
  if (msg.getPriority() > Poco::Message::PRIO_WARNING) {
    next_->log(msg);
    return;
  }
  const int64_t now = clock_->NowMs();
  // The summary keeps the identifying fields, not the first request's id.
  Poco::Message first(msg.getSource(), msg.getText(), msg.getPriority());
  std::string fields;
  for (const char* name : kLogFields) {
    if (!msg.has(name) || std::string(name) == kPerRequestField) continue;
    fields += std::string(name) + "=" + msg.get(name) + "\n";
    first.set(name, msg.get(name));
  }
  std::lock_guard<std::mutex> lock(mu_);
  FlushLocked(now, false);
  Key key{msg.getSource(), static_cast<int>(msg.getPriority()), msg.getText(), fields};
  auto it = windows_.find(key);
  if (it != windows_.end()) {
    ++it->second.repeats;
    return;
  }
  const bool first_window = windows_.empty();
  windows_.emplace(std::move(key), Window{now + window_ms_, 0, std::move(first)});
  next_->log(msg);
  if (first_window) cv_.notify_all();  // the thread now has an end to wait for
}

void RepeatFilterChannel::close() {
  std::lock_guard<std::mutex> lock(mu_);
  FlushLocked(0, true);
}

int64_t RepeatFilterChannel::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t total = 0;
  for (const auto& [key, window] : windows_) total += window.repeats;
  return total;
}

void RepeatFilterChannel::FlushLocked(int64_t now_ms, bool all) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (!all && it->second.ends_ms > now_ms) {
      ++it;
      continue;
    }
    if (it->second.repeats > 0) {
      const std::string window = window_ms_ % 1000 == 0
                                     ? std::to_string(window_ms_ / 1000) + " s"
                                     : std::to_string(window_ms_) + " ms";
      Poco::Message summary(it->second.first);
      summary.setText(summary.getText() + " (repeated " + GroupThousands(it->second.repeats) +
                      (it->second.repeats == 1 ? " time" : " times") + " in the last " + window +
                      ")");
      summary.setTime(Poco::Timestamp());
      next_->log(summary);
    }
    it = windows_.erase(it);
  }
}

void RepeatFilterChannel::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (windows_.empty()) {
      cv_.wait(lock, [&] { return stopping_ || !windows_.empty(); });
      continue;
    }
    int64_t next_end = INT64_MAX;
    for (const auto& [key, window] : windows_) next_end = std::min(next_end, window.ends_ms);
    const int64_t wait_ms = next_end - clock_->NowMs();
    if (wait_ms > 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
      continue;
    }
    FlushLocked(clock_->NowMs(), false);
  }
}

}  // namespace crmsync::engine
