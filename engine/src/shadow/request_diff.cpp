// The request diff of shadow mode; see request_diff.h.
#include "shadow/request_diff.h"

#include <algorithm>
#include <set>
#include <sstream>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

namespace crmsync::engine {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

bool IsObject(const Var& v) { return v.type() == typeid(Object::Ptr); }
bool IsArray(const Var& v) { return v.type() == typeid(Array::Ptr); }

std::string Compact(const Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

bool Parse(const std::string& text, Var* out) {
  try {
    *out = Poco::JSON::Parser().parse(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

class Differ {
 public:
  Differ(const RequestMask& mask, std::vector<BodyDifference>* out) : mask_(mask), out_(out) {}

  void Compare(const std::string& at, const Var& live, const Var& shadow) {
    if (IsObject(live) && IsObject(shadow)) {
      const Object::Ptr a = live.extract<Object::Ptr>();
      const Object::Ptr b = shadow.extract<Object::Ptr>();
      std::set<std::string> names;
      for (const auto& [name, value] : *a) names.insert(name);
      for (const auto& [name, value] : *b) names.insert(name);
      for (const std::string& name : names) {
        const std::string inner = at + "/" + EscapePointerToken(name);
        if (!b->has(name)) {
          Add(inner, BodyChange::kRemoved, a->get(name), {});
        } else if (!a->has(name)) {
          Add(inner, BodyChange::kAdded, {}, b->get(name));
        } else {
          Compare(inner, a->get(name), b->get(name));
        }
      }
      return;
    }
    if (IsArray(live) && IsArray(shadow)) {
      const Array::Ptr a = live.extract<Array::Ptr>();
      const Array::Ptr b = shadow.extract<Array::Ptr>();
      const size_t n = std::max(a->size(), b->size());
      for (size_t i = 0; i < n; ++i) {
        const std::string inner = at + "/" + std::to_string(i);
        const auto index = static_cast<unsigned>(i);
        if (i >= b->size()) {
          Add(inner, BodyChange::kRemoved, a->get(index), {});
        } else if (i >= a->size()) {
          Add(inner, BodyChange::kAdded, {}, b->get(index));
        } else {
          Compare(inner, a->get(index), b->get(index));
        }
      }
      return;
    }
    // Scalars, or a change of type: equal when their JSON is.
    if (Compact(live) != Compact(shadow)) Add(at, BodyChange::kChanged, live, shadow);
  }

 private:
  void Add(const std::string& at, BodyChange change, const Var& live, const Var& shadow) {
    BodyDifference d;
    d.pointer = at;
    d.change = change;
    if (change != BodyChange::kAdded) d.live = mask_.Text(Compact(live));
    if (change != BodyChange::kRemoved) d.shadow = mask_.Text(Compact(shadow));
    out_->push_back(std::move(d));
  }

  const RequestMask& mask_;
  std::vector<BodyDifference>* out_;
};

}  // namespace

const char* BodyChangeName(BodyChange change) {
  switch (change) {
    case BodyChange::kAdded: return "added";
    case BodyChange::kRemoved: return "removed";
    case BodyChange::kChanged: return "changed";
  }
  return "changed";
}

std::string EscapePointerToken(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<BodyDifference> DiffBodies(const std::string& live, const std::string& shadow,
                                       const RequestMask& mask) {
  std::vector<BodyDifference> out;
  if (live == shadow) return out;
  Var a;
  Var b;
  if (!live.empty() && !shadow.empty() && Parse(live, &a) && Parse(shadow, &b)) {
    Differ(mask, &out).Compare("", a, b);
    return out;
  }
  BodyDifference d;
  d.change = live.empty() ? BodyChange::kAdded
                          : (shadow.empty() ? BodyChange::kRemoved : BodyChange::kChanged);
  d.live = mask.Text(live);
  d.shadow = mask.Text(shadow);
  out.push_back(std::move(d));
  return out;
}

RequestDifference DiffRequests(const HttpRequest& live, const HttpRequest& shadow,
                               const RequestMask& mask) {
  RequestDifference d;
  d.method = live.method != shadow.method;
  d.path = live.path != shadow.path;
  d.body = DiffBodies(live.body, shadow.body, mask);
  return d;
}

}  // namespace crmsync::engine
