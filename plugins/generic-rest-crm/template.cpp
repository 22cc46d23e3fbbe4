// Rendering and checking mapping-file templates; see template.h.
#include "template.h"

#include <cctype>
#include <cstdio>
#include <set>

#include "suggest.h"

namespace crmsync::genericrest {
namespace {

constexpr char kConst[] = "$const";
constexpr char kFrom[] = "$from";
constexpr char kTransform[] = "$transform";
constexpr char kDefault[] = "$default";
constexpr char kKeepEmpty[] = "$keepEmpty";
constexpr char kElse[] = "$else";

// A body key written with "$$" is the CRM's own key with one "$" fewer
// ("$$se_module" writes Zoho's "$se_module"): a single "$" starts a template
// key ($const, $from), so a CRM key that begins with "$" needs the escape.
std::string OutputKey(const std::string& name) {
  return name.compare(0, 2, "$$") == 0 ? name.substr(1) : name;
}

std::string Trim(const std::string& text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return text.substr(begin, end - begin);
}

bool IsVariableName(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') return false;
  }
  return name.find("..") == std::string::npos;
}

// The variable of a string that is exactly one "{{name}}", else "".
std::string SoleVariable(const std::string& text) {
  if (text.size() < 5 || text.compare(0, 2, "{{") != 0) return "";
  if (text.find("}}") != text.size() - 2 || text.find("{{", 2) != std::string::npos) return "";
  return Trim(text.substr(2, text.size() - 4));
}

// The inside of "{{name | t1 | t2}}" in a JSON template's string: the variable
// and the transforms applied to it, in order ("" entries are kept, so the
// checker can name them).
std::string SplitPipes(const std::string& inside, std::vector<std::string>* transforms) {
  size_t bar = inside.find('|');
  const std::string name = Trim(inside.substr(0, bar));
  while (bar != std::string::npos) {
    const size_t next = inside.find('|', bar + 1);
    transforms->push_back(
        Trim(inside.substr(bar + 1, next == std::string::npos ? std::string::npos : next - bar - 1)));
    bar = next;
  }
  return name;
}

// $from names a variable, bare or in braces.
std::string FromName(const std::string& from) {
  const std::string sole = SoleVariable(from);
  return sole.empty() ? Trim(from) : sole;
}

// Text of a value for interpolation: arrays joined with ",".
std::string TextOf(const Var& value) {
  if (IsArray(value)) {
    JsonArray array = value.extract<JsonArray>();
    std::string text;
    for (unsigned int i = 0; i < array->size(); ++i) {
      if (i > 0) text += ",";
      text += ValueText(array->get(i));
    }
    return text;
  }
  return ValueText(value);
}

Var Lookup(const Context& context, const std::string& name) {
  auto it = context.find(name);
  return it == context.end() ? Var() : it->second;
}

std::vector<std::string> SplitDots(const std::string& key) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (true) {
    const size_t dot = key.find('.', pos);
    parts.push_back(key.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return parts;
}

// Stores value at path[i..] under object, merging objects that meet.
void PlaceAt(JsonObject object, const std::vector<std::string>& path, size_t i, const Var& value) {
  const std::string& key = path[i];
  const bool exists = object->has(key) && IsObject(object->get(key));
  if (i + 1 == path.size()) {
    if (exists && IsObject(value)) {
      JsonObject target = object->get(key).extract<JsonObject>();
      JsonObject source = value.extract<JsonObject>();
      for (const std::string& name : source->getNames()) {
        PlaceAt(target, {name}, 0, source->get(name));
      }
    } else {
      object->set(key, value);
    }
    return;
  }
  JsonObject child;
  if (exists) {
    child = object->get(key).extract<JsonObject>();
  } else {
    child = NewObject();
    object->set(key, child);
  }
  PlaceAt(child, path, i + 1, value);
}

std::vector<std::string> TransformList(const Var& spec) {
  std::vector<std::string> list;
  if (IsString(spec)) {
    list.push_back(spec.extract<std::string>());
  } else if (IsArray(spec)) {
    JsonArray array = spec.extract<JsonArray>();
    for (unsigned int i = 0; i < array->size(); ++i) list.push_back(ValueText(array->get(i)));
  }
  return list;
}

// `tmpl` with each "{{...}}" replaced by what `render` makes of its inside;
// text after an unclosed "{{" is kept as written. Stops at render's failure.
Status Interpolate(const std::string& tmpl,
                   const std::function<Status(const std::string&, std::string*)>& render,
                   std::string* out) {
  size_t pos = 0;
  while (pos < tmpl.size()) {
    const size_t open = tmpl.find("{{", pos);
    const size_t close = open == std::string::npos ? open : tmpl.find("}}", open + 2);
    if (open == std::string::npos || close == std::string::npos) {
      *out += tmpl.substr(pos);
      break;
    }
    *out += tmpl.substr(pos, open - pos);
    std::string piece;
    Status status = render(tmpl.substr(open + 2, close - open - 2), &piece);
    if (!status.ok()) return status;
    *out += piece;
    pos = close + 2;
  }
  return Status::Ok();
}

// The variable `name` with `transforms` applied (a copy: the context is shared).
Status PipedValue(const std::string& name, const std::vector<std::string>& transforms,
                  const Context& context, const TransformTables& tables, Var* out) {
  *out = DeepCopy(Lookup(context, name));
  if (transforms.empty()) return Status::Ok();
  return ApplyTransforms(transforms, tables, name, out);
}

Status RenderSpec(const JsonObject& spec, const Context& context, const TransformTables& tables,
                  std::optional<Var>* out) {
  std::string name = FromName(ValueText(spec->get(kFrom)));
  // $else: the variable read when $from's is missing (related.agent, else the
  // platform's assignedToId). A cleared $from is not missing: it clears.
  if (!IsCleared(context, name) && IsEmptyValue(Lookup(context, name)) && spec->has(kElse)) {
    name = FromName(ValueText(spec->get(kElse)));
  }
  if (IsCleared(context, name)) {
    *out = Some(Var());
    return Status::Ok();
  }
  Var value = DeepCopy(Lookup(context, name));
  if (spec->has(kTransform)) {
    Status status = ApplyTransforms(TransformList(spec->get(kTransform)), tables, name, &value);
    if (!status.ok()) return status;
  }
  if (IsEmptyValue(value) && spec->has(kDefault)) value = DeepCopy(spec->get(kDefault));
  if (IsEmptyValue(value)) {
    const bool keep = spec->has(kKeepEmpty) && IsBool(spec->get(kKeepEmpty)) &&
                      spec->get(kKeepEmpty).extract<bool>();
    *out = keep ? Some(Var()) : std::nullopt;
    return Status::Ok();
  }
  *out = Some(value);
  return Status::Ok();
}

void CheckVariable(const std::string& name, const std::string& pointer, const TemplateRules& rules,
                   ErrorList* errors) {
  if (!IsVariableName(name)) {
    errors->emplace_back(pointer, "'" + name + "' is not a variable name");
  } else if (rules.known_variable && !rules.known_variable(name)) {
    errors->emplace_back(pointer,
                         "unknown variable '" + name + "'" + DidYouMean(name, rules.variables));
  }
}

}  // namespace

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char escaped[4];
      std::snprintf(escaped, sizeof(escaped), "%%%02X", c);
      out += escaped;
    }
  }
  return out;
}

