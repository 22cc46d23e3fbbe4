// reconcile/field_compare.h: which fields of a CRM record differ from the
// mirror, and which side owns each difference (docs/design.md §5 "conflicts";
// the plan's "field ownership for reconcile").
//
// A field differs when the CRM record's fields hold it and the mirror's value
// is another; a field the plugin cannot read back is absent and not compared.
// CRM-owned: a lead's status once the mirror's status reached
// inbound.crm_owns_status_from, and the fields of reconcile.crm_fields.
// Everything else is the platform's: its differences are drift, which a
// repair sends again; the CRM's are reported and left alone.
//
// Pure functions over plain values; thread-safe.
#ifndef CRMSYNC_ENGINE_RECONCILE_FIELD_COMPARE_H_
#define CRMSYNC_ENGINE_RECONCILE_FIELD_COMPARE_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crmsync/entities.h"

namespace crmsync::engine {

/// Which fields the CRM owns, from the settings.
struct FieldOwnership {
  /// reconcile.crm_fields: fields the CRM always owns.
  std::set<std::string> crm_fields;
  /// The CRM owns a lead's status from this status on (funnel order);
  /// nullopt: always. status_never: never (inbound.crm_owns_status_from=never).
  std::optional<LeadStatus> crm_owns_status_from = LeadStatus::kQualified;
  bool status_never = false;
};

/// Reads inbound.crm_owns_status_from ("always", "never" or a status) and
/// reconcile.crm_fields into `*out`. False with `*error` naming the value.
bool ParseFieldOwnership(const std::string& crm_owns_status_from,
                         const std::vector<std::string>& crm_fields, FieldOwnership* out,
                         std::string* error);

/// One field that differs, its values masked for show (crmsync/redact.h;
/// an email or phone field's values are replaced whole).
struct FieldDiff {
  std::string field;
  std::string mirror;  ///< JSON text of the mirror's value ("null" when absent).
  std::string crm;     ///< JSON text of the CRM's value.
  bool crm_owned = false;
};

/// The fields of `crm_fields_json` (a JSON object text, CrmRecord::fields_json)
/// that differ from the mirror row `mirror_json` (wire form) of an entity of
/// `kind`, in the record's order. Numbers compare by value, an absent mirror
/// field equals a CRM null or empty list, "id" and the timestamps are not
/// compared. False with `*error` when either text is not a JSON object.
bool CompareFields(EntityKind kind, const std::string& mirror_json,
                   const std::string& crm_fields_json, const FieldOwnership& ownership,
                   std::vector<FieldDiff>* diffs, std::string* error);

}  // namespace crmsync::engine

#endif  // CRMSYNC_ENGINE_RECONCILE_FIELD_COMPARE_H_
