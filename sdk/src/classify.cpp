// The default outcome table (DESIGN.md §4), Retry-After parsing and CRM
// reason extraction.
//
// Pure functions of their arguments (DefaultClassify() without a time reads the
// system clock); thread-safe. Nothing here throws: every Poco or std exception
// is caught and turned into a conservative answer.
#include "crmsync/classify.h"

#include <chrono>
#include <exception>
#include <limits>
#include <regex>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync {
namespace {

constexpr size_t kMaxReasonBytes = 200;
// Delta seconds beyond this are clamped (about 31,700 years).
constexpr int64_t kMaxRetryAfterSeconds = 1000000000000LL;

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// At most kMaxReasonBytes bytes, control characters dropped, not cutting a
// UTF-8 sequence in half.
std::string CleanReason(const std::string& text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      if (c == '\n' || c == '\r' || c == '\t') {
        if (!out.empty() && out.back() != ' ') out += ' ';
      }
      continue;
    }
    out += c;
  }
  out = Trim(out);
  if (out.size() > kMaxReasonBytes) {
    size_t cut = kMaxReasonBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

// The reason a JSON value gives: a string, or an object's "message" string.
std::string ReasonFromValue(const Poco::Dynamic::Var& value) {
  if (value.isString()) return value.extract<std::string>();
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    Poco::JSON::Object::Ptr object = value.extract<Poco::JSON::Object::Ptr>();
    if (!object.isNull() && object->has("message")) {
      Poco::Dynamic::Var message = object->get("message");
      if (message.isString()) return message.extract<std::string>();
    }
  }
  return "";
}

std::string HttpMessage(int status, const std::string& reason) {
  std::string message = "HTTP " + std::to_string(status);
  if (!reason.empty()) message += ": " + reason;
  return message;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses one HTTP date form; false when `value` is not in it.
bool ParseHttpDate(const std::string& value, int64_t* unix_ms) {
  static const std::regex kRfc1123(
      R"(^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} (GMT|UTC|UT|Z|[+-]\d{4})$)");
  static const std::regex kRfc850(
      R"(^[A-Za-z]+, \d{1,2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} (GMT|UTC|UT|Z|[+-]\d{4})$)");
  static const std::regex kAsctime(R"(^[A-Za-z]{3} [A-Za-z]{3} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4}$)");
  const std::string* format = nullptr;
  if (std::regex_match(value, kRfc1123)) {
    format = &Poco::DateTimeFormat::RFC1123_FORMAT;
  } else if (std::regex_match(value, kRfc850)) {
    format = &Poco::DateTimeFormat::RFC850_FORMAT;
  } else if (std::regex_match(value, kAsctime)) {
    format = &Poco::DateTimeFormat::ASCTIME_FORMAT;
  } else {
    return false;
  }
  Poco::DateTime date_time;
  int tzd = 0;
  if (!Poco::DateTimeParser::tryParse(*format, value, date_time, tzd)) return false;
  date_time.makeUTC(tzd);
  *unix_ms = date_time.timestamp().epochMicroseconds() / 1000;
  return true;
}

}  // namespace

int64_t ParseRetryAfterMs(const std::string& value, int64_t now_unix_ms) noexcept {
  try {
    std::string text = Trim(value);
    if (text.empty()) return -1;
    bool digits = true;
    for (char c : text) {
      if (c < '0' || c > '9') digits = false;
    }
    if (digits) {
      int64_t seconds = 0;
      for (char c : text) {
        seconds = seconds * 10 + (c - '0');
        if (seconds > kMaxRetryAfterSeconds) {
          seconds = kMaxRetryAfterSeconds;
          break;
        }
      }
      return seconds * 1000;
    }
    int64_t date_ms = 0;
    if (!ParseHttpDate(text, &date_ms)) return -1;
    return date_ms > now_unix_ms ? date_ms - now_unix_ms : 0;
  } catch (...) {
    return -1;
  }
}

std::string ExtractCrmReason(const std::string& body) noexcept {
  try {
    std::string trimmed = Trim(body);
    if (!trimmed.empty() && trimmed.front() == '{') {
      try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(trimmed);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
          Poco::JSON::Object::Ptr object = parsed.extract<Poco::JSON::Object::Ptr>();
          for (const char* key : {"message", "error", "reason", "detail"}) {
            if (!object->has(key)) continue;
            std::string reason = CleanReason(ReasonFromValue(object->get(key)));
            if (!reason.empty()) return reason;
          }
        }
      } catch (const std::exception&) {
        // Not JSON after all: fall back to the raw text.
      }
    }
    return CleanReason(body);
  } catch (...) {
    return "";
  }
}

Status DefaultClassify(const HttpResponse& response, int64_t now_unix_ms) noexcept {
  try {
    if (response.error != TransportError::kNone) {
      std::string message = TransportErrorName(response.error);
      if (!response.error_message.empty()) message += ": " + response.error_message;
      return Status::Retryable(message);
    }
    const int status = response.status;
    if (status <= 0) return Status::Retryable("io: no HTTP status received");
    if (status >= 200 && status < 300) return Status::Ok();

    std::string reason = ExtractCrmReason(response.body);
    std::string message = HttpMessage(status, reason);
    int64_t retry_after_ms = -1;
    std::string retry_after = response.Header("Retry-After");
    if (!retry_after.empty()) retry_after_ms = ParseRetryAfterMs(retry_after, now_unix_ms);

    switch (status) {
      case 401:
      case 403:
        return Status::Unauthenticated(message);
      case 404:
        return Status::NotFound(message);
      case 409:
        return Status::Conflict(message);
      case 400:
      case 410:
      case 422:
        return Status::InvalidRecord(message);
      case 408:
        return Status::Retryable(message, retry_after_ms);
      case 429:
        return Status::RateLimited(message,
                                   retry_after_ms >= 0 ? retry_after_ms : kDefaultRateLimitWaitMs);
      default:
        break;
    }
    if (status >= 500 && status < 600) return Status::Retryable(message, retry_after_ms);
    return Status::Permanent(message);
  } catch (...) {
    return Status::Internal("classify failed");
  }
}

Status DefaultClassify(const HttpResponse& response) noexcept {
  return DefaultClassify(response, NowUnixMs());
}

}  // namespace crmsync