std::vector<std::string> TemplateVariables(const std::string& tmpl) {
  std::vector<std::string> names;
  size_t pos = 0;
  while ((pos = tmpl.find('{', pos)) != std::string::npos) {
    const bool doubled = tmpl.compare(pos, 2, "{{") == 0;
    const size_t start = pos + (doubled ? 2 : 1);
    const size_t end = tmpl.find(doubled ? "}}" : "}", start);
    if (end == std::string::npos) break;
    names.push_back(Trim(tmpl.substr(start, end - start)));
    pos = end + (doubled ? 2 : 1);
  }
  return names;
}

// Cleared variables are kept under a key no template can name.
constexpr char kClearedPrefix[] = "\x01cleared:";

void MarkCleared(Context* context, const std::string& name) {
  (*context)[kClearedPrefix + name] = Var(true);
}

bool IsCleared(const Context& context, const std::string& name) {
  return context.count(kClearedPrefix + name) != 0;
}

std::string RenderText(const std::string& tmpl, const Context& context) {
  std::string out;
  Interpolate(
      tmpl,
      [&](const std::string& inside, std::string* text) {
        *text = TextOf(Lookup(context, Trim(inside)));
        return Status::Ok();
      },
      &out);
  return out;
}

Status RenderPath(const std::string& tmpl, const Context& context, std::string* out) {
  std::string path;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    const size_t open = tmpl.find('{', pos);
    if (open == std::string::npos) {
      path += tmpl.substr(pos);
      break;
    }
    const bool doubled = tmpl.compare(open, 2, "{{") == 0;
    const size_t start = open + (doubled ? 2 : 1);
    const size_t close = tmpl.find(doubled ? "}}" : "}", start);
    if (close == std::string::npos) {
      path += tmpl.substr(pos);
      break;
    }
    path += tmpl.substr(pos, open - pos);
    const std::string name = Trim(tmpl.substr(start, close - start));
    const Var value = Lookup(context, name);
    if (IsEmptyValue(value)) {
      return Status::Permanent("path variable '" + name + "' has no value");
    }
    path += UrlEncode(TextOf(value));
    pos = close + (doubled ? 2 : 1);
  }
  *out = path;
  return Status::Ok();
}

