// json_util.h: small JSON helpers shared by the generic-rest-crm plugin's files.
//
// Thin wrappers over Poco::JSON that never throw: parse a text keeping the key
// order of objects (so rendered bodies follow the mapping file's order), write a
// value as compact text, tell JSON types apart, and turn scalars into text.
// JSON pointers (RFC 6901) live here too: check one, read through one, write
// through one. Stateless; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_JSON_UTIL_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_JSON_UTIL_H_

#include <optional>
#include <string>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace crmsync::genericrest {

using Var = Poco::Dynamic::Var;
using JsonObject = Poco::JSON::Object::Ptr;
using JsonArray = Poco::JSON::Array::Ptr;

/// An optional holding `value` (Var's template conversions make the implicit
/// construction ambiguous).
inline std::optional<Var> Some(const Var& value) {
  return std::optional<Var>(std::in_place, value);
}

/// A fresh JSON object that writes its keys in insertion order.
JsonObject NewObject();
/// A fresh, empty JSON array.
JsonArray NewArray();

/// Parses `text` as one JSON value (objects keep their key order). Returns false
/// and sets *error (the parser's reason, no payload) when it is not valid JSON.
bool ParseJson(const std::string& text, Var* out, std::string* error);

/// Where a text stops being JSON, for a message an editor can go to.
struct JsonSyntaxError {
  size_t offset = 0;    ///< Byte offset of the offending character (text size at the end).
  size_t line = 1;      ///< 1-based.
  size_t column = 1;    ///< 1-based, in characters (UTF-8 sequences count once).
  std::string pointer;  ///< The JSON pointer of the value being read ("" at the top).
  std::string reason;   ///< "expected ',' or '}' after the value of \"name\", found '\"'".
};

/// Scans `text` as RFC 8259 JSON (what ParseJson() accepts) and, at the first
/// place it is not, fills *out and returns true; false when the text is JSON.
/// Used after ParseJson() failed: Poco's parser says what, not where.
bool FindJsonSyntaxError(const std::string& text, JsonSyntaxError* out);

/// The 1-based line and column (in characters) of byte `offset` in `text`.
void LineAndColumn(const std::string& text, size_t offset, size_t* line, size_t* column);

/// A deep copy of a JSON value, so that a template's own objects are never
/// shared with (and changed through) a rendered result.
Var DeepCopy(const Var& value);

/// Compact JSON text of a value (object, array or scalar); "null" for empty.
std::string ToJson(const Var& value);

bool IsObject(const Var& value);
bool IsArray(const Var& value);
bool IsBool(const Var& value);
/// True for JSON numbers (booleans are not numbers here).
bool IsNumber(const Var& value);
bool IsString(const Var& value);
/// True for an empty Var or JSON null.
bool IsNull(const Var& value);

/// What kind of JSON value `value` is, for messages: "null", "an object",
/// "an array", "a string", "a boolean", "a number".
const char* JsonTypeName(const Var& value);

/// A JSON value that counts as "no value" in templates: null, "", [] (an object
/// is never empty here: templates omit empty objects themselves).
bool IsEmptyValue(const Var& value);

/// Text of a scalar: strings as they are, whole numbers without a fraction,
/// other numbers in shortest form, booleans "true"/"false", null "". Arrays and
/// objects give their compact JSON text.
std::string ValueText(const Var& value);

/// A number as a JSON value: whole values that fit become Int64, so they print
/// without a fraction ("50000", not "50000.0").
Var NumberValue(double number);

/// The text of an id at `pointer` inside `root`: a non-empty string, or a whole
/// number written without a fraction. nullopt when absent, empty or another type.
std::optional<std::string> IdAt(const Var& root, const std::string& pointer);

/// `pointer` + "/" + `key`, with "~" and "/" in `key` escaped (RFC 6901).
std::string PointerJoin(const std::string& pointer, const std::string& key);

/// True when `pointer` is a syntactically valid JSON pointer: "" (the whole
/// document) or "/"-separated tokens where "~" is only followed by 0 or 1.
bool IsValidPointer(const std::string& pointer);

/// The value `pointer` points at inside `root`, or nullopt when any step is
/// missing (an array index that is not a number or out of range is missing).
std::optional<Var> ResolvePointer(const Var& root, const std::string& pointer);

/// Stores `value` at `pointer` inside `root`, creating objects for missing
/// steps. False when a step crosses a non-object or `pointer` is "" or invalid.
bool SetPointer(const JsonObject& root, const std::string& pointer, const Var& value);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_JSON_UTIL_H_
