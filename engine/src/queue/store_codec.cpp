// Shared store encodings; see store_codec.h.
#include "queue/store_codec.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include "common/hash.h"
#include "crmsync/entities_json.h"

namespace crmsync::engine {

std::string Stringify(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(value, out);
  return out.str();
}

// Milliseconds of an ISO 8601 time, or nullopt when it is not one. The FRAC
// format reads times with and without fractional seconds; the plain one would
// accept "10:15:00.500+05:30" while dropping both the fraction and the offset.
std::optional<int64_t> IsoMs(const std::string& text) {
  try {
    int tz = 0;
    Poco::DateTime dt =
        Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, tz);
    return dt.timestamp().epochMicroseconds() / 1000 - static_cast<int64_t>(tz) * 1000;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// The "<at>\t<payload>" lines still inside the window, oldest first.
std::vector<std::pair<int64_t, std::string>> SentLines(const std::string& text, int64_t now_ms) {
  std::vector<std::pair<int64_t, std::string>> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    int64_t at = std::strtoll(line.substr(0, tab).c_str(), nullptr, 10);
    if (now_ms - at <= kSentEchoWindowMs) lines.push_back({at, line.substr(tab + 1)});
  }
  return lines;
}

std::string AppendSent(const std::string& recent, const std::string& payload, int64_t now_ms) {
  auto lines = SentLines(recent, now_ms);
  lines.push_back({now_ms, payload});
  if (lines.size() > kSentEchoKeep) lines.erase(lines.begin(), lines.end() - kSentEchoKeep);
  std::string text;
  for (const auto& [at, sent] : lines) text += std::to_string(at) + "\t" + sent + "\n";
  return text;
}

bool MatchesEarlierSend(const std::string& recent, const std::string& kind,
                        const Poco::JSON::Object& candidate, int64_t now_ms) {
  for (const auto& [at, payload] : SentLines(recent, now_ms)) {
    Poco::JSON::Object::Ptr sent;
    try {
      sent = Poco::JSON::Parser().parse(payload).extract<Poco::JSON::Object::Ptr>()->getObject(kind);
    } catch (const Poco::Exception&) {
      continue;
    }
    if (!sent) continue;
    bool all_match = true;
    for (const auto& [key, value] : candidate) {
      bool sent_empty = !sent->has(key) || sent->isNull(key);
      bool value_empty = value.isEmpty() || (value.type() == typeid(Poco::JSON::Array::Ptr) &&
                                             value.extract<Poco::JSON::Array::Ptr>()->size() == 0);
      if (sent_empty && value_empty) continue;
      if (sent_empty || Stringify(sent->get(key)) != Stringify(value)) {
        all_match = false;
        break;
      }
    }
    if (all_match) return true;
  }
  return false;
}

std::string EncodeMergedEntity(const Poco::JSON::Object& merged, bool is_lead,
                               std::string* entity_json, std::string* echo_hash) {
  std::vector<FieldError> errors;
  if (is_lead) {
    Lead lead;
    if (DecodeLead(merged, "$", &lead, &errors)) {
      *entity_json = EncodeLead(lead);
      *echo_hash = EchoHash(lead);
    }
  } else {
    Property property;
    if (DecodeProperty(merged, "$", &property, &errors)) {
      *entity_json = EncodeProperty(property);
      *echo_hash = EchoHash(property);
    }
  }
  return errors.empty() ? "" : errors[0].path + ": " + errors[0].message;
}

namespace {

Poco::JSON::Object::Ptr ParseObjectOrEmpty(const std::string& json) {
  if (json.empty()) return new Poco::JSON::Object();
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

Poco::JSON::Array::Ptr ChangedOf(const Poco::JSON::Object& payload) {
  Poco::JSON::Array::Ptr changed = payload.getArray("changed");
  return changed ? changed : Poco::JSON::Array::Ptr(new Poco::JSON::Array());
}

}  // namespace

PatchMerge MergeEventPatch(const std::string& stored_json, const std::string& stored_times,
                           const std::string& patch_json, int64_t occurred_ms, bool is_lead,
                           const std::string& data_path) {
  Poco::JSON::Object::Ptr merged = ParseObjectOrEmpty(stored_json);
  Poco::JSON::Object::Ptr times = ParseObjectOrEmpty(stored_times);
  Poco::JSON::Object::Ptr patch = ParseObjectOrEmpty(patch_json);
  PatchMerge result;
  size_t carried = 0;
  size_t older = 0;
  for (const auto& [key, value] : *patch) {
    if (key == "id") {
      merged->set(key, value);
      continue;
    }
    ++carried;
    const int64_t set_at = times->optValue<Poco::Int64>(key, std::numeric_limits<int64_t>::min());
    if (occurred_ms < set_at) {
      ++older;
      continue;
    }
    times->set(key, static_cast<Poco::Int64>(occurred_ms));
    // An empty list is how the encoder leaves a list out: the same as absent.
    const bool clear = value.isEmpty() || (value.type() == typeid(Poco::JSON::Array::Ptr) &&
                                           value.extract<Poco::JSON::Array::Ptr>()->size() == 0);
    if (clear) {
      if (!merged->has(key)) continue;
      merged->remove(key);
    } else {
      if (merged->has(key) && Stringify(merged->get(key)) == Stringify(value)) continue;
      merged->set(key, value);
    }
    result.changed.push_back(key);
  }
  result.stale = carried > 0 && older == carried;
  std::string fault = EncodeMergedEntity(*merged, is_lead, &result.entity_json, &result.echo_hash);
  if (!fault.empty()) {
    // "$.budgetMin: must not exceed budgetMax": named at the event's data.
    const size_t colon = fault.find(": ");
    throw PatchConflict(data_path + fault.substr(1, colon - 1),
                        "merged into the stored " + std::string(is_lead ? "lead" : "property") +
                            ", " + fault.substr(colon + 2));
  }
  result.field_times = Stringify(times);
  return result;
}

std::string JobPayload(const IncomingEvent& event, const std::string& entity_json,
                       const std::optional<std::vector<std::string>>& changed) {
  std::string payload = std::string("{\"") + EntityKindName(event.kind) + "\":" + entity_json;
  if (!event.inquiry_json.empty()) payload += ",\"inquiry\":" + event.inquiry_json;
  if (event.assignment) payload += ",\"assignment\":" + EncodeDealerAssignment(*event.assignment);
  if (!changed) return payload + "}";
  Poco::JSON::Array::Ptr names = new Poco::JSON::Array();
  for (const std::string& name : *changed) names->add(name);
  return payload + ",\"changed\":" + Stringify(names) + "}";
}

std::vector<std::string> UnionChanged(const std::string& payload,
                                      const std::vector<std::string>& changed) {
  std::vector<std::string> names;
  Poco::JSON::Array::Ptr stored = ChangedOf(*ParseObjectOrEmpty(payload));
  for (size_t i = 0; i < stored->size(); ++i) names.push_back(stored->getElement<std::string>(i));
  for (const std::string& name : changed) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace crmsync::engine