Status RenderJson(const Var& tmpl, const Context& context, const TransformTables& tables,
                  std::optional<Var>* out) {
  if (IsString(tmpl)) {
    const std::string text = tmpl.extract<std::string>();
    const std::string sole = SoleVariable(text);
    if (!sole.empty()) {
      std::vector<std::string> transforms;
      const std::string name = SplitPipes(sole, &transforms);
      Var value;
      Status status = PipedValue(name, transforms, context, tables, &value);
      if (!status.ok()) return status;
      if (IsCleared(context, name)) {
        *out = Some(Var());
      } else {
        *out = IsEmptyValue(value) ? std::nullopt : Some(value);
      }
    } else if (text.find("{{") != std::string::npos) {
      // Interpolation, each "{{name | transforms}}" rendered as text.
      std::string rendered;
      Status status = Interpolate(
          text,
          [&](const std::string& inside, std::string* piece) {
            std::vector<std::string> transforms;
            const std::string name = SplitPipes(inside, &transforms);
            Var value;
            Status piped = PipedValue(name, transforms, context, tables, &value);
            *piece = TextOf(value);
            return piped;
          },
          &rendered);
      if (!status.ok()) return status;
      *out = Some(Var(rendered));
    } else {
      *out = Some(tmpl);
    }
    return Status::Ok();
  }
  if (IsArray(tmpl)) {
    JsonArray in = tmpl.extract<JsonArray>();
    JsonArray rendered = NewArray();
    for (unsigned int i = 0; i < in->size(); ++i) {
      std::optional<Var> element;
      Status status = RenderJson(in->get(i), context, tables, &element);
      if (!status.ok()) return status;
      if (element) rendered->add(*element);
    }
    *out = (in->size() > 0 && rendered->size() == 0) ? std::nullopt : Some(Var(rendered));
    return Status::Ok();
  }
  if (IsObject(tmpl)) {
    JsonObject in = tmpl.extract<JsonObject>();
    if (in->has(kConst)) {
      *out = Some(DeepCopy(in->get(kConst)));
      return Status::Ok();
    }
    if (in->has(kFrom)) return RenderSpec(in, context, tables, out);
    JsonObject rendered = NewObject();
    const std::vector<std::string> names = in->getNames();
    for (const std::string& name : names) {
      std::optional<Var> member;
      Status status = RenderJson(in->get(name), context, tables, &member);
      if (!status.ok()) return status;
      if (member) PlaceAt(rendered, SplitDots(OutputKey(name)), 0, *member);
    }
    *out = (!names.empty() && rendered->size() == 0) ? std::nullopt : Some(Var(rendered));
    return Status::Ok();
  }
  *out = Some(tmpl);  // numbers, booleans, null: constants.
  return Status::Ok();
}

