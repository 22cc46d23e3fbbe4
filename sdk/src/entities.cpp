// Entity names, enum parsers and the JSON codec of the wire contract
// (docs/design.md §10).
//
// Decoding parses with Poco::JSON and validates every field, collecting one
// FieldError per bad field (with its JSON path) instead of stopping at the
// first. Encoding writes compact JSON by hand so field order and number format
// are stable. Stateless; every function is safe to call from any thread.
#include "crmsync/entities.h"
#include "crmsync/entities_json.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <limits>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace crmsync {

// ---------------------------------------------------------------------------
// Names and parsers.

const std::vector<EventType>& AllEventTypes() {
  static const std::vector<EventType> kAll = {
      EventType::kPropertyCreated,   EventType::kPropertyUpdated,  EventType::kLeadCreated,
      EventType::kLeadStatusChanged, EventType::kInquirySubmitted, EventType::kDealerAssigned};
  return kAll;
}

const char* EventTypeName(EventType type) noexcept {
  switch (type) {
    case EventType::kPropertyCreated:
      return "property.created";
    case EventType::kPropertyUpdated:
      return "property.updated";
    case EventType::kLeadCreated:
      return "lead.created";
    case EventType::kLeadStatusChanged:
      return "lead.status_changed";
    case EventType::kInquirySubmitted:
      return "inquiry.submitted";
    case EventType::kDealerAssigned:
      return "dealer.assigned";
  }
  return "unknown";
}

bool ParseEventType(const std::string& name, EventType* out) noexcept {
  for (EventType type : AllEventTypes()) {
    if (name == EventTypeName(type)) {
      *out = type;
      return true;
    }
  }
  return false;
}

const char* EntityKindName(EntityKind kind) noexcept {
  switch (kind) {
    case EntityKind::kLead:
      return "lead";
    case EntityKind::kProperty:
      return "property";
  }
  return "unknown";
}

bool ParseEntityKind(const std::string& name, EntityKind* out) noexcept {
  if (name == "lead") {
    *out = EntityKind::kLead;
    return true;
  }
  if (name == "property") {
    *out = EntityKind::kProperty;
    return true;
  }
  return false;
}

EntityKind EntityKindOf(EventType type) noexcept {
  switch (type) {
    case EventType::kPropertyCreated:
    case EventType::kPropertyUpdated:
      return EntityKind::kProperty;
    default:
      return EntityKind::kLead;
  }
}

const std::vector<LeadStatus>& AllLeadStatuses() {
  static const std::vector<LeadStatus> kAll = {
      LeadStatus::kNew,       LeadStatus::kContacted,
      LeadStatus::kQualified, LeadStatus::kViewingScheduled,
      LeadStatus::kViewed,    LeadStatus::kNegotiating,
      LeadStatus::kConverted, LeadStatus::kLost};
  return kAll;
}

const char* LeadStatusName(LeadStatus status) noexcept {
  switch (status) {
    case LeadStatus::kNew:
      return "NEW";
    case LeadStatus::kContacted:
      return "CONTACTED";
    case LeadStatus::kQualified:
      return "QUALIFIED";
    case LeadStatus::kViewingScheduled:
      return "VIEWING_SCHEDULED";
    case LeadStatus::kViewed:
      return "VIEWED";
    case LeadStatus::kNegotiating:
      return "NEGOTIATING";
    case LeadStatus::kConverted:
      return "CONVERTED";
    case LeadStatus::kLost:
      return "LOST";
  }
  return "unknown";
}

bool ParseLeadStatus(const std::string& name, LeadStatus* out) noexcept {
  for (LeadStatus status : AllLeadStatuses()) {
    if (name == LeadStatusName(status)) {
      *out = status;
      return true;
    }
  }
  return false;
}

const char* PropertyStatusName(PropertyStatus status) noexcept {
  switch (status) {
    case PropertyStatus::kActive:
      return "ACTIVE";
    case PropertyStatus::kInactive:
      return "INACTIVE";
    case PropertyStatus::kSold:
      return "SOLD";
  }
  return "unknown";
}

