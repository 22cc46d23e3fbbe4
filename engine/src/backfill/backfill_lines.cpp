// Backfill lines; see backfill_lines.h.
#include "backfill/backfill_lines.h"

#include <cctype>

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "crmsync/redact.h"
#include "intake/event_validator.h"

namespace crmsync::engine {
namespace {

using Poco::JSON::Object;

constexpr char kShape[] = "must be {\"lead\": {...}} or {\"property\": {...}}: one record a line";

bool Blank(const std::string& text) {
  for (char c : text) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

// The record's updatedAt, else createdAt, when it is a time occurredAt takes.
std::string RecordTime(const Object& data) {
  for (const char* key : {"updatedAt", "createdAt"}) {
    if (!data.has(key) || !data.get(key).isString()) continue;
    std::string value = data.getValue<std::string>(key);
    if (IsEventTimestamp(value)) return value;
  }
  return "";
}

}  // namespace

bool ValidBackfillRunId(const std::string& run) {
  if (run.empty() || run.size() > 64) return false;
  for (unsigned char c : run) {
    if (!(std::isalnum(c) || c == '_' || c == '.' || c == '-')) return false;
  }
  return true;
}

bool ParseBackfillLine(const std::string& text, int64_t line, const BackfillLineOptions& options,
                       BackfillChunk* chunk) {
  auto bad = [&](const std::string& path, const std::string& message) {
    chunk->invalid.push_back({line, {{path, message}}});
    return false;
  };
  if (text.size() > kMaxBackfillLineBytes) {
    return bad("$", "line is longer than " + std::to_string(kMaxBackfillLineBytes) + " bytes");
  }
  Poco::Dynamic::Var root;
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(kMaxJsonDepth);
    root = parser.parse(text);
  } catch (const Poco::Exception& e) {
    return bad("$", "not valid JSON (or nested deeper than " + std::to_string(kMaxJsonDepth) +
                        "): " + MaskSensitive(e.message()));
  }
  if (root.type() != typeid(Object::Ptr)) return bad("$", kShape);
  Object::Ptr object = root.extract<Object::Ptr>();
  if (object->size() != 1) return bad("$", kShape);
  const std::string key = object->begin()->first;
  EventType type = EventType::kLeadCreated;
  if (key == "lead") {
    type = EventType::kLeadCreated;
  } else if (key == "property") {
    type = EventType::kPropertyCreated;
  } else {
    return bad("$." + key.substr(0, 64), "unknown record kind; expected lead or property");
  }
  const std::string path = "$." + key;
  Object::Ptr data = object->getObject(key);
  if (!data) return bad(path, "must be an object (the record in the wire form of docs/events.md)");

  IncomingEvent event;
  event.type = type;
  std::vector<FieldError> errors;
  if (!ValidateEventData(type, *data, path, &event, &errors)) {
    chunk->invalid.push_back({line, std::move(errors)});
    return false;
  }
  event.event_id = "backfill:" + options.run + ":" + std::to_string(line);
  event.priority = Priority::kBulk;
  event.coalescable = true;
  event.lookup_first = options.lookup_first;
  event.occurred_at = RecordTime(*data);
  if (event.occurred_at.empty()) event.occurred_at = options.run_started_at;
  chunk->events.push_back(std::move(event));
  chunk->event_lines.push_back(line);
  return true;
}

BackfillChunk ParseBackfillChunk(const std::string& body, int64_t first_line,
                                 const BackfillLineOptions& options) {
  BackfillChunk chunk;
  size_t at = 0;
  int64_t line = first_line;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    std::string text = body.substr(at, end - at);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    ++chunk.lines;
    if (Blank(text)) {
      ++chunk.blank;
    } else {
      ParseBackfillLine(text, line, options, &chunk);
    }
    ++line;
    at = end + 1;
  }
  return chunk;
}

}  // namespace crmsync::engine
