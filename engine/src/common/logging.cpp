// Log set-up and masking; see logging.h.
#include "common/logging.h"

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
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
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

}  // namespace crmsync::engine