bool ParsePropertyStatus(const std::string& name, PropertyStatus* out) noexcept {
  for (PropertyStatus status :
       {PropertyStatus::kActive, PropertyStatus::kInactive, PropertyStatus::kSold}) {
    if (name == PropertyStatusName(status)) {
      *out = status;
      return true;
    }
  }
  return false;
}

namespace {

// ---------------------------------------------------------------------------
// Shape checks on plain strings.

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool AllDigits(const std::string& s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

int Number(const std::string& s, size_t pos, size_t n) {
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) value = value * 10 + (s[i] - '0');
  return value;
}

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
bool IsIsoTimestamp(const std::string& s) {
  if (s.size() < 20 || s.size() > 64) return false;
  if (!AllDigits(s, 0, 4) || s[4] != '-' || !AllDigits(s, 5, 2) || s[7] != '-' ||
      !AllDigits(s, 8, 2) || s[10] != 'T' || !AllDigits(s, 11, 2) || s[13] != ':' ||
      !AllDigits(s, 14, 2) || s[16] != ':' || !AllDigits(s, 17, 2)) {
    return false;
  }
  int month = Number(s, 5, 2);
  int day = Number(s, 8, 2);
  int hour = Number(s, 11, 2);
  int minute = Number(s, 14, 2);
  int second = Number(s, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  if (s[pos] == '.') {
    ++pos;
    size_t start = pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    if (pos == start) return false;
  }
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z') return pos + 1 == s.size();
  if (s[pos] != '+' && s[pos] != '-') return false;
  if (pos + 6 != s.size() || !AllDigits(s, pos + 1, 2) || s[pos + 3] != ':' ||
      !AllDigits(s, pos + 4, 2)) {
    return false;
  }
  return Number(s, pos + 1, 2) <= 23 && Number(s, pos + 4, 2) <= 59;
}

// something@something.tld: one '@', no blanks or control characters, a domain
// of non-empty dot-separated labels ending in a label of two or more characters.
bool IsEmail(const std::string& s) {
  size_t at = s.find('@');
  if (at == std::string::npos || at == 0 || s.find('@', at + 1) != std::string::npos) {
    return false;
  }
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  std::string domain = s.substr(at + 1);
  size_t last_dot = domain.rfind('.');
  if (last_dot == std::string::npos || last_dot + 3 > domain.size()) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (i == label_start) return false;
      label_start = i + 1;
    }
  }
  return true;
}

bool IsPhone(const std::string& s) {
  if (s.size() < 5 || s.size() > 32) return false;
  bool digit = false;
  for (char c : s) {
    if (IsDigit(c)) {
      digit = true;
    } else if (c != '+' && c != '-' && c != ' ' && c != '(' && c != ')') {
      return false;
    }
  }
  return digit;
}

// ---------------------------------------------------------------------------
// Field readers over one JSON object. Each appends its own error and leaves
// the output untouched on failure.

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

class FieldReader {
 public:
  FieldReader(const Object& object, const std::string& path, std::vector<FieldError>* errors)
      : object_(object), path_(path), errors_(errors) {}

  std::string PathOf(const std::string& key) const { return path_ + "." + key; }

  void Error(const std::string& key, const std::string& message) {
    errors_->push_back(FieldError{PathOf(key), message});
  }

  // True when the key holds a non-null value.
  bool Present(const std::string& key) const {
    if (!object_.has(key)) return false;
    return !object_.isNull(key);
  }

  // An id: string or integer, 1..kMaxIdLength characters once written as text.
  bool ReadId(const std::string& key, bool required, std::string* out) {
    if (!Present(key)) {
      if (required) Error(key, "is required");
      return false;
    }
    Var value = object_.get(key);
    std::string text;
    if (value.isString()) {
      text = value.extract<std::string>();
    } else if (value.isInteger() && !value.isBoolean()) {
      text = value.convert<std::string>();
    } else {
      Error(key, "must be a string or an integer");
      return false;
    }
    if (text.empty() || text.size() > kMaxIdLength) {
      Error(key, "must be 1 to " + std::to_string(kMaxIdLength) + " characters");
      return false;
    }
    *out = text;
    return true;
  }

