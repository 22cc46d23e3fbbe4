// JSON helpers of the generic-rest-crm plugin; see json_util.h.
#include "json_util.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

namespace crmsync::genericrest {
namespace {

// Splits a valid pointer into its unescaped tokens.
std::vector<std::string> PointerTokens(const std::string& pointer) {
  std::vector<std::string> tokens;
  size_t pos = 1;
  while (pos <= pointer.size()) {
    size_t next = pointer.find('/', pos);
    if (next == std::string::npos) next = pointer.size();
    std::string raw = pointer.substr(pos, next - pos);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size()) {
        token.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        token.push_back(raw[i]);
      }
    }
    tokens.push_back(token);
    pos = next + 1;
  }
  return tokens;
}

bool ParseIndex(const std::string& token, size_t* index) {
  if (token.empty() || token.size() > 9) return false;
  if (token.size() > 1 && token[0] == '0') return false;
  size_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *index = value;
  return true;
}

}  // namespace

JsonObject NewObject() { return new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER); }

JsonArray NewArray() { return new Poco::JSON::Array(); }

bool ParseJson(const std::string& text, Var* out, std::string* error) {
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
    *out = parser.parse(text);
    return true;
  } catch (const Poco::Exception& e) {
    *error = e.message().empty() ? e.displayText() : e.message();
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return false;
}

Var DeepCopy(const Var& value) {
  if (IsObject(value)) {
    JsonObject in = value.extract<JsonObject>();
    JsonObject out = NewObject();
    for (const std::string& name : in->getNames()) out->set(name, DeepCopy(in->get(name)));
    return Var(out);
  }
  if (IsArray(value)) {
    JsonArray in = value.extract<JsonArray>();
    JsonArray out = NewArray();
    for (unsigned int i = 0; i < in->size(); ++i) out->add(DeepCopy(in->get(i)));
    return Var(out);
  }
  return value;
}

std::string ToJson(const Var& value) {
  if (value.isEmpty()) return "null";
  try {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
  } catch (const std::exception&) {
    return "null";
  }
}

bool IsObject(const Var& value) { return value.type() == typeid(JsonObject); }
bool IsArray(const Var& value) { return value.type() == typeid(JsonArray); }
bool IsBool(const Var& value) { return value.type() == typeid(bool); }
bool IsNumber(const Var& value) { return !value.isEmpty() && !IsBool(value) && value.isNumeric(); }
bool IsString(const Var& value) { return value.isString(); }
bool IsNull(const Var& value) { return value.isEmpty(); }

bool IsEmptyValue(const Var& value) {
  if (value.isEmpty()) return true;
  if (value.isString()) return value.extract<std::string>().empty();
  if (IsArray(value)) return value.extract<JsonArray>()->size() == 0;
  return false;
}

std::string ValueText(const Var& value) {
  if (value.isEmpty()) return "";
  if (value.isString()) return value.extract<std::string>();
  if (IsBool(value)) return value.extract<bool>() ? "true" : "false";
  if (IsNumber(value)) {
    if (value.isInteger()) return value.convert<std::string>();
    const double number = value.convert<double>();
    if (std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 1e15) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.0f", number);
      return buffer;
    }
    return value.convert<std::string>();
  }
  return ToJson(value);
}

Var NumberValue(double number) {
  if (std::isfinite(number) && std::floor(number) == number && std::fabs(number) < 9.0e15) {
    return Var(static_cast<Poco::Int64>(number));
  }
  return Var(number);
}

std::optional<std::string> IdAt(const Var& root, const std::string& pointer) {
  const std::optional<Var> value = ResolvePointer(root, pointer);
  if (!value || !(IsString(*value) || IsNumber(*value))) return std::nullopt;
  const std::string text = ValueText(*value);
  if (text.empty()) return std::nullopt;
  return text;
}

std::string PointerJoin(const std::string& pointer, const std::string& key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool IsValidPointer(const std::string& pointer) {
  if (pointer.empty()) return true;
  if (pointer[0] != '/') return false;
  for (size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' &&
        (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) {
      return false;
    }
  }
  return true;
}

std::optional<Var> ResolvePointer(const Var& root, const std::string& pointer) {
  if (!IsValidPointer(pointer)) return std::nullopt;
  if (pointer.empty()) return Some(root);
  Var current = root;
  for (const std::string& token : PointerTokens(pointer)) {
    if (IsObject(current)) {
      JsonObject object = current.extract<JsonObject>();
      if (!object->has(token)) return std::nullopt;
      current = object->get(token);
    } else if (IsArray(current)) {
      JsonArray array = current.extract<JsonArray>();
      size_t index = 0;
      if (!ParseIndex(token, &index) || index >= array->size()) return std::nullopt;
      current = array->get(static_cast<unsigned int>(index));
    } else {
      return std::nullopt;
    }
  }
  return Some(current);
}

bool SetPointer(const JsonObject& root, const std::string& pointer, const Var& value) {
  if (pointer.empty() || !IsValidPointer(pointer)) return false;
  const std::vector<std::string> tokens = PointerTokens(pointer);
  JsonObject current = root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (!current->has(tokens[i]) || current->isNull(tokens[i])) {
      JsonObject child = NewObject();
      current->set(tokens[i], child);
      current = child;
      continue;
    }
    const Var next = current->get(tokens[i]);
    if (!IsObject(next)) return false;
    current = next.extract<JsonObject>();
  }
  current->set(tokens.back(), value);
  return true;
}

}  // namespace crmsync::genericrest
