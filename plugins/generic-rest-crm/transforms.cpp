// The value transforms of a mapping file; see transforms.h.
#include "transforms.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include "suggest.h"

namespace crmsync::genericrest {
namespace {

// Splits "name:arg" into name and arg; arg is "" when there is no colon.
void SplitSpec(const std::string& spec, std::string* name, std::string* arg, bool* has_arg) {
  const size_t colon = spec.find(':');
  *has_arg = colon != std::string::npos;
  *name = *has_arg ? spec.substr(0, colon) : spec;
  *arg = *has_arg ? spec.substr(colon + 1) : "";
}

// Text made safe inside a SOQL string literal ('...'): Salesforce's escape
// sequences for a quote, a backslash and the control characters it names
// (SOQL and SOSL Reference, "Quoted String Escape Sequences").
std::string SoqlEscaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\'': out += "\\'"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string ToCase(std::string text, bool upper) {
  for (char& c : text) {
    c = static_cast<char>(upper ? std::toupper(static_cast<unsigned char>(c))
                                : std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

bool ParseNumber(const std::string& text, Var* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const long long whole = std::strtoll(text.c_str(), &end, 10);
  if (errno == 0 && end != nullptr && *end == '\0') {
    *out = Var(static_cast<Poco::Int64>(whole));
    return true;
  }
  errno = 0;
  end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == nullptr || *end != '\0') return false;
  *out = NumberValue(number);
  return true;
}

// A transform that works on one scalar. Sets *out to an empty Var when the
// result is missing.
Status ApplyScalar(const std::string& name, const std::string& arg, const TransformTables& tables,
                   const std::string& field, const Var& in, Var* out) {
  if (name == "status") {
    const std::string key = ValueText(in);
    if (tables.status_out != nullptr) {
      auto it = tables.status_out->find(key);
      if (it != tables.status_out->end()) {
        *out = Var(it->second);
        return Status::Ok();
      }
    }
    *out = Var();
    return Status::Ok();
  }
  if (name == "source") {
    // A listed source maps to its option; an unlisted one to the "*" option,
    // and without one it is missing (left out): a CRM refuses an option it
    // does not have.
    *out = Var();
    if (tables.source_map == nullptr) return Status::Ok();
    auto it = tables.source_map->find(ValueText(in));
    if (it == tables.source_map->end()) it = tables.source_map->find(kOtherSource);
    if (it != tables.source_map->end()) *out = Var(it->second);
    return Status::Ok();
  }
  if (name == "sourceIn") {
    // The first platform source (in name order) mapped to the CRM's option;
    // the "*" option and an unknown one say nothing of the platform's source.
    *out = Var();
    if (tables.source_map == nullptr) return Status::Ok();
    const std::string key = ValueText(in);
    for (const auto& entry : *tables.source_map) {
      if (entry.first != kOtherSource && entry.second == key) {
        *out = Var(entry.first);
        break;
      }
    }
    return Status::Ok();
  }
  if (name == "statusIn") {
    const std::string key = ValueText(in);
    if (tables.status_in != nullptr) {
      auto it = tables.status_in->find(key);
      if (it == tables.status_in->end()) {
        // Tolerate a CRM that changes the case of its own status names.
        for (auto candidate = tables.status_in->begin(); candidate != tables.status_in->end();
             ++candidate) {
          if (ToCase(candidate->first, false) == ToCase(key, false)) {
            it = candidate;
            break;
          }
        }
      }
      if (it != tables.status_in->end()) {
        *out = Var(it->second);
        return Status::Ok();
      }
    }
    return Status::InvalidRecord(field + ": unknown CRM status '" + key + "'");
  }
  if (name == "lookup" || name == "lookupReverse") {
    *out = Var();
    if (tables.lookups == nullptr) return Status::Ok();
    auto table = tables.lookups->find(arg);
    if (table == tables.lookups->end()) return Status::Ok();
    const std::string key = ValueText(in);
    if (name == "lookup") {
      auto it = table->second.find(key);
      if (it != table->second.end()) *out = Var(it->second);
    } else {
      for (const auto& entry : table->second) {
        if (entry.second == key) {
          *out = Var(entry.first);
          break;
        }
      }
    }
    return Status::Ok();
  }
  if (name == "toString") {
    *out = Var(ValueText(in));
    return Status::Ok();
  }
  if (name == "toNumber") {
    if (IsNumber(in)) {
      *out = in;
      return Status::Ok();
    }
    if (!IsString(in) || !ParseNumber(in.extract<std::string>(), out)) {
      return Status::InvalidRecord(field + ": toNumber: the value is not a number");
    }
    return Status::Ok();
  }
  if (name == "upper" || name == "lower") {
    *out = IsString(in) ? Var(ToCase(in.extract<std::string>(), name == "upper")) : in;
    return Status::Ok();
  }
  if (name == "soqlString") {
    *out = IsString(in) ? Var(SoqlEscaped(in.extract<std::string>())) : in;
    return Status::Ok();
  }
  if (name == "date") {
    if (!IsString(in) || !FormatDate(in.extract<std::string>(), arg, out)) {
      return Status::InvalidRecord(field + ": date: the value is not an ISO 8601 date");
    }
    return Status::Ok();
  }
  return Status::Internal("unknown transform '" + name + "'");
}

// The transforms a template (outbound) or a webhook field (inbound) may use,
// as a mapping writes them.
const std::vector<std::string>& TransformSpellings(bool inbound) {
  static const std::vector<std::string> kOutbound = {
      "status",     "source",      "lookup:<table>", "toString",      "toNumber", "upper",
      "lower",      "join:<sep>",  "split:<sep>",    "date:<format>", "default:<text>",
      "soqlString"};
  static const std::vector<std::string> kInbound = {
      "statusIn",   "sourceIn",    "lookupReverse:<table>", "toString",      "toNumber", "upper",
      "lower",      "join:<sep>",  "split:<sep>",           "date:<format>", "default:<text>"};
  return inbound ? kInbound : kOutbound;
}

std::string Joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::string CheckTransform(const std::string& spec, const TransformRules& rules) {
  std::string name;
  std::string arg;
  bool has_arg = false;
  SplitSpec(spec, &name, &arg, &has_arg);
  const bool inbound = rules.direction == TransformDirection::kInbound;
  if (name == "soqlString" && inbound) {
    return "transform 'soqlString' is for outbound templates (it escapes a SOQL string literal)";
  }
  if (name == "toString" || name == "toNumber" || name == "upper" || name == "lower" ||
      name == "soqlString") {
    return has_arg ? "transform '" + name + "' takes no argument" : "";
  }
  // status / statusIn and source / sourceIn: a table's two directions.
  for (const auto& [out_name, table] : {std::pair<std::string, const char*>{"status", "statusMap"},
                                        std::pair<std::string, const char*>{"source", "sourceMap"}}) {
    const std::string in_name = out_name + "In";
    if (name != out_name && name != in_name) continue;
    if (has_arg) return "transform '" + name + "' takes no argument";
    if (inbound != (name == in_name)) {
      return "transform '" + name + "' is for " +
             (inbound ? "outbound templates (use " + in_name + ")"
                      : "webhook fields (use " + out_name + ")");
    }
    const bool has_table = out_name == "status" ? rules.has_status_map : rules.has_source_map;
    if (!has_table) {
      return "transform '" + name + "' needs a " + table +
             (out_name == "status" ? " for this entity" : " in the mapping");
    }
    return "";
  }
  if (name == "lookup" || name == "lookupReverse") {
    if (inbound != (name == "lookupReverse")) {
      return "transform '" + name + "' is for " +
             (inbound ? std::string("outbound templates (use lookupReverse:<table>)")
                      : std::string("webhook fields (use lookup:<table>)"));
    }
    if (!has_arg || arg.empty())
      return "transform '" + name + "' needs a table: " + name + ":<table>";
    if (rules.lookup_tables.count(arg) == 0) {
      const std::vector<std::string> tables(rules.lookup_tables.begin(), rules.lookup_tables.end());
      return "unknown lookup table '" + arg + "'" + DidYouMean(arg, tables) +
             (tables.empty() ? std::string(" (the mapping has no lookups)")
                             : " (the mapping's lookups: " + Joined(tables) + ")");
    }
    return "";
  }
  if (name == "join" || name == "split") {
    if (!has_arg || arg.empty())
      return "transform '" + name + "' needs a separator: " + name + ":<sep>";
    return "";
  }
  if (name == "date") {
    if (!has_arg || arg.empty()) {
      return "transform 'date' needs a format: date:<format>, date:epochMillis or "
             "date:epochSeconds";
    }
    return "";
  }
  if (name == "default") {
    return has_arg ? "" : "transform 'default' needs a text: default:<text>";
  }
  // Suggest by name: "uper" -> "upper", "lookp:agents" -> "lookup".
  std::vector<std::string> names;
  for (const std::string& spelling : TransformSpellings(inbound)) {
    names.push_back(spelling.substr(0, spelling.find(':')));
  }
  return "unknown transform '" + spec + "'" + DidYouMean(name, names) +
         " (valid: " + Joined(TransformSpellings(inbound)) + ")";
}

bool FormatDate(const std::string& iso, const std::string& format, Var* out) {
  // Poco's parser is lenient (it reads "abc" as year 0): insist on YYYY-MM-DD first.
  static const char kShape[] = "dddd-dd-dd";
  if (iso.size() < sizeof(kShape) - 1) return false;
  for (size_t i = 0; i + 1 < sizeof(kShape); ++i) {
    const bool digit = std::isdigit(static_cast<unsigned char>(iso[i])) != 0;
    if (kShape[i] == 'd' ? !digit : iso[i] != kShape[i]) return false;
  }
  Poco::DateTime date_time;
  int tzd = 0;
  try {
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, iso, date_time,
                                        tzd) &&
        !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, iso, date_time,
                                        tzd) &&
        !Poco::DateTimeParser::tryParse("%Y-%m-%d", iso, date_time, tzd)) {
      return false;
    }
    date_time.makeUTC(tzd);
    const Poco::Int64 micros = date_time.timestamp().epochMicroseconds();
    if (format == "epochMillis") {
      *out = Var(static_cast<Poco::Int64>(micros / 1000));
    } else if (format == "epochSeconds") {
      *out = Var(static_cast<Poco::Int64>(micros / 1000000));
    } else {
      *out = Var(Poco::DateTimeFormatter::format(date_time, format));
    }
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

Status ApplyTransforms(const std::vector<std::string>& specs, const TransformTables& tables,
                       const std::string& field, Var* value) {
  for (const std::string& spec : specs) {
    std::string name;
    std::string arg;
    bool has_arg = false;
    SplitSpec(spec, &name, &arg, &has_arg);
    if (name == "default") {
      if (IsEmptyValue(*value)) *value = Var(arg);
      continue;
    }
    if (IsEmptyValue(*value)) {
      *value = Var();
      continue;
    }
    if (name == "join") {
      if (IsArray(*value)) {
        JsonArray array = value->extract<JsonArray>();
        std::string text;
        for (unsigned int i = 0; i < array->size(); ++i) {
          if (i > 0) text += arg;
          text += ValueText(array->get(i));
        }
        *value = Var(text);
      }
      continue;
    }
    if (name == "split") {
      if (IsString(*value)) {
        const std::string text = value->extract<std::string>();
        JsonArray array = NewArray();
        size_t pos = 0;
        while (true) {
          const size_t next = text.find(arg, pos);
          std::string part =
              text.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
          if (!part.empty()) array->add(part);
          if (next == std::string::npos) break;
          pos = next + arg.size();
        }
        *value = Var(array);
      }
      continue;
    }
    if (IsArray(*value)) {
      JsonArray in = value->extract<JsonArray>();
      JsonArray out = NewArray();
      for (unsigned int i = 0; i < in->size(); ++i) {
        Var element;
        Status status = ApplyScalar(name, arg, tables, field, in->get(i), &element);
        if (!status.ok()) return status;
        if (!IsEmptyValue(element)) out->add(element);
      }
      *value = Var(out);
      continue;
    }
    Var result;
    Status status = ApplyScalar(name, arg, tables, field, *value, &result);
    if (!status.ok()) return status;
    *value = result;
  }
  if (IsEmptyValue(*value)) *value = Var();
  return Status::Ok();
}

}  // namespace crmsync::genericrest
