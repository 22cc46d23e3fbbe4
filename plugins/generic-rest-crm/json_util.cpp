// JSON helpers of the generic-rest-crm plugin; see json_util.h.
#include "json_util.h"

#include <algorithm>
#include <cctype>
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

const char* JsonTypeName(const Var& value) {
  if (IsNull(value)) return "null";
  if (IsObject(value)) return "an object";
  if (IsArray(value)) return "an array";
  if (IsString(value)) return "a string";
  if (IsBool(value)) return "a boolean";
  if (IsNumber(value)) return "a number";
  return "an unknown value";
}

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

namespace crmsync::genericrest {
namespace {

// A recursive-descent reader of RFC 8259 that only checks, and stops at the
// first place the text is not JSON with a reason a person can act on.
class SyntaxScanner {
 public:
  explicit SyntaxScanner(const std::string& text) : text_(text) {}

  // True when an error was found (then *out is filled).
  bool Run(JsonSyntaxError* out) {
    error_ = out;
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) {
      return Fail(0, "the file starts with a byte order mark (BOM); save it as UTF-8 without one");
    }
    SkipSpace();
    if (AtEnd()) return Fail(pos_, "the file is empty; a mapping is a JSON object");
    if (Value("", 0)) return true;
    SkipSpace();
    if (!AtEnd()) return Fail(pos_, "more text after the end of the JSON value: " + Found());
    return false;
  }

 private:
  static constexpr int kMaxDepth = 512;

