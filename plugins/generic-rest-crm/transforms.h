// transforms.h: the value transforms of a mapping file (mapping-format.md,
// "Transforms"): status, source, lookup:<table>, toString, toNumber, upper, lower,
// join:<sep>, split:<sep>, date:<format> / date:epochMillis / date:epochSeconds,
// soqlString (escapes text for a SOQL string literal),
// default:<text>, and for webhooks statusIn, sourceIn and lookupReverse:<table>.
//
// A missing value is an empty Var (null, "" and [] count as missing too): every
// transform but default: passes it through unchanged. Scalar transforms applied
// to an array apply to each element (elements that become missing are dropped).
// Dates are read as ISO 8601 and written in UTC.
//
// Pure functions over the tables they are given; thread-safe.
#ifndef CRMSYNC_PLUGINS_GENERIC_REST_CRM_TRANSFORMS_H_
#define CRMSYNC_PLUGINS_GENERIC_REST_CRM_TRANSFORMS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "crmsync/status.h"
#include "json_util.h"

namespace crmsync::genericrest {

using StringTable = std::map<std::string, std::string>;

/// The tables transforms read. Any pointer may be null (the table is then empty).
struct TransformTables {
  /// Platform status -> CRM status, of the entity being rendered (status).
  const StringTable* status_out = nullptr;
  /// CRM status -> platform status, of the entity being parsed (statusIn).
  const StringTable* status_in = nullptr;
  /// Named lookup tables (lookup:, lookupReverse:).
  const std::map<std::string, StringTable>* lookups = nullptr;
  /// Platform source -> CRM source option (source, sourceIn), the mapping's
  /// sourceMap; its "*" entry is the option of a source not listed.
  const StringTable* source_map = nullptr;
};

/// The sourceMap key whose value is the CRM option of an unlisted source.
constexpr char kOtherSource[] = "*";

/// Which way values flow: outbound templates may use status/lookup:, webhook
/// fields statusIn/lookupReverse:.
enum class TransformDirection { kOutbound, kInbound };

/// What a mapping file may use, for CheckTransform().
struct TransformRules {
  TransformDirection direction = TransformDirection::kOutbound;
  /// The names of the mapping's lookup tables.
  std::set<std::string> lookup_tables;
  /// Whether the entity has a status table (status / statusIn allowed).
  bool has_status_map = false;
  /// Whether the mapping has a sourceMap (source / sourceIn allowed).
  bool has_source_map = false;
};

/// Checks one transform spec ("upper", "join:,", "lookup:agents"). Returns "" when
/// it is valid, else the reason ("unknown transform 'uper'").
std::string CheckTransform(const std::string& spec, const TransformRules& rules);

/// Applies `specs` in order to *value. `field` names the value in messages (never
/// the value itself: it may be personal data). kInvalidRecord when a value cannot
/// be converted (toNumber of "abc", date: of a non-date).
Status ApplyTransforms(const std::vector<std::string>& specs, const TransformTables& tables,
                       const std::string& field, Var* value);

/// Text of an ISO 8601 date rendered with a Poco format, "epochMillis" or
/// "epochSeconds" (numbers). False when `iso` is not a date.
bool FormatDate(const std::string& iso, const std::string& format, Var* out);

}  // namespace crmsync::genericrest

#endif  // CRMSYNC_PLUGINS_GENERIC_REST_CRM_TRANSFORMS_H_
