// Field comparison for reconcile; see field_compare.h.
#include "reconcile/field_compare.h"

#include <sstream>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "crmsync/redact.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Object;

Object::Ptr ParseObject(const std::string& text, const char* what, std::string* error) {
  try {
    Poco::Dynamic::Var parsed = Poco::JSON::Parser().parse(text);
    if (parsed.type() == typeid(Object::Ptr)) return parsed.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    *error = std::string(what) + " is not JSON: " + e.message();
    return nullptr;
  }
  *error = std::string(what) + " is not a JSON object";
  return nullptr;
}

std::string JsonText(const Poco::Dynamic::Var& value) {
  if (value.isEmpty()) return "null";
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

// "Nothing there": absent, null, "" or an empty list (CRMs echo an absent
// list as [] and an empty text as null).
bool IsNothing(const Poco::Dynamic::Var& value) {
  if (value.isEmpty()) return true;
  if (value.isString()) return value.extract<std::string>().empty();
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
    return value.extract<Poco::JSON::Array::Ptr>()->size() == 0;
  }
  return false;
}

bool Same(const Poco::Dynamic::Var& mirror, const Poco::Dynamic::Var& crm) {
  if (IsNothing(mirror) && IsNothing(crm)) return true;
  if (IsNothing(mirror) != IsNothing(crm)) return false;
  if (mirror.isNumeric() && crm.isNumeric()) {
    return mirror.convert<double>() == crm.convert<double>();
  }
  return JsonText(mirror) == JsonText(crm);
}

std::string Masked(const std::string& field, const std::string& json) {
  if (json == "null") return json;
  if (field == "email") return "\"[email]\"";
  if (field == "phone") return "\"[phone]\"";
  return MaskSensitive(json);
}

bool CrmOwns(EntityKind kind, const std::string& field, const Object& mirror,
             const FieldOwnership& ownership) {
  if (ownership.crm_fields.count(field)) return true;
  if (kind != EntityKind::kLead || field != "status" || ownership.status_never) return false;
  if (!ownership.crm_owns_status_from) return true;
  LeadStatus status;
  if (!ParseLeadStatus(mirror.optValue<std::string>("status", ""), &status)) return false;
  return static_cast<int>(status) >= static_cast<int>(*ownership.crm_owns_status_from);
}

}  // namespace

bool ParseFieldOwnership(const std::string& crm_owns_status_from,
                         const std::vector<std::string>& crm_fields, FieldOwnership* out,
                         std::string* error) {
  out->crm_fields = std::set<std::string>(crm_fields.begin(), crm_fields.end());
  out->status_never = false;
  if (crm_owns_status_from == "always") {
    out->crm_owns_status_from = std::nullopt;
  } else if (crm_owns_status_from == "never") {
    out->status_never = true;
  } else {
    LeadStatus status;
    if (!ParseLeadStatus(crm_owns_status_from, &status)) {
      *error = "inbound.crm_owns_status_from: \"" + crm_owns_status_from +
               "\" is not always, never or a lead status";
      return false;
    }
    out->crm_owns_status_from = status;
  }
  for (const std::string& field : crm_fields) {
    if (field.empty() || field == "id") {
      *error = "reconcile.crm_fields: \"" + field + "\" is not a field the CRM can own";
      return false;
    }
  }
  return true;
}

bool CompareFields(EntityKind kind, const std::string& mirror_json,
                   const std::string& crm_fields_json, const FieldOwnership& ownership,
                   std::vector<FieldDiff>* diffs, std::string* error) {
  diffs->clear();
  Object::Ptr mirror = ParseObject(mirror_json, "the mirror row", error);
  if (!mirror) return false;
  Object::Ptr crm = ParseObject(crm_fields_json, "the CRM record's fields", error);
  if (!crm) return false;
  for (const auto& [field, crm_value] : *crm) {
    if (field == "id" || field == "createdAt" || field == "updatedAt") continue;
    Poco::Dynamic::Var mine = mirror->has(field) ? mirror->get(field) : Poco::Dynamic::Var();
    if (Same(mine, crm_value)) continue;
    FieldDiff diff;
    diff.field = field;
    diff.mirror = Masked(field, JsonText(mine));
    diff.crm = Masked(field, JsonText(crm_value));
    diff.crm_owned = CrmOwns(kind, field, *mirror, ownership);
    diffs->push_back(std::move(diff));
  }
  return true;
}

}  // namespace crmsync::engine