  bool AtEnd() const { return pos_ >= text_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(text_[pos_]); }

  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++pos_;
    }
  }

  // Fills the error; always returns true ("an error was found").
  bool Fail(size_t offset, const std::string& reason) {
    error_->offset = offset;
    error_->reason = reason;
    error_->pointer = pointer_;
    LineAndColumn(text_, offset, &error_->line, &error_->column);
    return true;
  }

  // What is at pos_, for "found ...".
  std::string Found() const {
    if (AtEnd()) return "the end of the file";
    const unsigned char c = Peek();
    if (c >= 0x20 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    if (c >= 0xc0) {  // a UTF-8 sequence: show the character itself
      size_t end = pos_ + 1;
      while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xc0) == 0x80) ++end;
      return "'" + text_.substr(pos_, end - pos_) + "'";
    }
    static const char kHex[] = "0123456789abcdef";
    return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
  }

  std::string Where(size_t offset) const {
    size_t line = 1;
    size_t column = 1;
    LineAndColumn(text_, offset, &line, &column);
    return "line " + std::to_string(line) + ", column " + std::to_string(column);
  }

  // Each returns true when an error was found.
  bool Value(const std::string& pointer, int depth) {
    pointer_ = pointer;
    if (depth > kMaxDepth) return Fail(pos_, "nested more than 512 levels deep");
    if (AtEnd()) return Fail(pos_, "the file ends where a value was expected");
    const unsigned char c = Peek();
    if (c == '{') return Object(pointer, depth);
    if (c == '[') return Array(pointer, depth);
    if (c == '"') return String(nullptr);
    if (c == '-' || (c >= '0' && c <= '9')) return Number();
    if (std::isalpha(c)) return Word();
    if (c == '\'') return Fail(pos_, "strings need double quotes (\"), not single quotes");
    if (c == '/') return Fail(pos_, "comments are not allowed in JSON");
    return Fail(pos_,
                "expected a value (a string, number, object, array, true, false or null), found " +
                    Found());
  }

  bool Object(const std::string& pointer, int depth) {
    const size_t open = pos_++;
    SkipSpace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return false;
    }
    size_t comma = std::string::npos;
    while (true) {
      SkipSpace();
      pointer_ = pointer;
      if (AtEnd()) {
        return Fail(pos_, "the file ends inside the object opened at " + Where(open) +
                              " (a '}' is missing)");
      }
      if (Peek() == '}' && comma != std::string::npos) {
        return Fail(comma, "a comma before '}' is not allowed in JSON (trailing comma)");
      }
      if (Peek() == '\'') return Fail(pos_, "keys need double quotes (\"), not single quotes");
      if (Peek() == '/') return Fail(pos_, "comments are not allowed in JSON");
      if (Peek() != '"') {
        return Fail(pos_, "expected a key in double quotes, found " + Found());
      }
      std::string key;
      if (String(&key)) return true;
      SkipSpace();
      if (AtEnd() || Peek() != ':') {
        return Fail(pos_, "expected ':' after the key \"" + key + "\", found " + Found());
      }
      ++pos_;
      SkipSpace();
      if (Value(PointerJoin(pointer, key), depth + 1)) return true;
      pointer_ = pointer;
      SkipSpace();
      if (AtEnd()) {
        return Fail(pos_, "the file ends inside the object opened at " + Where(open) +
                              " (a '}' is missing)");
      }
      if (Peek() == '}') {
        ++pos_;
        return false;
      }
      if (Peek() != ',') {
        return Fail(pos_, "expected ',' or '}' after the value of \"" + key + "\", found " +
                              Found() + (Peek() == '"' ? " (a comma missing?)" : ""));
      }
      comma = pos_++;
    }
  }

  bool Array(const std::string& pointer, int depth) {
    const size_t open = pos_++;
    SkipSpace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return false;
    }
    size_t comma = std::string::npos;
    for (size_t index = 0;; ++index) {
      SkipSpace();
      pointer_ = pointer;
      if (!AtEnd() && Peek() == ']' && comma != std::string::npos) {
        return Fail(comma, "a comma before ']' is not allowed in JSON (trailing comma)");
      }
      if (AtEnd()) {
        return Fail(pos_, "the file ends inside the array opened at " + Where(open) +
                              " (a ']' is missing)");
      }
      if (Value(pointer + "/" + std::to_string(index), depth + 1)) return true;
      pointer_ = pointer;
      SkipSpace();
      if (AtEnd()) {
        return Fail(pos_, "the file ends inside the array opened at " + Where(open) +
                              " (a ']' is missing)");
      }
      if (Peek() == ']') {
        ++pos_;
        return false;
      }
      if (Peek() != ',') {
        return Fail(pos_, "expected ',' or ']' after an array element, found " + Found());
      }
      comma = pos_++;
    }
  }

  // Reads a string at pos_ (its raw text into *key when given).
  bool String(std::string* key) {
    const size_t open = pos_++;
    while (true) {
      if (AtEnd()) return Fail(open, "the string opened here is never closed (a '\"' is missing)");
      const unsigned char c = Peek();
      if (c == '"') {
        if (key != nullptr) *key = text_.substr(open + 1, pos_ - open - 1);
        ++pos_;
        return false;
      }
      if (c == '\n' || c == '\r') {
        return Fail(pos_,
                    "the string opened at " + Where(open) +
                        " is not closed before the end of the line (a '\"' is missing?); a line "
                        "break inside a string is written \\n");
      }
      if (c < 0x20) return Fail(pos_, "a control character (" + Found() + ") inside a string");
      if (c == '\\') {
        const size_t escape = pos_++;
        if (AtEnd()) {
          return Fail(open, "the string opened here is never closed (a '\"' is missing)");
        }
        const char e = static_cast<char>(Peek());
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i) {
            if (pos_ + i >= text_.size() ||
                !std::isxdigit(static_cast<unsigned char>(text_[pos_ + i]))) {
              return Fail(escape, "\\u must be followed by four hex digits");
            }
          }
          pos_ += 4;
        } else if (std::string("\"\\/bfnrt").find(e) == std::string::npos) {
          return Fail(escape,
                      "invalid escape \\" + std::string(1, e) +
                          " in a string (JSON has \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
      }
      ++pos_;
    }
  }

  bool Number() {
    const size_t start = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (!AtEnd() && std::isdigit(Peek())) {
        ++pos_;
        ++n;
      }
      return n;
    };
    if (Peek() == '-') ++pos_;
    if (AtEnd() || !std::isdigit(Peek())) {
      return Fail(start, "invalid number: '-' needs a digit after it");
    }
    if (Peek() == '0' && pos_ + 1 < text_.size() &&
        std::isdigit(static_cast<unsigned char>(text_[pos_ + 1]))) {
      return Fail(start, "invalid number: no leading zeros in JSON (write it as a string?)");
    }
    digits();
    if (!AtEnd() && Peek() == '.') {
      ++pos_;
      if (digits() == 0) return Fail(start, "invalid number: '.' needs a digit after it");
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (digits() == 0) return Fail(start, "invalid number: the exponent needs a digit");
    }
    return false;
  }

  // true, false, null; any other bare word is an error.
  bool Word() {
    const size_t start = pos_;
    while (!AtEnd() && (std::isalnum(Peek()) || Peek() == '_')) ++pos_;
    const std::string word = text_.substr(start, pos_ - start);
    if (word == "true" || word == "false" || word == "null") return false;
    return Fail(start, "unknown word '" + word +
                           "' (JSON has true, false and null; text needs double quotes)");
  }

  const std::string& text_;
  size_t pos_ = 0;
  std::string pointer_;
  JsonSyntaxError* error_ = nullptr;
};

}  // namespace

bool FindJsonSyntaxError(const std::string& text, JsonSyntaxError* out) {
  return SyntaxScanner(text).Run(out);
}

void LineAndColumn(const std::string& text, size_t offset, size_t* line, size_t* column) {
  *line = 1;
  *column = 1;
  const size_t end = std::min(offset, text.size());
  for (size_t i = 0; i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++*line;
      *column = 1;
    } else if ((c & 0xc0) != 0x80) {  // not a UTF-8 continuation byte
      ++*column;
    }
  }
}

}  // namespace crmsync::genericrest
