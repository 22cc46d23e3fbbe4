// config/schema.h: every configuration key the engine knows, in one table.
//
// The table gives each key its type, default, range, whether it is secret, the
// integration strategy's environment name when it has one, and a one-line help.
// Immutable; thread-safe.
#ifndef CRMSYNC_ENGINE_CONFIG_SCHEMA_H_
#define CRMSYNC_ENGINE_CONFIG_SCHEMA_H_

#include <cstdint>
#include <string>
#include <vector>

namespace crmsync::config {

enum class ValueType {
  kString,
  kInt,   ///< Whole number within [min, max].
  kBool,  ///< true/false/yes/no/1/0/on/off.
  kEnum,  ///< One of `choices` (comma-separated), compared case-sensitively.
  kList,  ///< Comma-separated strings.
  kDuration,  ///< A whole number with a unit: ms, s, m, h or d ("90s", "24h"), within
              ///< [min, max] milliseconds.
};

struct KeySpec {
  std::string key;            ///< "server.port"
  ValueType type = ValueType::kString;
  std::string default_value;  ///< As text; "" for none.
  bool secret = false;        ///< Redacted when shown; may be read from `<key>.file`.
  std::string env;            ///< Strategy env name ("CRM_API_KEY"), or "".
  int64_t min = 0;            ///< For kInt; for kDuration, in milliseconds.
  int64_t max = 0;            ///< For kInt; for kDuration, in milliseconds.
  std::string choices;        ///< For kEnum.
  std::string help;
};

/// The whole table, sorted by key.
const std::vector<KeySpec>& Schema();
/// The spec of `key`, or nullptr when the schema does not know it.
const KeySpec* FindKey(const std::string& key);
/// The generic environment name of a key: "CRMSYNC_" + upper case, with '.' and
/// '-' turned into '_' ("server.port" → "CRMSYNC_SERVER_PORT").
std::string GenericEnvName(const std::string& key);

// Helpers shared by the loader and its tests.

/// Reads true/false/yes/no/1/0/on/off (any case, surrounding blanks ignored).
/// False (and `*out` untouched) for anything else.
bool ParseBool(const std::string& text, bool* out);
/// Reads a whole decimal number (optional sign, surrounding blanks ignored) that
/// fits in int64_t. False (and `*out` untouched) for anything else.
bool ParseInt(const std::string& text, int64_t* out);
/// Reads a duration: a whole number and a unit (ms, s, m, h, d; "90s", "24h"),
/// blanks around ignored, into milliseconds. False (and `*out` untouched) for
/// anything else, including a missing unit or an overflow.
bool ParseDurationMs(const std::string& text, int64_t* out);
/// A duration in milliseconds as ParseDurationMs reads it, in the largest unit
/// up to hours that divides it exactly (86400000 → "24h", 1500 → "1500ms").
std::string FormatDurationMs(int64_t ms);
/// What `spec` accepts, in words: "a whole number from 1 to 65535", "true or
/// false", "one of OFF, NORMAL, FULL, EXTRA"; "" for strings and lists.
std::string ExpectedText(const KeySpec& spec);
/// Checks `value` against `spec`. On success stores the canonical text in
/// `*normalized` (bools become "true"/"false", numbers lose blanks, signs and
/// leading zeros; strings are kept as given) and returns true.
bool CheckValue(const KeySpec& spec, const std::string& value, std::string* normalized);
/// The error for a value CheckValue() refused, e.g. "server.port: expected a
/// whole number from 1 to 65535, got 'abc' (from env CRMSYNC_SERVER_PORT)".
/// For a secret key the value itself is never quoted.
std::string InvalidValueMessage(const KeySpec& spec, const std::string& value,
                                const std::string& source);
/// True when a key not in the schema (a plugin's `crm.<plugin>.<name>`) should
/// be treated as a secret because of its last segment's name (contains
/// "secret", "token", "password", "passwd", "credential", "api_key" or
/// "apikey"). Schema keys use KeySpec::secret instead.
bool LooksSecret(const std::string& key);
/// The schema key (or a secret's `<key>.file`) an unknown `key` was most
/// likely meant to be, for "did you mean" hints: the closest by edit distance
/// (insertions, deletions, substitutions and swaps of neighbours, ignoring
/// case), when close enough to be a slip (at most 1 edit per 6 characters,
/// at least 1, at most 3). "" when nothing is that close.
std::string SuggestKey(const std::string& key);
/// The same for an unknown environment name: the closest strategy name
/// (CRM_API_KEY), generic name (CRMSYNC_SERVER_PORT) or their `_FILE` forms
/// for secrets. "" when nothing is close.
std::string SuggestEnvName(const std::string& name);

}  // namespace crmsync::config

#endif  // CRMSYNC_ENGINE_CONFIG_SCHEMA_H_