Status RenderValueText(const Var& tmpl, const Context& context, const TransformTables& tables,
                       std::optional<std::string>* out) {
  std::optional<Var> value;
  Status status = RenderJson(tmpl, context, tables, &value);
  if (!status.ok()) return status;
  *out = value ? std::optional<std::string>(TextOf(*value)) : std::nullopt;
  return Status::Ok();
}

namespace {

// Checks each "{{...}}" of `tmpl`: a variable, and with `pipes` the transforms
// after it ({{name | soqlString}}, JSON templates only).
void CheckInterpolation(const std::string& tmpl, const std::string& pointer,
                        const TemplateRules& rules, bool pipes, ErrorList* errors) {
  size_t pos = 0;
  while ((pos = tmpl.find("{{", pos)) != std::string::npos) {
    const size_t close = tmpl.find("}}", pos + 2);
    if (close == std::string::npos) {
      errors->emplace_back(pointer, "'{{' without a closing '}}'");
      return;
    }
    const std::string inside = tmpl.substr(pos + 2, close - pos - 2);
    std::vector<std::string> transforms;
    CheckVariable(pipes ? SplitPipes(inside, &transforms) : Trim(inside), pointer, rules, errors);
    for (const std::string& transform : transforms) {
      const std::string reason = transform.empty() ? "an empty transform after '|'"
                                                   : CheckTransform(transform, rules.transforms);
      if (!reason.empty()) errors->emplace_back(pointer, reason);
    }
    pos = close + 2;
  }
}

}  // namespace

void CheckTextTemplate(const std::string& tmpl, const std::string& pointer,
                       const TemplateRules& rules, ErrorList* errors) {
  CheckInterpolation(tmpl, pointer, rules, false, errors);
}

void CheckPathTemplate(const std::string& tmpl, const std::string& pointer,
                       const TemplateRules& rules, ErrorList* errors) {
  if (tmpl.empty() || tmpl[0] != '/') {
    errors->emplace_back(pointer, "must start with '/'");
    return;
  }
  size_t pos = 0;
  while ((pos = tmpl.find('{', pos)) != std::string::npos) {
    const bool doubled = tmpl.compare(pos, 2, "{{") == 0;
    const size_t start = pos + (doubled ? 2 : 1);
    const size_t close = tmpl.find(doubled ? "}}" : "}", start);
    if (close == std::string::npos) {
      errors->emplace_back(pointer, "'{' without a closing '}'");
      return;
    }
    CheckVariable(Trim(tmpl.substr(start, close - start)), pointer, rules, errors);
    pos = close + (doubled ? 2 : 1);
  }
}

