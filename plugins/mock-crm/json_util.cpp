// JSON helpers for mock-crm; see json_util.h.
#include "json_util.h"

#include <sstream>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

namespace crmsync::mockcrm {

Poco::JSON::Object::Ptr NewObject() {
  return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
}

Poco::JSON::Object::Ptr ParseObject(const std::string& text, std::string* error) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var parsed = parser.parse(text);
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) {
      *error = "body is not a JSON object";
      return nullptr;
    }
    return parsed.extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {  // Poco::Exception included.
    *error = "body is not valid JSON";
  }
  return nullptr;
}

std::string ToJson(const Poco::Dynamic::Var& value) {
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(value, out);
  return out.str();
}

std::string MessageBody(const std::string& message) {
  Poco::JSON::Object::Ptr body = NewObject();
  body->set("message", message);
  return ToJson(body);
}

bool IsNumber(const Poco::Dynamic::Var& value) {
  return !value.isEmpty() && value.isNumeric() && !value.isBoolean();
}

std::optional<std::string> GetString(const Poco::JSON::Object::Ptr& object,
                                     const std::string& key) {
  if (!object || !object->has(key)) return std::nullopt;
  Poco::Dynamic::Var value = object->get(key);
  if (value.isEmpty() || !value.isString()) return std::nullopt;
  return value.extract<std::string>();
}

}  // namespace crmsync::mockcrm