  bool ReadOptionalId(const std::string& key, std::optional<std::string>* out) {
    std::string text;
    if (!ReadId(key, false, &text)) return false;
    *out = text;
    return true;
  }

  // A string of at most max_length bytes; null counts as absent.
  bool ReadString(const std::string& key, size_t max_length, std::optional<std::string>* out) {
    if (!Present(key)) return false;
    Var value = object_.get(key);
    if (!value.isString()) {
      Error(key, "must be a string");
      return false;
    }
    std::string text = value.extract<std::string>();
    if (text.size() > max_length) {
      Error(key, "must be at most " + std::to_string(max_length) + " characters");
      return false;
    }
    *out = text;
    return true;
  }

  // A string that must also pass `check`, with `shape` naming the expected form.
  bool ReadShaped(const std::string& key, size_t max_length,
                  const std::function<bool(const std::string&)>& check, const std::string& shape,
                  std::optional<std::string>* out) {
    std::optional<std::string> text;
    if (!ReadString(key, max_length, &text)) return false;
    if (!check(*text)) {
      Error(key, "must be " + shape);
      return false;
    }
    *out = text;
    return true;
  }

  bool ReadTimestamp(const std::string& key, std::optional<std::string>* out) {
    return ReadShaped(key, 64, IsIsoTimestamp,
                      "an ISO-8601 timestamp (YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm))", out);
  }

  // A JSON number, finite and >= 0.
  bool ReadAmount(const std::string& key, std::optional<double>* out) {
    if (!Present(key)) return false;
    Var value = object_.get(key);
    if (value.isString() || value.isBoolean() || !value.isNumeric()) {
      Error(key, "must be a number");
      return false;
    }
    double number = 0;
    try {
      number = value.convert<double>();
    } catch (const Poco::Exception&) {
      Error(key, "must be a number");
      return false;
    }
    if (!std::isfinite(number) || number < 0) {
      Error(key, "must be a number >= 0");
      return false;
    }
    *out = number;
    return true;
  }

  // A string naming one of an enum's values.
  template <typename E>
  bool ReadEnum(const std::string& key, bool (*parse)(const std::string&, E*) noexcept,
                const std::string& allowed, std::optional<E>* out) {
    std::optional<std::string> text;
    if (!ReadString(key, kMaxShortText, &text)) return false;
    E value{};
    if (!parse(*text, &value)) {
      Error(key, "must be one of " + allowed);
      return false;
    }
    *out = value;
    return true;
  }

  // An array of strings, each at most max_length bytes; every bad item reported.
  bool ReadStringArray(const std::string& key, size_t max_length, std::vector<std::string>* out) {
    if (!Present(key)) return false;
    Array::Ptr array = object_.getArray(key);
    if (array.isNull()) {
      Error(key, "must be an array of strings");
      return false;
    }
    std::vector<std::string> items;
    bool ok = true;
    for (size_t i = 0; i < array->size(); ++i) {
      Var item = array->get(static_cast<unsigned int>(i));
      std::string item_key = key + "[" + std::to_string(i) + "]";
      if (!item.isString()) {
        Error(item_key, "must be a string");
        ok = false;
        continue;
      }
      std::string text = item.extract<std::string>();
      if (text.size() > max_length) {
        Error(item_key, "must be at most " + std::to_string(max_length) + " characters");
        ok = false;
        continue;
      }
      items.push_back(std::move(text));
    }
    if (ok) *out = std::move(items);
    return ok;
  }

 private:
  const Object& object_;
  const std::string& path_;
  std::vector<FieldError>* errors_;
};

std::string BasePath(const std::string& path) { return path.empty() ? "$" : path; }

// Parses `json` into an object; one error at `path` when it is not one.
Object::Ptr ParseObject(const std::string& json, const std::string& path,
                        std::vector<FieldError>* errors) {
  Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(json);
  } catch (const std::exception&) {
    errors->push_back(FieldError{path, "malformed JSON"});
    return nullptr;
  }
  if (parsed.type() != typeid(Object::Ptr)) {
    errors->push_back(FieldError{path, "must be a JSON object"});
    return nullptr;
  }
  return parsed.extract<Object::Ptr>();
}