void CheckJsonTemplate(const Var& tmpl, const std::string& pointer, const TemplateRules& rules,
                       ErrorList* errors) {
  if (IsString(tmpl)) {
    // Like a text template, with transforms after the name: {{name | soqlString}}.
    CheckInterpolation(tmpl.extract<std::string>(), pointer, rules, true, errors);
    return;
  }
  if (IsArray(tmpl)) {
    JsonArray array = tmpl.extract<JsonArray>();
    for (unsigned int i = 0; i < array->size(); ++i) {
      CheckJsonTemplate(array->get(i), pointer + "/" + std::to_string(i), rules, errors);
    }
    return;
  }
  if (!IsObject(tmpl)) return;
  JsonObject object = tmpl.extract<JsonObject>();
  const std::vector<std::string> names = object->getNames();
  if (object->has(kConst)) {
    for (const std::string& name : names) {
      if (name != kConst)
        errors->emplace_back(PointerJoin(pointer, name), "not allowed beside $const");
    }
    return;
  }
  if (object->has(kFrom)) {
    for (const std::string& name : names) {
      const std::string at = PointerJoin(pointer, name);
      if (name == kFrom || name == kElse) {
        if (!IsString(object->get(name))) {
          errors->emplace_back(at, "must be a variable name (a string)");
        } else {
          CheckVariable(FromName(object->get(name).extract<std::string>()), at, rules, errors);
        }
      } else if (name == kTransform) {
        const Var spec = object->get(name);
        if (!IsString(spec) && !IsArray(spec)) {
          errors->emplace_back(at, "must be a transform or an array of transforms");
          continue;
        }
        if (IsArray(spec)) {
          JsonArray array = spec.extract<JsonArray>();
          for (unsigned int i = 0; i < array->size(); ++i) {
            if (!IsString(array->get(i))) {
              errors->emplace_back(at + "/" + std::to_string(i), "must be a string");
            }
          }
        }
        const std::vector<std::string> list = TransformList(spec);
        for (size_t i = 0; i < list.size(); ++i) {
          const std::string reason = CheckTransform(list[i], rules.transforms);
          if (!reason.empty()) {
            errors->emplace_back(IsArray(spec) ? at + "/" + std::to_string(i) : at, reason);
          }
        }
      } else if (name == kKeepEmpty) {
        if (!IsBool(object->get(name))) errors->emplace_back(at, "must be true or false");
      } else if (name != kDefault) {
        errors->emplace_back(
            at, "unknown key" +
                    DidYouMean(name, {kFrom, kElse, kTransform, kDefault, kKeepEmpty}) +
                    " (a transform spec has $from, $else, $transform, $default, $keepEmpty)");
      }
    }
    return;
  }
  // A plain object: members are templates; dotted keys are nested paths.
  std::set<std::string> leaves;    // paths holding a non-object template
  std::set<std::string> branches;  // paths that other keys nest under
  for (const std::string& written : names) {
    const std::string at = PointerJoin(pointer, written);
    if (!written.empty() && written[0] == '$' && written.compare(0, 2, "$$") != 0) {
      errors->emplace_back(at, "unknown template key" + DidYouMean(written, {kConst, kFrom}) +
                                   " (expected $const or $from; write $" + written +
                                   " for a CRM key that begins with $)");
      continue;
    }
    const std::string name = OutputKey(written);
    const std::vector<std::string> parts = SplitDots(name);
    bool bad = false;
    for (const std::string& part : parts) bad = bad || part.empty();
    if (bad) {
      errors->emplace_back(at, "a dotted key needs a name between its dots");
      continue;
    }
    std::string prefix;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      prefix += (i == 0 ? "" : ".") + parts[i];
      if (leaves.count(prefix) != 0) {
        errors->emplace_back(at, "conflicts with the key '" + prefix + "'");
        bad = true;
      }
      branches.insert(prefix);
    }
    const Var member = object->get(written);
    const bool member_is_object = IsObject(member) && !member.extract<JsonObject>()->has(kConst) &&
                                  !member.extract<JsonObject>()->has(kFrom);
    if (!bad && !member_is_object) {
      if (branches.count(name) != 0)
        errors->emplace_back(at, "conflicts with a nested key under it");
      leaves.insert(name);
    }
    CheckJsonTemplate(member, at, rules, errors);
  }
}

}  // namespace crmsync::genericrest
