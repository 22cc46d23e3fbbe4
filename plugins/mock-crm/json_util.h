// json_util.h: small JSON helpers shared by the mock-crm plugin's files.
//
// Thin wrappers over Poco::JSON that never throw: parse a text into an object,
// write a value as compact text, read typed members. Stateless; thread-safe.
#ifndef CRMSYNC_PLUGINS_MOCK_CRM_JSON_UTIL_H_
#define CRMSYNC_PLUGINS_MOCK_CRM_JSON_UTIL_H_

#include <optional>
#include <string>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

namespace crmsync::mockcrm {

/// A fresh JSON object that writes its keys in insertion order.
Poco::JSON::Object::Ptr NewObject();

/// Parses `text` as one JSON object. Returns nullptr and sets *error (a short
/// reason, no payload) when it is not valid JSON or not an object.
Poco::JSON::Object::Ptr ParseObject(const std::string& text, std::string* error);

/// Compact JSON text of a value (object, array or scalar).
std::string ToJson(const Poco::Dynamic::Var& value);

/// {"message": message} as text: the body of every mock-crm error answer.
std::string MessageBody(const std::string& message);

/// True when `value` is a JSON number (booleans are not numbers here).
bool IsNumber(const Poco::Dynamic::Var& value);

/// The string member `key` of `object`; nullopt when absent, null or not a string.
std::optional<std::string> GetString(const Poco::JSON::Object::Ptr& object, const std::string& key);

}  // namespace crmsync::mockcrm

#endif  // CRMSYNC_PLUGINS_MOCK_CRM_JSON_UTIL_H_
