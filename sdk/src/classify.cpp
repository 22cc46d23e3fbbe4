// The default outcome table (docs/design.md §4), Retry-After parsing and CRM
// reason extraction (field-level, masked with crmsync/redact.h).
//
// Pure functions of their arguments (DefaultClassify() without a time reads the
// system clock); thread-safe. Nothing here throws: every Poco or std exception
// is caught and turned into a conservative answer.
#include "crmsync/classify.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <limits>
#include <regex>
#include <vector>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/redact.h"

namespace crmsync {
namespace {

// Room for a few field-level reasons ("email: ... (INVALID_EMAIL); phone: ...").
constexpr size_t kMaxReasonBytes = 400;
// Only the start of a huge body (an HTML error page) is masked and kept.
constexpr size_t kMaxScanBytes = 8192;
// How deep ItemReason() follows wrappers ({"propertyValidationResult": {...}}).
constexpr int kMaxItemDepth = 3;
// Delta seconds beyond this are clamped (about 31,700 years).
constexpr int64_t kMaxRetryAfterSeconds = 1000000000000LL;

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// Masked (redact.h), at most kMaxReasonBytes bytes, control characters
// dropped, not cutting a UTF-8 sequence in half. Masking comes first so that
// the cut cannot leave half an address the mask no longer recognises.
std::string CleanReason(const std::string& text) {
  std::string out;
  for (char c : MaskSensitive(text.substr(0, kMaxScanBytes))) {
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

Object::Ptr AsObject(const Var& value) {
  return value.type() == typeid(Object::Ptr) ? value.extract<Object::Ptr>() : nullptr;
}
Array::Ptr AsArray(const Var& value) {
  return value.type() == typeid(Array::Ptr) ? value.extract<Array::Ptr>() : nullptr;
}

// The string at `key`, or "" when absent or not a string.
std::string StringAt(const Object::Ptr& object, const char* key) {
  if (object.isNull() || !object->has(key)) return "";
  Var value = object->get(key);
  return value.isString() ? value.extract<std::string>() : "";
}

// "INVALID_EMAIL", "MANDATORY_NOT_FOUND": an error code rather than a sentence.
bool IsCodeShaped(const std::string& text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  }
  return true;
}

// A field name, or several joined by ",": a string, or an array of strings.
std::string FieldNames(const Var& value) {
  if (value.isString()) return value.extract<std::string>();
  Array::Ptr array = AsArray(value);
  if (array.isNull()) return "";
  std::string names;
  for (unsigned int i = 0; i < array->size(); ++i) {
    Var name = array->get(i);
    if (!name.isString()) continue;
    if (!names.empty()) names += ",";
    names += name.extract<std::string>();
  }
  return names;
}

// The field an error item names, in the vendors' shapes: Salesforce "fields",
// HubSpot "name" and context.propertyName, Zoho details.api_name.
std::string ItemField(const Object::Ptr& item) {
  for (const char* key : {"fields", "field", "name", "propertyName", "api_name"}) {
    if (!item->has(key)) continue;
    std::string field = FieldNames(item->get(key));
    if (!field.empty()) return field;
  }
  for (const char* holder : {"details", "context"}) {
    Object::Ptr inner = item->has(holder) ? AsObject(item->get(holder)) : nullptr;
    if (inner.isNull()) continue;
    for (const char* key : {"api_name", "propertyName", "field", "fields"}) {
      if (!inner->has(key)) continue;
      std::string field = FieldNames(inner->get(key));
      if (!field.empty()) return field;
    }
  }
  return "";
}

// One error item as "<field>: <message> (<code>)"; parts it lacks are left out,
// "" when it has neither message nor code or reports success (a Zoho 207 mixes
// {"status":"success"} items with the failed ones).
std::string ItemReason(const Object::Ptr& item, int depth = 0) {
  if (item.isNull() || depth > kMaxItemDepth) return "";
  std::string status = StringAt(item, "status");
  for (char& c : status) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (status == "success") return "";
  // HubSpot batch failures wrap the item: {"index":3,"propertyValidationResult":{...}}
  // or {"index":33,"error":{"status":"error","message":"..."}}.
  for (const char* wrapper : {"propertyValidationResult", "error"}) {
    Object::Ptr inner = item->has(wrapper) ? AsObject(item->get(wrapper)) : nullptr;
    if (!inner.isNull() && !item->has("message")) return ItemReason(inner, depth + 1);
  }
  std::string message = StringAt(item, "message");
  std::string code = StringAt(item, "errorCode");
  if (code.empty() && item->has("code")) {
    Var value = item->get("code");
    if (value.isString() || value.isNumeric()) code = value.convert<std::string>();
  }
  const std::string error = StringAt(item, "error");  // HubSpot: "INVALID_EMAIL"
  if (code.empty() && IsCodeShaped(error)) code = error;
  if (message.empty() && !IsCodeShaped(error)) message = error;
  if (message.empty() && code.empty()) return "";
  std::string reason = message.empty() ? code : message;
  if (!message.empty() && !code.empty() && code != message) reason += " (" + code + ")";
  const std::string field = ItemField(item);
  return field.empty() ? reason : field + ": " + reason;
}

std::string Join(const std::vector<std::string>& parts, const char* separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

void AddReason(std::string reason, std::vector<std::string>* reasons) {
  if (reason.empty()) return;
  if (std::find(reasons->begin(), reasons->end(), reason) == reasons->end()) {
    reasons->push_back(std::move(reason));
  }
}

// Items are error objects, or plain strings ({"errors":["Email is invalid"]}).
void AddItemReasons(const Array::Ptr& items, std::vector<std::string>* reasons) {
  if (items.isNull()) return;
  for (unsigned int i = 0; i < items->size(); ++i) {
    Var item = items->get(i);
    AddReason(item.isString() ? item.extract<std::string>() : ItemReason(AsObject(item)), reasons);
  }
}

// Errors keyed by field, as Rails-style APIs answer:
// {"errors":{"email":["is invalid","is taken"],"phone":"is too short"}}.
void AddFieldMapReasons(const Object::Ptr& by_field, std::vector<std::string>* reasons) {
  if (by_field.isNull()) return;
  for (const std::string& field : by_field->getNames()) {
    Var value = by_field->get(field);
    Array::Ptr list = AsArray(value);
    std::vector<std::string> messages;
    AddItemReasons(list, &messages);
    if (value.isString()) messages.push_back(value.extract<std::string>());
    if (!messages.empty()) AddReason(field + ": " + Join(messages, ", "), reasons);
  }
}

// HubSpot puts its per-property results as JSON text inside the message:
// "Property values were not valid: [{\"isValid\":false,...}]".
Array::Ptr EmbeddedItems(const std::string& message) {
  const size_t open = message.find('[');
  const size_t close = message.rfind(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return nullptr;
  try {
    return AsArray(Poco::JSON::Parser().parse(message.substr(open, close - open + 1)));
  } catch (const std::exception&) {
    return nullptr;
  }
}

// The field-level reasons of a parsed error body, in the vendors' documented
// shapes: a top-level array (Salesforce), "data" (Zoho), "errors" (HubSpot,
// many others), "failureMessages" (HubSpot batch), items inside the message
// (HubSpot), or the body itself naming a field (Zoho single record).
std::vector<std::string> FieldReasons(const Var& parsed) {
  std::vector<std::string> reasons;
  Array::Ptr array = AsArray(parsed);
  if (!array.isNull()) {
    AddItemReasons(array, &reasons);
    return reasons;
  }
  Object::Ptr object = AsObject(parsed);
  if (object.isNull()) return reasons;
  AddItemReasons(EmbeddedItems(StringAt(object, "message")), &reasons);
  for (const char* key : {"data", "errors", "failureMessages"}) {
    if (object->has(key)) AddItemReasons(AsArray(object->get(key)), &reasons);
  }
  if (object->has("errors")) AddFieldMapReasons(AsObject(object->get("errors")), &reasons);
  if (reasons.empty() && !ItemField(object).empty()) {
    std::string reason = ItemReason(object);
    if (!reason.empty()) reasons.push_back(std::move(reason));
  }
  return reasons;
}

// The reason a JSON value gives: a string, or an object's "message" string.
std::string ReasonFromValue(const Var& value) {
  if (value.isString()) return value.extract<std::string>();
  Object::Ptr object = AsObject(value);
  if (!object.isNull()) return StringAt(object, "message");
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
    if (!trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == '[')) {
      try {
        Var parsed = Poco::JSON::Parser().parse(trimmed);
        std::vector<std::string> fields = FieldReasons(parsed);
        if (!fields.empty()) return CleanReason(Join(fields, "; "));
        Object::Ptr object = AsObject(parsed);
        for (const char* key : {"message", "error", "reason", "detail"}) {
          if (object.isNull() || !object->has(key)) continue;
          std::string reason = CleanReason(ReasonFromValue(object->get(key)));
          if (!reason.empty()) return reason;
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
      // A transport's message may quote a URL with its query string.
      if (!response.error_message.empty()) message += ": " + MaskSensitive(response.error_message);
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