const std::string& LeadStatusList() {
  static const std::string kList = [] {
    std::string list;
    for (LeadStatus status : AllLeadStatuses()) {
      if (!list.empty()) list += ", ";
      list += LeadStatusName(status);
    }
    return list;
  }();
  return kList;
}

void ReadLead(const Object& object, const std::string& path, Lead* out,
              std::vector<FieldError>* errors) {
  FieldReader r(object, path, errors);
  Lead lead;
  r.ReadId("id", true, &lead.id);
  r.ReadString("name", kMaxShortText, &lead.name);
  r.ReadShaped("email", kMaxShortText, IsEmail, "an email address (name@domain.tld)", &lead.email);
  r.ReadShaped("phone", kMaxShortText, IsPhone,
               "a phone number (5 to 32 of digits, +, -, space, parentheses)", &lead.phone);
  r.ReadString("source", kMaxShortText, &lead.source);
  r.ReadEnum<LeadStatus>("status", ParseLeadStatus, LeadStatusList(), &lead.status);
  r.ReadOptionalId("propertyId", &lead.property_id);
  r.ReadOptionalId("assignedToId", &lead.assigned_to_id);
  bool min_ok = r.ReadAmount("budgetMin", &lead.budget_min);
  bool max_ok = r.ReadAmount("budgetMax", &lead.budget_max);
  if (min_ok && max_ok && *lead.budget_min > *lead.budget_max) {
    r.Error("budgetMin", "must not exceed budgetMax");
  }
  r.ReadStringArray("preferredLocation", kMaxShortText, &lead.preferred_location);
  r.ReadString("utmSource", kMaxShortText, &lead.utm_source);
  r.ReadString("notes", kMaxLongText, &lead.notes);
  r.ReadTimestamp("createdAt", &lead.created_at);
  r.ReadTimestamp("updatedAt", &lead.updated_at);
  r.ReadString("lostReason", kMaxLongText, &lead.lost_reason);
  *out = std::move(lead);
}

void ReadProperty(const Object& object, const std::string& path, Property* out,
                  std::vector<FieldError>* errors) {
  FieldReader r(object, path, errors);
  Property property;
  r.ReadId("id", true, &property.id);
  r.ReadString("title", kMaxShortText, &property.title);
  r.ReadAmount("price", &property.price);
  r.ReadString("city", kMaxShortText, &property.city);
  r.ReadString("locality", kMaxShortText, &property.locality);
  r.ReadEnum<PropertyStatus>("status", ParsePropertyStatus, "ACTIVE, INACTIVE, SOLD",
                             &property.status);
  r.ReadOptionalId("ownerId", &property.owner_id);
  r.ReadOptionalId("dealerId", &property.dealer_id);
  r.ReadTimestamp("updatedAt", &property.updated_at);
  *out = std::move(property);
}

// ---------------------------------------------------------------------------
// Writing.

class JsonWriter {
 public:
  JsonWriter() { out_ += '{'; }

