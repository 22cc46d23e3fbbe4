// common/logging.h: log set-up: one line per record to stderr, JSON by default.
//
// Records carry a component (the Poco logger name) and may carry ids as
// message parameters (Poco::Message::set, names listed in logging.cpp); the
// JSON formatter writes them as fields. Callers log ids and outcomes, never
// payloads or secrets; text that may quote a contact or a token (a CRM's
// error, a request path) goes through crmsync::MaskSensitive()
// (crmsync/redact.h), the one masking function.
// Thread-safe (Poco's channels are).
#ifndef CRMSYNC_ENGINE_COMMON_LOGGING_H_
#define CRMSYNC_ENGINE_COMMON_LOGGING_H_

#include <initializer_list>
#include <string>
#include <utility>

#include <Poco/Logger.h>
#include <Poco/Message.h>

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

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_LOGGING_H_
