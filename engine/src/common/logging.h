// common/logging.h: log set-up: one line per record to stderr, JSON by default.
//
// Records carry a component (the Poco logger name) and may carry ids as
// message parameters (Poco::Message::set, names listed in logging.cpp); the
// JSON formatter writes them as fields. Callers log ids and outcomes, never
// payloads or secrets; text that may quote a contact or a token (a CRM's
// error, a request path) goes through crmsync::MaskSensitive()
// (crmsync/redact.h), the one masking function.
//
// Repeats are rate-limited: a warning or error whose component, level and text
// were already written in the last minute is counted instead of written, and
// one line "<text> (repeated N times in the last 60 s)" follows when that
// minute ends (RepeatFilterChannel). A full disk refusing every request thus
// costs two lines a minute, not one per request.
// Thread-safe (Poco's channels are; RepeatFilterChannel locks).
#ifndef CRMSYNC_ENGINE_COMMON_LOGGING_H_
#define CRMSYNC_ENGINE_COMMON_LOGGING_H_

#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include "common/clock.h"

namespace crmsync::engine {

/// Points every logger at stderr with `format` ("json" or "text") and `level`
/// (a Poco level name: "information", "debug", ...).
void SetupLogging(const std::string& level, const std::string& format);

/// The logger of an engine component ("crmsync.<component>").
Poco::Logger& ComponentLogger(const std::string& component);

/// Ids carried on a log line as JSON fields ({"request_id", "r-1f3a"}, ...).
/// Names must be among those logging.cpp writes (request_id, event_id, job_id,
/// entity, plugin, route, outcome, attempt, status, delivery_id).
using LogFields = std::initializer_list<std::pair<const char*, std::string>>;

/// Logs `text` at `priority` with `fields`, when the logger's level lets it through.
void LogWith(Poco::Logger& logger, Poco::Message::Priority priority, const std::string& text,
             LogFields fields);

/// A channel in front of `next` that writes the first of identical warnings
/// or errors (same source, level, text and fields, but for request_id, which
/// differs per request by design) at once and counts the repeats that follow
/// within `window_ms` of it. When the window ends, a count above zero is
/// written as one line at the same level, with the same fields: "<text>
/// (repeated 49,770 times in the last 60 s)"; the next occurrence after that
/// starts a new window. So a full disk refusing every request is two lines a
/// minute, while each dead-lettered job (its own job_id) is still its own
/// line. Notice, info and debug lines pass unfiltered.
///
/// Windows end on time: a thread waits for the earliest end, and a
/// ManualClock's Advance() ends them at once (tests); close() and destruction
/// write what is still counted. Thread-safe.
class RepeatFilterChannel : public Poco::Channel {
 public:
  static constexpr int64_t kDefaultWindowMs = 60'000;

  /// `clock` (not owned) must outlive the channel.
  RepeatFilterChannel(Poco::AutoPtr<Poco::Channel> next, Clock* clock,
                      int64_t window_ms = kDefaultWindowMs);

  void log(const Poco::Message& msg) override;
  /// Writes every pending count now, whether or not its window has ended.
  void close() override;
  /// Repeats counted so far and not yet summarised (tests).
  int64_t pending() const;

 protected:
  ~RepeatFilterChannel() override;

 private:
  // source, priority, text, and the fields but request_id ("name=value\n"...).
  using Key = std::tuple<std::string, int, std::string, std::string>;
  struct Window {
    int64_t ends_ms = 0;
    int64_t repeats = 0;
    Poco::Message first;  // its fields, request_id left out, go on the summary
  };
  // Writes the summaries of windows ended by `now_ms` (all when `all`); mu_ held.
  void FlushLocked(int64_t now_ms, bool all);
  void Run();

  Poco::AutoPtr<Poco::Channel> next_;
  Clock* clock_;
  const int64_t window_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, Window> windows_;
  bool stopping_ = false;
  int advance_subscription_ = -1;
  std::thread thread_;
};

/// "49,770": a count with thousands separators, for log lines.
std::string GroupThousands(int64_t n);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_LOGGING_H_