  void String(const char* key, const std::string& value) {
    Key(key);
    Quote(value);
  }
  void String(const char* key, const std::optional<std::string>& value) {
    if (value) String(key, *value);
  }
  void Number(const char* key, const std::optional<double>& value) {
    if (!value) return;
    Key(key);
    out_ += FormatNumber(*value);
  }
  void StringArray(const char* key, const std::vector<std::string>& values) {
    Key(key);
    out_ += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out_ += ',';
      Quote(values[i]);
    }
    out_ += ']';
  }
  void Raw(const char* key, const std::string& json) {
    Key(key);
    out_ += json;
  }
  std::string Finish() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(const char* key) {
    if (!first_) out_ += ',';
    first_ = false;
    Quote(key);
    out_ += ':';
  }

  void Quote(const std::string& value) {
    out_ += '"';
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\r':
          out_ += "\\r";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\f':
          out_ += "\\f";
          break;
        default:
          if (u < 0x20 || u == 0x7f) {
            char buffer[8];
            std::snprintf(buffer, sizeof(buffer), "\\u%04x", u);
            out_ += buffer;
          } else {
            out_ += c;
          }
      }
    }
    out_ += '"';
  }

  static std::string FormatNumber(double value) {
    if (!std::isfinite(value)) return "0";
    if (value == std::floor(value) && std::fabs(value) < 9e15) {
      return std::to_string(static_cast<int64_t>(value));
    }
    char buffer[40];
    std::snprintf(buffer, sizeof(buffer), "%.15g", value);
    if (std::strtod(buffer, nullptr) != value) {
      std::snprintf(buffer, sizeof(buffer), "%.17g", value);
    }
    return buffer;
  }

  std::string out_;
  bool first_ = true;
};

}  // namespace

// ---------------------------------------------------------------------------
// Public codec.

const std::vector<std::string>& WireFields(EntityKind kind) {
  static const std::vector<std::string> kLead = {"id",
                                                 "name",
                                                 "email",
                                                 "phone",
                                                 "source",
                                                 "status",
                                                 "propertyId",
                                                 "assignedToId",
                                                 "budgetMin",
                                                 "budgetMax",
                                                 "preferredLocation",
                                                 "utmSource",
                                                 "notes",
                                                 "createdAt",
                                                 "updatedAt",
                                                 "lostReason"};
  static const std::vector<std::string> kProperty = {
      "id", "title", "price", "city", "locality", "status", "ownerId", "dealerId", "updatedAt"};
  return kind == EntityKind::kLead ? kLead : kProperty;
}

bool DecodeLead(const Object& object, const std::string& path, Lead* out,
                std::vector<FieldError>* errors) {
  size_t before = errors->size();
  std::string base = BasePath(path);
  try {
    ReadLead(object, base, out, errors);
  } catch (const std::exception&) {
    errors->push_back(FieldError{base, "cannot be read"});
  }
  return errors->size() == before;
}

bool DecodeProperty(const Object& object, const std::string& path, Property* out,
                    std::vector<FieldError>* errors) {
  size_t before = errors->size();
  std::string base = BasePath(path);
  try {
    ReadProperty(object, base, out, errors);
  } catch (const std::exception&) {
    errors->push_back(FieldError{base, "cannot be read"});
  }
  return errors->size() == before;
}

bool DecodeInquiry(const Object& object, const std::string& path, Inquiry* out,
                   std::vector<FieldError>* errors) {
  size_t before = errors->size();
  std::string base = BasePath(path);
  try {
    FieldReader r(object, base, errors);
    Inquiry inquiry;
    r.ReadId("id", true, &inquiry.id);
    bool lead_id_ok = r.ReadId("leadId", true, &inquiry.lead_id);
    r.ReadOptionalId("propertyId", &inquiry.property_id);
    r.ReadString("message", kMaxLongText, &inquiry.message);
    r.ReadTimestamp("createdAt", &inquiry.created_at);
    if (!r.Present("lead")) {
      r.Error("lead", "is required");
    } else {
      Object::Ptr lead = object.getObject("lead");
      if (lead.isNull()) {
        r.Error("lead", "must be an object");
      } else {
        std::string lead_path = r.PathOf("lead");
        size_t lead_before = errors->size();
        ReadLead(*lead, lead_path, &inquiry.lead, errors);
        bool lead_id_error = false;
        for (size_t i = lead_before; i < errors->size(); ++i) {
          if ((*errors)[i].path == lead_path + ".id") lead_id_error = true;
        }
        if (lead_id_ok && !lead_id_error && inquiry.lead.id != inquiry.lead_id) {
          errors->push_back(FieldError{lead_path + ".id", "must equal leadId"});
        }
      }
    }
    *out = std::move(inquiry);
  } catch (const std::exception&) {
    errors->push_back(FieldError{base, "cannot be read"});
  }
  return errors->size() == before;
}

