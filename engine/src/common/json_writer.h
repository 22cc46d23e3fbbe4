// common/json_writer.h: the engine's one JSON writer: JsonQuote for a string
// literal, JsonObject for an object whose members are added in order, and
// JsonArray to join values already written.
//
// Output is always valid UTF-8 JSON: bytes that are not valid UTF-8 become
// U+FFFD, control characters and DEL are escaped. Plain values; no shared
// state, so thread-safe.
#ifndef CRMSYNC_ENGINE_COMMON_JSON_WRITER_H_
#define CRMSYNC_ENGINE_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace crmsync::engine {

/// Escapes `s` as a JSON string literal, quotes included. Bytes that are not
/// valid UTF-8 become U+FFFD, so the result is always valid UTF-8 JSON.
std::string JsonQuote(const std::string& s);

/// One JSON object, members in the order they are added.
class JsonObject {
 public:
  JsonObject& Str(const char* key, const std::string& value);
  /// null when `value` is empty.
  JsonObject& StrOrNull(const char* key, const std::string& value);
  JsonObject& Int(const char* key, int64_t value);
  /// null when `value` is 0.
  JsonObject& IntOrNull(const char* key, int64_t value);
  JsonObject& Bool(const char* key, bool value);
  /// ISO 8601 UTC of a Unix ms time; null when 0.
  JsonObject& Time(const char* key, int64_t unix_ms);
  /// `json` must already be valid JSON.
  JsonObject& Raw(const char* key, const std::string& json);
  /// The object's text, closing brace included.
  std::string Done() const { return body_ + "}"; }

 private:
  std::string body_ = "{";
};

/// "[a,b,...]" of values that are already valid JSON.
std::string JsonArray(const std::vector<std::string>& items);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_COMMON_JSON_WRITER_H_
