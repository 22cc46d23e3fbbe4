// common/logging.h: log set-up: one line per record to stderr, JSON by default.
//
// Records carry a component (the Poco logger name) and may carry ids as
// message parameters (Poco::Message::set, names listed in logging.cpp); the
// JSON formatter writes them as fields. Callers log ids and outcomes, never payloads or secrets; MaskEmail()
// and MaskPhone() exist for the rare line that must mention a contact.
// Thread-safe (Poco's channels are).
#ifndef CRMSYNC_ENGINE_COMMON_LOGGING_H_
#define CRMSYNC_ENGINE_COMMON_LOGGING_H_

#include <string>

#include <Poco/Logger.h>

namespace crmsync::engine {

/// Points every logger at stderr with `format` ("json" or "text") and `level`
/// (a Poco level name: "information", "debug", ...).
void SetupLogging(const std::string& level, const std::string& format);

/// The logger of an engine component ("crmsync.<component>").
Poco::Logger& ComponentLogger(const std::string& component);

/// "jane.doe@example.com" -> "j***@example.com"; "" stays "".
std::string MaskEmail(const std::string& email);
/// "+91 98765 43210" -> "***3210" (last four digits kept).
std::string MaskPhone(const std::string& phone);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_LOGGING_H_