bool DecodeDealerAssignment(const Object& object, const std::string& path,
                            DealerAssignment* out, std::vector<FieldError>* errors) {
  size_t before = errors->size();
  std::string base = BasePath(path);
  try {
    FieldReader r(object, base, errors);
    DealerAssignment assignment;
    r.ReadId("leadId", true, &assignment.lead_id);
    r.ReadId("dealerId", true, &assignment.dealer_id);
    r.ReadTimestamp("assignedAt", &assignment.assigned_at);
    *out = std::move(assignment);
  } catch (const std::exception&) {
    errors->push_back(FieldError{base, "cannot be read"});
  }
  return errors->size() == before;
}

// Text overloads: parse once, then read as the object overloads do.
template <typename T>
bool DecodeText(const std::string& json, const std::string& path, T* out,
                std::vector<FieldError>* errors,
                bool (*decode)(const Object&, const std::string&, T*, std::vector<FieldError>*)) {
  Object::Ptr object = ParseObject(json, BasePath(path), errors);
  if (object.isNull()) return false;
  return decode(*object, path, out, errors);
}

bool DecodeLead(const std::string& json, const std::string& path, Lead* out,
                std::vector<FieldError>* errors) {
  return DecodeText<Lead>(json, path, out, errors, &DecodeLead);
}

bool DecodeProperty(const std::string& json, const std::string& path, Property* out,
                    std::vector<FieldError>* errors) {
  return DecodeText<Property>(json, path, out, errors, &DecodeProperty);
}

bool DecodeInquiry(const std::string& json, const std::string& path, Inquiry* out,
                   std::vector<FieldError>* errors) {
  return DecodeText<Inquiry>(json, path, out, errors, &DecodeInquiry);
}

bool DecodeDealerAssignment(const std::string& json, const std::string& path,
                            DealerAssignment* out, std::vector<FieldError>* errors) {
  return DecodeText<DealerAssignment>(json, path, out, errors, &DecodeDealerAssignment);
}

std::string EncodeLead(const Lead& lead) {
  JsonWriter w;
  w.String("id", lead.id);
  w.String("name", lead.name);
  w.String("email", lead.email);
  w.String("phone", lead.phone);
  w.String("source", lead.source);
  if (lead.status) w.String("status", std::string(LeadStatusName(*lead.status)));
  w.String("propertyId", lead.property_id);
  w.String("assignedToId", lead.assigned_to_id);
  w.Number("budgetMin", lead.budget_min);
  w.Number("budgetMax", lead.budget_max);
  if (!lead.preferred_location.empty()) {
    w.StringArray("preferredLocation", lead.preferred_location);
  }
  w.String("utmSource", lead.utm_source);
  w.String("notes", lead.notes);
  w.String("createdAt", lead.created_at);
  w.String("updatedAt", lead.updated_at);
  w.String("lostReason", lead.lost_reason);
  return w.Finish();
}

std::string EncodeProperty(const Property& property) {
  JsonWriter w;
  w.String("id", property.id);
  w.String("title", property.title);
  w.Number("price", property.price);
  w.String("city", property.city);
  w.String("locality", property.locality);
  if (property.status) w.String("status", std::string(PropertyStatusName(*property.status)));
  w.String("ownerId", property.owner_id);
  w.String("dealerId", property.dealer_id);
  w.String("updatedAt", property.updated_at);
  return w.Finish();
}

std::string EncodeInquiry(const Inquiry& inquiry) {
  JsonWriter w;
  w.String("id", inquiry.id);
  w.String("leadId", inquiry.lead_id);
  w.String("propertyId", inquiry.property_id);
  w.String("message", inquiry.message);
  w.String("createdAt", inquiry.created_at);
  w.Raw("lead", EncodeLead(inquiry.lead));
  return w.Finish();
}

std::string EncodeDealerAssignment(const DealerAssignment& assignment) {
  JsonWriter w;
  w.String("leadId", assignment.lead_id);
  w.String("dealerId", assignment.dealer_id);
  w.String("assignedAt", assignment.assigned_at);
  return w.Finish();
}

}  // namespace crmsync
